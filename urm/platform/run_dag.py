"""Run DAG files through Airflow's local runner and exit non-zero when a run failed.

`python dags/x.py` (the DAG file's own main) runs `dag.test()` too, but always exits 0; the demo
needs the run's state, so it uses `python -m urm.platform.run_dag dags/x.py [JSON_CONF]`.

Several files run one after the other in this one process, each followed by its own JSON conf
when it has one: `python -m urm.platform.run_dag dags/a.py dags/b.py '{"k": 1}' dags/c.py`. That
is how a scheduler's long-lived worker runs a day's DAGs: Airflow is imported and its in-process
execution API started once, not once per DAG. The runs stop at the first that fails. Each run
prints `URM_DAG_RESULT dag_id=... state=... seconds=...` (seconds: that DAG's run alone).
"""

from __future__ import annotations

import json
import runpy
import sys
import time


def dag_runs(argv: list[str]) -> list[tuple[str, dict | None]]:
    """(DAG file, conf) pairs from the arguments: a file, optionally followed by its JSON conf."""
    runs: list[tuple[str, dict | None]] = []
    for arg in argv:
        if arg.lstrip().startswith("{"):
            if not runs or runs[-1][1] is not None:
                raise ValueError(f"a JSON conf must follow a DAG file: {arg}")
            runs[-1] = (runs[-1][0], json.loads(arg))
        else:
            runs.append((arg, None))
    return runs


def run_one(path: str, conf: dict | None) -> bool:
    from airflow.sdk import DAG

    namespace = runpy.run_path(path, run_name="urm_run_dag")
    dags = [value for value in namespace.values() if isinstance(value, DAG)]
    if len(dags) != 1:
        print(f"{path}: expected one DAG, found {len(dags)}")
        return False
    dag = dags[0]
    started = time.perf_counter()
    run = dag.test(run_conf=conf)
    seconds = time.perf_counter() - started
    state = str(getattr(run, "state", "unknown"))
    print(f"URM_DAG_RESULT dag_id={dag.dag_id} state={state} seconds={seconds:.3f}", flush=True)
    return state.endswith("success")


def start_airflow() -> None:
    """Start what every run of this process shares before the first one: Airflow's in-process
    execution API (built once per process, on the first task otherwise), so that a DAG's seconds
    are its own run's. Building the app is not all of it: its transport's lifespan and the first
    request (the versioned routes are made then) took 7 s more on the first task of the day."""
    try:
        import httpx
        from airflow.sdk.execution_time.supervisor import in_process_api_server

        api = in_process_api_server()  # cached: the one every task of this process uses
        with httpx.Client(transport=api.transport, base_url="http://in-process.invalid./") as client:
            client.get("/health")
    except Exception:  # an Airflow without it builds the API on the first task instead
        pass


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 2
    try:
        runs = dag_runs(argv)
    except ValueError as error:
        print(error)
        return 2
    start_airflow()
    for path, conf in runs:
        if not run_one(path, conf):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
