"""A real scheduled run: Airflow's scheduler, dag-processor and api-server (LocalExecutor, metadata
in a database `airflow_test` on the embedded PostgreSQL) on a tiny synthetic university, in a
warehouse database of its own (`<test database>_scheduler`, migrated here): whatever ran before in
the session (the demo's university) is not in it.

Nothing here calls `dag.test()`: the ingest DAGs run because their schedules say so, the warehouse
DAG runs because their Asset events say so, and one more warehouse run is triggered through the
REST API (/api/v2, JWT from SimpleAuthManager). Then the marts and the run history are checked.
The warehouse DAG builds a dbt selection (+dim_user, URM_WAREHOUSE_SELECT) to stay within minutes,
as one `dbt build` task (URM_WAREHOUSE_TASKS=single, the demo's rendering; set
URM_SCHEDULER_TEST_TASKS=model to run Cosmos's task per model instead, several times slower).
Every process the test starts is stopped at the end, whatever happened.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.conftest import TEST_DATABASE, TEST_KEY
from urm.platform.settings import DAGS_DIR, PROJECT_ROOT

pytestmark = pytest.mark.e2e

AIRFLOW_DATABASE = "airflow_test"
WAREHOUSE_DATABASE = f"{TEST_DATABASE}_scheduler"
# "single": each warehouse build is one `dbt build` of the selection; "model": one Cosmos task per
# model (what a deployment renders by default), each paying a dbt start-up and a project parse.
WAREHOUSE_TASKS = os.environ.get("URM_SCHEDULER_TEST_TASKS", "single")
# Only the campus source and the warehouse: each Asset event costs a warehouse build, and this test
# must stay within minutes on a busy machine. (Every DAG's schedule is checked in test_dags.py.)
SCHEDULED_DAGS = ("ingest_campus", "build_warehouse")
SELECTION = "+dim_user"
BACKFILL_DAYS = 7  # a past week
TIMEOUT = 1200  # seconds for the whole chain: about five minutes alone, three times that on a busy machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _with_database(url: str, database: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)._replace(path=f"/{database}")
    if scheme:
        parts = parts._replace(scheme=scheme)
    return urlunsplit(parts)


def _airflow() -> str:
    return str(Path(sys.executable).with_name("airflow"))


class Api:
    """The Airflow REST API (v2) with a JWT from SimpleAuthManager's all-admins mode."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def login(self) -> None:
        self.token = self.call("GET", "/auth/token", auth=False)["access_token"]

    def runs(self, dag_id: str) -> list[dict]:
        try:
            return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=start_date")["dag_runs"]
        except urllib.error.HTTPError as err:
            if err.code == 404:  # not parsed yet
                return []
            raise


def _wait(what: str, check, deadline: float, processes: dict[str, subprocess.Popen], logs: Path):
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"airflow {name} exited ({process.returncode}) while waiting for {what}:\n{tail}")
        result = check()
        if result:
            return result
        time.sleep(5)
    tails = {n: (logs / f"{n}.log").read_text(errors="replace")[-1500:] for n in processes}
    pytest.fail(f"timed out waiting for {what}; log tails: {json.dumps(tails, indent=1)}")


def _tests_outside(model: str) -> list[str]:
    """Tests (relationships) between the model's lineage and models outside it: nothing to test
    when only the lineage is built."""
    from urm.platform.dbt import manifest_path

    manifest = json.loads(manifest_path().read_text())
    parents = manifest["parent_map"]
    [root] = [n for n in manifest["nodes"] if n.startswith("model.") and n.endswith(f".{model}")]
    lineage, todo = {root}, [root]
    while todo:
        for parent in parents.get(todo.pop(), []):
            if parent not in lineage:
                lineage.add(parent)
                todo.append(parent)
    outside = []
    for node_id, node in manifest["nodes"].items():
        models = {d for d in node.get("depends_on", {}).get("nodes", []) if d.startswith("model.")}
        if node_id.startswith("test.") and models & lineage and models - lineage:
            outside.append(node["name"])
    return sorted(outside)


def _task_log_tails(stack: dict, runs: list[dict]) -> str:
    """The end of every task log of the failed runs: the test's tmp folder may not outlive it."""
    tails = []
    for run in runs:
        folder = stack["airflow_home"] / "logs" / f"dag_id={run['dag_id']}" / f"run_id={run['dag_run_id']}"
        for log in sorted(folder.glob("**/*.log")):
            text = log.read_text(errors="replace")
            if "error" in text.lower():
                tails.append(f"--- {log.relative_to(folder)}\n{text[-2500:]}")
    return "\n".join(tails) or f"no task log under {stack['airflow_home']}"


def _marts_snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select * from marts.dim_user order by user_key").fetchall()


def _batches(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select batch_id, finished_at from raw.load_log order by 1").fetchall()


@contextmanager
def scheduler_warehouse(warehouse_url: str) -> Iterator[str]:
    """A fresh, migrated warehouse database for the scheduled run alone (the session's test
    database may hold the demo's university); dropped afterwards."""
    from ingest.run import connect
    from ingest.schema import migrate

    admin = _with_database(warehouse_url, "postgres")

    def recreate(*databases: str, create: bool = True) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            for database in databases:
                conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (database,)
                )
                conn.execute(f"drop database if exists {database}")
                if create:
                    conn.execute(f"create database {database}")

    recreate(WAREHOUSE_DATABASE, AIRFLOW_DATABASE)
    url = _with_database(warehouse_url, WAREHOUSE_DATABASE)
    with connect(url) as conn:
        migrate(conn)
    try:
        yield url
    finally:
        recreate(WAREHOUSE_DATABASE, AIRFLOW_DATABASE, create=False)


@pytest.fixture
def airflow_stack(warehouse_url: str, tmp_path: Path) -> Iterator[dict]:
    """Migrate `airflow_test`, start api-server, scheduler and dag-processor on a warehouse of the
    test's own; stop them after."""
    with scheduler_warehouse(warehouse_url) as url:
        yield from _airflow_stack(url, tmp_path)


def _airflow_stack(warehouse_url: str, tmp_path: Path) -> Iterator[dict]:
    from urm_demo.synth import generate

    from urm.platform.airflow_env import airflow_env
    from urm.platform.dbt import run_time_env

    landing = tmp_path / "landing"
    summary = generate(landing, users=40, days=3, seed=5)
    dags = tmp_path / "dags"  # only the DAGs whose sources the landing folder holds
    dags.mkdir()
    for dag_id in SCHEDULED_DAGS:
        (dags / f"{dag_id}.py").symlink_to(DAGS_DIR / f"{dag_id}.py")
    logs = tmp_path / "logs"
    logs.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        **airflow_env(),
        **run_time_env(warehouse_url),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _with_database(
            warehouse_url, AIRFLOW_DATABASE, scheme="postgresql+psycopg2"
        ),
        # asyncpg is not installed: psycopg 3 serves Airflow's async engine
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _with_database(
            warehouse_url, AIRFLOW_DATABASE, scheme="postgresql+psycopg"
        ),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "URM_WAREHOUSE_URL": warehouse_url,
        "URM_LANDING_DIR": str(landing),
        "URM_PSEUDONYM_KEY": TEST_KEY.decode(),
        "URM_WAREHOUSE_SELECT": SELECTION,
        "URM_WAREHOUSE_TASKS": WAREHOUSE_TASKS,
        "URM_WAREHOUSE_EXCLUDE": " ".join(_tests_outside(SELECTION.lstrip("+"))),
        "URM_ALERT_WEBHOOK": "",
        "URM_RETRY_DELAY_SECONDS": "5",
        "URM_RUN_DEADLINES": "1",  # the scheduler handles deadline alerts (dag.test() does not)
        # a busy 2-core machine answers the task API slowly: wait rather than fail the task
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    # Tasks run in parallel here (not one by one as in dag.test()): each dbt task keeps its target
    # and logs in Cosmos's own temporary copy of the project rather than one shared folder.
    for name in ("DBT_TARGET_PATH", "DBT_LOG_PATH"):
        env.pop(name, None)
    migrate = subprocess.run(
        [_airflow(), "db", "migrate"], env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]

    processes: dict[str, subprocess.Popen] = {}
    try:
        api = Api(f"http://127.0.0.1:{port}")
        for component in ("api-server", "scheduler", "dag-processor"):
            with open(logs / f"{component}.log", "w") as log:
                processes[component] = subprocess.Popen(
                    [_airflow(), component],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=tmp_path,
                    start_new_session=True,  # its own process group: stopped with its workers
                )
            if component == "api-server":  # tasks report to it: it must answer before any runs

                def api_up() -> bool:
                    try:
                        api.login()
                        return True
                    except OSError:
                        return False

                _wait("the api-server", api_up, time.monotonic() + 300, processes, logs)
        yield {
            "api": api,
            "airflow_home": tmp_path / "airflow",
            "processes": processes,
            "logs": logs,
            "summary": summary,
            "url": warehouse_url,
        }
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def test_schedules_asset_events_the_api_and_a_backfill_drive_the_dags(airflow_stack: dict) -> None:
    warehouse_url = airflow_stack["url"]
    api: Api = airflow_stack["api"]
    processes = airflow_stack["processes"]
    logs = airflow_stack["logs"]
    deadline = time.monotonic() + TIMEOUT

    def finished(dag_id: str, run_types: set[str], minimum: int = 1):
        def check():
            runs = [r for r in api.runs(dag_id) if r["run_type"] in run_types]
            failed = [r for r in runs if r["state"] == "failed"]
            assert not failed, f"{dag_id} run failed: {_task_log_tails(airflow_stack, failed)}"
            done = [r for r in runs if r["state"] == "success"]
            pending = [r for r in runs if r["state"] in ("queued", "running")]
            return done if len(done) >= minimum and not pending else None

        return check

    # The schedule: the ingest DAG runs its latest interval as soon as it is parsed.
    _wait(
        "a scheduled ingest_campus run", finished("ingest_campus", {"scheduled"}), deadline, processes, logs
    )

    # The Asset event: the warehouse DAG runs because the ingest DAG updated its Asset.
    builds = _wait(
        "an asset-triggered build_warehouse run",
        finished("build_warehouse", {"asset_triggered"}),
        deadline,
        processes,
        logs,
    )
    events = api.call("GET", "/api/v2/assets/events?order_by=timestamp")["asset_events"]
    uris = {e["uri"] for e in events}
    assert "urm://warehouse/raw/campus_people" in uris
    assert "urm://warehouse/marts" in uris, "publish_marts did not emit the marts Asset"
    summary = airflow_stack["summary"]
    people = getattr(summary, "counts", summary)["people"]
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select count(*) from marts.dim_user").fetchone()[0] == people
    daily = _marts_snapshot(warehouse_url)
    batches = _batches(warehouse_url)

    # The REST API: one manual run, and a backfill of past days (both go through /api/v2).
    manual = api.call("POST", "/api/v2/dags/ingest_campus/dagRuns", {"logical_date": None})
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    backfill = api.call(
        "POST",
        "/api/v2/backfills",
        {
            "dag_id": "ingest_campus",
            "from_date": (today - timedelta(days=BACKFILL_DAYS + 1)).isoformat(),
            "to_date": (today - timedelta(days=1)).isoformat(),
            "max_active_runs": BACKFILL_DAYS,
        },
    )

    def backfill_done():
        if not api.call("GET", f"/api/v2/backfills/{backfill['id']}").get("completed_at"):
            return None
        return finished("ingest_campus", {"backfill", "manual"}, minimum=2)()

    runs = _wait("the backfill and the manual run", backfill_done, deadline, processes, logs)
    assert manual["dag_run_id"] in {r["dag_run_id"] for r in runs}
    assert len([r for r in runs if r["run_type"] == "backfill"]) == BACKFILL_DAYS
    _wait(
        "the warehouse build after the backfill",
        finished("build_warehouse", {"asset_triggered"}, minimum=len(builds) + 1),
        deadline,
        processes,
        logs,
    )

    # The backfill loaded no file twice and gave the marts the scheduled run gave.
    assert _batches(warehouse_url) == batches, "the backfill loaded a file twice"
    assert _marts_snapshot(warehouse_url) == daily

    # The run history: every run succeeded, each kind of run is there.
    history = {dag_id: api.runs(dag_id) for dag_id in SCHEDULED_DAGS}
    assert all(r["state"] == "success" for runs in history.values() for r in runs), history
    assert {r["run_type"] for r in history["ingest_campus"]} == {"scheduled", "manual", "backfill"}
    assert {r["run_type"] for r in history["build_warehouse"]} == {"asset_triggered"}
