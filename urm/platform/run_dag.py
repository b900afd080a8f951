"""Run one DAG file through Airflow's local runner and exit non-zero when the run failed.

`python dags/x.py` (the DAG file's own main) runs `dag.test()` too, but always exits 0; the demo
needs the run's state, so it uses `python -m urm.platform.run_dag dags/x.py [JSON_CONF]`.
"""

from __future__ import annotations

import json
import runpy
import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 2
    from airflow.sdk import DAG

    namespace = runpy.run_path(argv[0], run_name="urm_run_dag")
    dags = [value for value in namespace.values() if isinstance(value, DAG)]
    if len(dags) != 1:
        print(f"{argv[0]}: expected one DAG, found {len(dags)}")
        return 2
    dag = dags[0]
    conf = json.loads(argv[1]) if len(argv) > 1 else None
    run = dag.test(run_conf=conf)
    state = str(getattr(run, "state", "unknown"))
    print(f"URM_DAG_RESULT dag_id={dag.dag_id} state={state}")
    return 0 if state.endswith("success") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
