"""`urm demo`: a synthetic university through every DAG, on the embedded warehouse by default."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from ingest.run import connect
from ingest.schema import migrate
from urm.platform.airflow_env import airflow_env, ensure_metadata_db, run_dag_file
from urm.platform.dbt import run_dbt, run_time_env
from urm.platform.settings import DAGS_DIR, pseudonym_key, urm_home
from urm.platform.warehouse import external_url, redact, warehouse_url
from urm_demo.sushi import harvest_range

# Dependency order: the ingest DAGs produce the Assets the warehouse DAG is scheduled on.
ILS_FORMATS = {"koha": "koha-items-csv,koha-csv", "folio": "folio-items-json,folio-json"}
DAG_ORDER = (
    "ingest_campus",
    "ingest_circulation",
    "ingest_ezproxy",
    "ingest_counter",
    "ingest_gate",
    "ingest_services",
    "build_warehouse",
    "export_profiles",
)
# Days of circulation history before the period (the ILS keeps last year's loans): the lifecycle
# marts need a past to show users lapsing and coming back. 300 days: for the tests' 40-day period
# the whole history lies in the 365-day persona window.
DEMO_HISTORY_DAYS = 300


def run_demo(
    *,
    users: int,
    days: int,
    seed: int,
    ils: str,
    console: Console,
    sources_dir: Path | None = None,
    dag_ids: tuple[str, ...] = DAG_ORDER,
) -> dict[str, dict[str, int]]:
    """Generate the synthetic university and run `dag_ids` (every DAG, in dependency order)."""
    started = time.monotonic()
    pseudonym_key(announce=True)
    with console.status("starting the warehouse"):
        url = warehouse_url()
        with connect(url) as conn:
            migrate(conn)
    where = "URM_WAREHOUSE_URL" if external_url() else f"embedded PostgreSQL, data in {urm_home() / 'pgdata'}"
    console.print(f"[green]✓[/green] warehouse: {redact(url)} ({where})")

    sources = sources_dir or urm_home() / "demo" / "sources"
    with console.status(f"generating a synthetic university ({users} people, {days} days, seed {seed})"):
        from urm_demo.synth import generate

        generate(sources, users=users, days=days, seed=seed, history_days=DEMO_HISTORY_DAYS)
    console.print(f"[green]✓[/green] synthetic university written to {sources}")

    env = dag_env(url, sources, ils)
    with console.status("preparing Airflow's metadata database and dbt's manifest"):
        ensure_metadata_db(env)
        run_dbt("parse", url=url)
    logs = urm_home() / "logs" / "demo"
    with ExitStack() as stack:
        env.update(stack.enter_context(_eresource_services(sources, days=days, seed=seed)))
        env.update(stack.enter_context(_campus_services(sources)))
        for dag_id in (d for d in DAG_ORDER if d in dag_ids):
            dag_file = DAGS_DIR / f"{dag_id}.py"
            step_started = time.monotonic()
            with console.status(f"running DAG {dag_id} (log: {logs / (dag_id + '.log')})"):
                conf = harvest_range(days) if dag_id == "ingest_counter" else None
                result = run_dag_file(dag_file, env, logs / f"{dag_id}.log", conf=conf)
            seconds = time.monotonic() - step_started
            if result.returncode != 0:
                console.print(f"[red]✗ {dag_id} failed after {seconds:.0f}s[/red]; the end of its log:")
                console.print(_failure_excerpt(logs / f"{dag_id}.log"))
                raise typer.Exit(1)
            console.print(f"[green]✓[/green] DAG {dag_id} ({seconds:.0f}s)")
        if "build_warehouse" in dag_ids:
            _run_campaign(console, url, env, logs, sources, users=users, days=days, seed=seed)
    with connect(url) as conn:
        migrate(conn)  # grants the BI role SELECT on the mart tables dbt just created
        counts = warehouse_counts(conn)
        gates = gate_summary(conn)
    _print_summary(console, counts, url=url, seconds=time.monotonic() - started)
    if gates:
        console.print(gates, highlight=False)
    if "build_warehouse" in dag_ids:
        write_demo_reports(console, url)
    return counts


def dag_env(url: str, sources: Path, ils: str) -> dict[str, str]:
    """The environment the demo's DAG runs get (also used by `bench.university`)."""
    return {
        **airflow_env(),
        **run_time_env(url),
        "URM_LANDING_DIR": str(sources),
        # a library runs one ILS: load the chosen one's files of the two the university writes
        "URM_CIRCULATION_FORMATS": ILS_FORMATS[ils],
        # the warehouse as one `dbt build` task: the per-model rendering production uses starts
        # dbt once per model (see dags/build_warehouse.py)
        "URM_WAREHOUSE_TASKS": os.environ.get("URM_WAREHOUSE_TASKS", "single"),
        # for any Airflow operator or hook that wants the warehouse as a connection
        "AIRFLOW_CONN_URM_WAREHOUSE": url.replace("postgresql://", "postgres://", 1),
    }


def write_demo_reports(console: Console, url: str) -> list[Path]:
    """Both reports from the demo's marts (`urm report`): the insights report, and the
    learning-behaviour report of the college with the most students (its PDF when Chromium is
    installed), under .urm/reports."""
    from urm.reports.build import chromium, write_report

    folder = urm_home() / "reports"
    with console.status("writing the insights report and a college's report"):
        written = write_report(folder / "library", url=url)
        with connect(url) as conn:
            row = conn.execute(
                "select college_code from marts.dim_user where user_type = 'student' "
                "and college_code is not null group by 1 order by count(*) desc, 1 limit 1"
            ).fetchone()
        if row:
            written += write_report(
                folder / f"college-{row[0]}", college=row[0], url=url, pdf=chromium() is not None
            )
    for path in written:
        console.print(f"[green]✓[/green] report: {path}")
    return written


# After the DAGs: one outreach campaign, the synthetic university's response, and the two DAGs
# that load it (urm_demo.campaign explains the design).
CAMPAIGN_DAGS = ("ingest_circulation", "build_warehouse")


def _run_campaign(
    console: Console, url: str, env: dict, logs: Path, sources: Path, *, users: int, days: int, seed: int
) -> None:
    from urm_demo.campaign import run_demo_campaign

    step_started = time.monotonic()
    with console.status("running the demo's outreach campaign and the university's response"):
        campaign, responses = run_demo_campaign(
            url=url,
            sources=sources,
            folder=urm_home() / "demo" / "campaigns",
            users=users,
            days=days,
            seed=seed,
        )
        for dag_id in CAMPAIGN_DAGS:
            result = run_dag_file(DAGS_DIR / f"{dag_id}.py", env, logs / f"{dag_id}-campaign.log")
            if result.returncode != 0:
                console.print(f"[red]✗ {dag_id} failed after the campaign[/red]; the end of its log:")
                console.print(_failure_excerpt(logs / f"{dag_id}-campaign.log"))
                raise typer.Exit(1)
    console.print(
        f"[green]✓[/green] campaign {campaign.name} ({campaign.period_start} to {campaign.period_end}): "
        f"{responses} loans in response, loaded ({time.monotonic() - step_started:.0f}s)"
    )


def _eresource_services(sources: Path, *, days: int, seed: int):
    """Start the synthetic publishers' SUSHI endpoint for the length of the demo."""
    from urm_demo.sushi import synthetic_sushi

    return synthetic_sushi(sources, days=days, seed=seed)


def _campus_services(sources: Path):
    """Start the synthetic university's campus API for the length of the demo."""
    from urm_demo.campus import synthetic_campus

    return synthetic_campus(sources)


def _failure_excerpt(log_file: Path, lines: int = 40) -> str:
    text = log_file.read_text(errors="replace").splitlines()
    interesting = [
        i for i, line in enumerate(text) if "Error" in line or "FAILED" in line or "failed" in line
    ]
    start = max(0, (interesting[0] - 5) if interesting else len(text) - lines)
    return "\n".join(text[start : start + lines])


def warehouse_counts(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """Rows per landing table, quarantined rows per landing table, rows per mart."""

    def tables(schema: str) -> list[str]:
        rows = conn.execute(
            "select tablename from pg_tables where schemaname = %s order by 1", (schema,)
        ).fetchall()
        return [r[0] for r in rows]

    def count(relation: str) -> int:
        row = conn.execute(f"select count(*) from {relation}").fetchone()
        return int(row[0]) if row else 0

    raw = {t: count(f'raw."{t}"') for t in tables("raw") if t != "load_log"}
    quarantined: dict[str, int] = dict(
        conn.execute(
            "select target_table, count(*) from quarantine.rejected_rows group by 1 order by 1"
        ).fetchall()
    )
    marts = {t: count(f'marts."{t}"') for t in tables("marts")}
    return {"raw": raw, "quarantine": quarantined, "marts": marts}


def _print_summary(console: Console, counts: dict[str, dict[str, int]], *, url: str, seconds: float) -> None:
    table = Table(title="library-urm demo: what landed and what was built", show_lines=False)
    table.add_column("layer")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("quarantined", justify="right")
    for name, rows in counts["raw"].items():
        table.add_row("raw", name, f"{rows:,}", f"{counts['quarantine'].get(name, 0):,}")
    for name, rows in counts["marts"].items():
        table.add_row("marts", name, f"{rows:,}", "")
    console.print(table)
    total_q = sum(counts["quarantine"].values())
    console.print(f"rows quarantined in all: {total_q:,}   time taken: {seconds:.0f}s")
    console.print(f"warehouse: {redact(url)}")
    console.print(
        "query it:  .venv/bin/urm warehouse psql -c 'select user_group, count(*) from marts.user_persona "
        "group by 1'\n"
        f"     or:  psql '{redact(url)}'   (BI tools: grant role urm_bi, which reads schema marts only)"
    )
    if os.environ.get("URM_DEMO_JSON"):
        import json

        Path(os.environ["URM_DEMO_JSON"]).write_text(json.dumps(counts, indent=2))


def gate_summary(conn: psycopg.Connection) -> str:
    """One line on the gates: visits, how many the swipes identify, and the counters' audit."""
    built = conn.execute(
        "select to_regclass('marts.fct_visits'), to_regclass('marts.fct_gate_counts_daily')"
    ).fetchone()
    if not built or None in built:
        return ""
    visit_row = conn.execute(
        "select count(*), count(user_key), count(*) filter (where exit_imputed), "
        "count(*) filter (where entry_missing) from marts.fct_visits"
    ).fetchone()
    day_row = conn.execute(
        "select count(*), count(*) filter (where estimated), count(*) filter (where closed), "
        "count(*) filter (where spike) from marts.fct_gate_counts_daily"
    ).fetchone()
    assert visit_row is not None and day_row is not None  # aggregates always return a row
    visits, identified, imputed, missing = visit_row
    days, estimated, closed, spikes = day_row
    share = f"{identified / visits:.0%}" if visits else "-"
    return (
        f"gates: {visits:,} visits ({share} by a card on the roster; {imputed:,} exits imputed, "
        f"{missing:,} entries missing); counters: {days:,} days ({estimated} estimated, {closed} closed, "
        f"{spikes} spikes)"
    )
