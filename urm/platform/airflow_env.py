"""Airflow settings for running the DAGs locally (embedded mode): SQLite metadata under .urm/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from urm.platform.settings import DAGS_DIR, PROJECT_ROOT, urm_home


def airflow_env() -> dict[str, str]:
    home = urm_home() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
        "AIRFLOW__COSMOS__CACHE_DIR": str(urm_home() / "cosmos"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "NO_COLOR": "1",
        # `dag.test()` fails on deadline alerts in Airflow 3.3: the local runs leave them out
        "URM_RUN_DEADLINES": "0",
    }
    return env


def _airflow() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def ensure_metadata_db(env: dict[str, str]) -> None:
    """`airflow db migrate` once: it is idempotent but takes seconds, so skip it when done."""
    marker = Path(env["AIRFLOW_HOME"]) / ".migrated"
    if marker.exists():
        return
    result = subprocess.run(
        [_airflow(), "db", "migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    marker.write_text("ok\n")


def run_dag_file(
    dag_file: Path, env: dict[str, str], log_file: Path, conf: dict | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one DAG through Airflow's local runner (`dag.test()`), output to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "urm.platform.run_dag", str(dag_file)]
    if conf:
        cmd.append(json.dumps(conf))
    with open(log_file, "w") as log:
        return subprocess.run(
            cmd,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            cwd=PROJECT_ROOT,
        )


def run_dag_files(
    runs: list[tuple[Path, dict | None]], env: dict[str, str], log_file: Path
) -> tuple[subprocess.CompletedProcess[str], list[tuple[str, str, float]]]:
    """Run several DAGs one after the other in one process (as a long-lived worker does: Airflow
    starts once), output to `log_file`; returns the process and each run's (dag_id, state,
    seconds), the runs stopping at the first failure."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "urm.platform.run_dag"]
    for dag_file, conf in runs:
        cmd.append(str(dag_file))
        if conf:
            cmd.append(json.dumps(conf))
    with open(log_file, "w") as log:
        process = subprocess.run(
            cmd,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            cwd=PROJECT_ROOT,
        )
    results = []
    for line in log_file.read_text(errors="replace").splitlines():
        if line.startswith("URM_DAG_RESULT "):
            fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
            results.append(
                (fields.get("dag_id", "?"), fields.get("state", "?"), float(fields.get("seconds", 0)))
            )
    return process, results
