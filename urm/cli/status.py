"""`urm status`: did yesterday's data arrive? Sources, their last loads, rows and quarantined rows,
freshness against each source's schedule, the marts' last builds and the failed DAG runs, as a
table for people or `--json` for monitors. Exits 1 when a source is late, so a cron job or a
monitor's check command fails loudly without parsing anything."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table


def failed_runs(days: int = 7) -> dict[str, Any]:
    """Failed DAG runs of the last `days` from Airflow's metadata database (the one Airflow is
    configured with: `.urm/airflow` in embedded mode, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN in
    production). Unreachable metadata is reported, not raised: status must answer anyway."""
    from urm.platform.airflow_env import airflow_env

    for name, value in airflow_env().items():
        os.environ.setdefault(name, value)
    try:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        since = datetime.now(UTC) - timedelta(days=days)
        with create_session() as session:
            runs = session.scalars(
                select(DagRun)
                .where(DagRun.state == "failed", DagRun.run_after >= since)
                .order_by(DagRun.run_after.desc())
            ).all()
            return {
                "available": True,
                "since": since,
                "runs": [
                    {
                        "dag_id": r.dag_id,
                        "run_id": r.run_id,
                        "run_type": str(r.run_type),
                        "run_after": r.run_after,
                        "end_date": r.end_date,
                    }
                    for r in runs
                ],
            }
    except Exception as err:  # metadata not migrated, unreachable, or Airflow not configured
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return {"available": False, "error": first[:300], "runs": []}


def collect_status(url: str, *, now: datetime | None = None, runs: bool = True) -> dict[str, Any]:
    from ingest.run import connect
    from urm.platform.warehouse import redact
    from urm.steps.freshness import refresh_freshness

    with connect(url) as conn:
        rows = refresh_freshness(conn, now)
        quarantined: dict[str, int] = dict(
            conn.execute("select source, count(*) from quarantine.rejected_rows group by 1").fetchall()
        )
    sources = [r for r in rows if r["kind"] == "source"]
    for r in sources:
        r["quarantined_now"] = int(quarantined.get(r["name"], 0))
    marts = [r for r in rows if r["kind"] == "mart"]
    report: dict[str, Any] = {
        "checked_at": now or datetime.now(UTC),
        "warehouse": redact(url),
        "sources": sources,
        "marts": marts,
        "late": [r["name"] for r in sources if r["is_late"]],
    }
    if runs:
        report["failed_runs"] = failed_runs()
    report["ok"] = not report["late"] and not (report.get("failed_runs") or {}).get("runs")
    return report


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def _age(value: timedelta | None) -> str:
    if value is None:
        return "-"
    hours = value.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M %Z}" if value else "-"


def print_status(report: dict[str, Any], console: Console) -> None:
    table = Table(title="sources", show_lines=False)
    for column in ("source", "schedule", "last load", "age", "batches", "rows", "quarantined", "state"):
        table.add_column(column, justify="right" if column in ("batches", "rows", "quarantined") else "left")
    for r in report["sources"]:
        state = f"[red]{r['state']}[/red]" if r["is_late"] else r["state"]
        table.add_row(
            r["name"],
            r["schedule"],
            _when(r["last_updated_at"]),
            _age(r["age"]),
            f"{r['batches']:,}",
            f"{r['rows_loaded']:,}",
            f"{r['quarantined_now']:,}",
            state,
        )
    console.print(table)
    if report["marts"]:
        marts = Table(title="marts")
        for column in ("mart", "last build", "age", "rows", "state"):
            marts.add_column(column)
        for r in report["marts"]:
            rows = f"{r['rows']:,}" if r.get("rows") is not None else "-"
            marts.add_row(r["name"], _when(r["last_updated_at"]), _age(r["age"]), rows, r["state"])
        console.print(marts)
    runs = report.get("failed_runs")
    if runs is not None:
        if not runs["available"]:
            console.print(f"failed runs: Airflow metadata not readable ({runs['error']})")
        elif runs["runs"]:
            failed = Table(title="failed DAG runs (7 days)")
            for column in ("dag", "run", "type", "ended"):
                failed.add_column(column)
            for r in runs["runs"]:
                failed.add_row(r["dag_id"], r["run_id"], r["run_type"], _when(r["end_date"]))
            console.print(failed)
        else:
            console.print("failed DAG runs (7 days): none")
    if report["late"]:
        console.print(f"[red]LATE: {', '.join(report['late'])}[/red] (see README, Operations: source_late)")


def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document for monitors.")] = False,
    runs: Annotated[
        bool, typer.Option("--runs/--no-runs", help="Read failed runs from Airflow's metadata.")
    ] = True,
) -> None:
    """Sources, last loads, rows and quarantine counts, freshness, marts and failed runs. Exits 1
    when a source is late against its schedule."""
    from urm.platform.warehouse import warehouse_url

    report = collect_status(warehouse_url(), runs=runs)
    if as_json:
        typer.echo(json.dumps(report, default=_jsonable, indent=2))
    else:
        print_status(report, Console())
    if report["late"]:
        raise typer.Exit(1)
