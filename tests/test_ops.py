"""Operations: retries and alerts (against a local HTTP receiver), freshness against each source's
schedule, and `urm status` (table and --json)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import psycopg
import pytest
from typer.testing import CliRunner

from urm.steps import alerts
from urm.steps.freshness import SCHEDULES, SourceLate, check_freshness, compute_freshness

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A local webhook receiver: the URL to post to and the JSON bodies it received."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def _context(**extra) -> dict:
    ti = SimpleNamespace(
        dag_id="ingest_campus",
        task_id="load",
        run_id="scheduled__2026-03-09T16:00:00+00:00",
        try_number=4,
        log_url="http://airflow/log",
    )
    return {"task_instance": ti, "exception": ValueError("no campus files found"), **extra}


def test_default_args_retry_with_exponential_backoff_and_alert() -> None:
    args = alerts.default_args()
    assert args["retries"] >= 2
    assert args["retry_exponential_backoff"] is True
    assert args["max_retry_delay"] > args["retry_delay"]
    assert args["on_failure_callback"] is alerts.on_task_failure
    assert alerts.default_args(retries=1)["retries"] == 1


def test_a_failed_task_posts_an_alert_to_the_webhook(receiver, monkeypatch) -> None:
    url, received = receiver
    monkeypatch.setenv("URM_ALERT_WEBHOOK", url)
    monkeypatch.delenv("URM_ALERT_EMAIL", raising=False)
    alerts.on_task_failure(_context())
    [alert] = received
    assert alert["kind"] == "task_failed"
    assert alert["dag_id"] == "ingest_campus" and alert["task_id"] == "load"
    assert "no campus files found" in alert["error"]
    assert "clear the task" in alert["action"] and alert["text"].startswith("[library-urm]")


def test_retry_run_failure_and_deadline_alerts_reach_the_webhook(receiver, monkeypatch) -> None:
    import asyncio

    url, received = receiver
    monkeypatch.setenv("URM_ALERT_WEBHOOK", url)
    alerts.on_task_retry(_context())
    alerts.on_run_failure({"dag_run": SimpleNamespace(dag_id="build_warehouse", run_id="r1"), "reason": "x"})
    asyncio.run(alerts.on_run_late({"dag_run": SimpleNamespace(dag_id="build_warehouse", run_id="r2")}))
    assert [a["kind"] for a in received] == ["task_retry", "run_failed", "run_late"]
    assert received[2]["dag_id"] == "build_warehouse"


def test_the_deadline_alert_is_declared_for_airflow(monkeypatch) -> None:
    from airflow.sdk import DeadlineAlert

    monkeypatch.setenv("URM_RUN_DEADLINES", "1")  # the local runs' environment sets 0
    callbacks = alerts.run_callbacks(deadline=timedelta(hours=2))
    assert isinstance(callbacks["deadline"], DeadlineAlert)
    assert callbacks["on_failure_callback"] is alerts.on_run_failure
    monkeypatch.setenv("URM_RUN_DEADLINES", "0")
    assert "deadline" not in alerts.run_callbacks(deadline=timedelta(hours=2))


def test_an_unreachable_webhook_never_fails_the_task_and_email_goes_out(monkeypatch) -> None:
    sent: list[tuple[list[str], dict]] = []
    monkeypatch.setenv("URM_ALERT_WEBHOOK", "http://127.0.0.1:9/nothing-listens-here")
    monkeypatch.setenv("URM_ALERT_EMAIL", "ops@library.example, dba@library.example")
    monkeypatch.setattr(alerts, "_send_email", lambda to, payload: sent.append((to, payload)))
    payload = alerts.send_alert("source_late", "campus is late", {"source": "campus"})
    assert payload["kind"] == "source_late"
    [(to, body)] = sent
    assert to == ["ops@library.example", "dba@library.example"] and body["source"] == "campus"


# -- freshness and status ----------------------------------------------------------------------


def _load(conn: psycopg.Connection, source: str, finished_at: datetime, rows: int = 10, bad: int = 0) -> None:
    conn.execute(
        "insert into raw.load_log (batch_id, source, format, target_table, source_file, checksum, "
        "rows_loaded, rows_quarantined, started_at, finished_at, status) "
        "values (%s, %s, 'f', 't', 'file', %s, %s, %s, %s, %s, 'loaded')",
        (uuid.uuid4(), source, uuid.uuid4().hex, rows, bad, finished_at, finished_at),
    )


def test_every_source_has_a_schedule_and_the_schedules_fit_the_sources() -> None:
    from ingest.registry import sources

    assert set(sources()) <= set(SCHEDULES)
    assert SCHEDULES["circulation"].max_age < SCHEDULES["campus"].max_age < SCHEDULES["counter"].max_age


@pytest.mark.integration
def test_a_source_is_late_once_its_schedule_passes_without_data(conn, receiver, monkeypatch) -> None:
    url, received = receiver
    monkeypatch.setenv("URM_ALERT_WEBHOOK", url)
    _load(conn, "campus", NOW - timedelta(hours=20))
    _load(conn, "circulation", NOW - timedelta(hours=1), rows=5, bad=2)
    rows = {r["name"]: r for r in compute_freshness(conn, NOW) if r["kind"] == "source"}
    assert rows["campus"]["state"] == "fresh" and rows["circulation"]["state"] == "fresh"
    assert rows["ezproxy"]["state"] == "never_loaded" and not rows["ezproxy"]["is_late"]
    assert rows["circulation"]["rows_quarantined"] == 2

    # Four hours later no circulation file arrived: hourly, late after three hours.
    later = NOW + timedelta(hours=4)
    rows = {r["name"]: r for r in compute_freshness(conn, later) if r["kind"] == "source"}
    assert rows["circulation"]["is_late"] and rows["circulation"]["state"] == "late"
    assert not rows["campus"]["is_late"]
    with pytest.raises(SourceLate, match="circulation last loaded"):
        check_freshness(now=later)
    [alert] = received
    assert alert["kind"] == "source_late" and alert["sources"] == ["circulation"]
    table = dict(conn.execute("select name, is_late from ops.freshness where kind = 'source'").fetchall())
    assert table["circulation"] is True and table["campus"] is False


@pytest.mark.integration
def test_urm_status_json_reports_a_late_source_and_exits_1(conn) -> None:
    from urm.cli import app

    _load(conn, "campus", datetime.now(UTC) - timedelta(days=3), rows=40)
    _load(conn, "circulation", datetime.now(UTC) - timedelta(minutes=10), rows=7, bad=1)
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["late"] == ["campus"] and report["ok"] is False
    sources = {s["name"]: s for s in report["sources"]}
    assert sources["campus"]["rows_loaded"] == 40 and sources["campus"]["schedule"] == "daily"
    assert sources["circulation"]["state"] == "fresh" and sources["circulation"]["rows_quarantined"] == 1
    assert "failed_runs" in report and isinstance(report["failed_runs"]["available"], bool)

    conn.execute("delete from raw.load_log where source = 'campus'")
    _load(conn, "campus", datetime.now(UTC) - timedelta(hours=2), rows=40)
    result = CliRunner().invoke(app, ["status", "--no-runs"])
    assert result.exit_code == 0, result.output
    assert "campus" in result.stdout and "fresh" in result.stdout and "LATE" not in result.stdout


@pytest.mark.integration
def test_dbt_source_freshness_errors_on_a_late_source(conn, warehouse_url, tmp_path) -> None:
    from urm.platform.dbt import run_dbt

    _load(conn, "campus", datetime.now(UTC) - timedelta(hours=2))
    _load(conn, "circulation", datetime.now(UTC) - timedelta(hours=5))  # hourly: late after 3 hours
    selection = ["source:loads.campus_loads", "source:loads.circulation_loads"]
    target = tmp_path / "target"
    result = run_dbt(
        "source",
        "freshness",
        "--select",
        *selection,
        "--target-path",
        str(target),
        url=warehouse_url,
        check=False,
    )
    assert result.returncode == 1, result.stdout[-2000:]
    statuses = {
        r["unique_id"].rsplit(".", 1)[-1]: r["status"]
        for r in json.loads((target / "sources.json").read_text())["results"]
    }
    assert statuses == {"campus_loads": "pass", "circulation_loads": "error"}
