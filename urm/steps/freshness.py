"""Freshness: when each source and each mart was last updated, and whether that is late against
its schedule. The answer is kept in `ops.freshness` (one row per source and mart, refreshed by
`urm status` and the `check_freshness` step) so that a dashboard or a monitor can read it with SQL.

A source is late when its newest finished batch in `raw.load_log` is older than its schedule's
interval plus a grace period (the times below). A source never loaded is reported as such but is
not late: a deployment need not run every source. `check_freshness` raises when a source is late,
so the DAG that runs it fails and alerts (see urm/steps/alerts.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ingest.errors import UserError


class SourceLate(UserError):
    """A source has not delivered within its schedule (plus grace)."""


@dataclass(frozen=True)
class Expected:
    schedule: str  # the ingest DAG's schedule, as people say it
    max_age: timedelta  # interval plus grace: older than this is late


# One entry per source, matching its ingest DAG's schedule. Sources added later (gates, services)
# are listed already; a source missing here defaults to daily.
SCHEDULES: dict[str, Expected] = {
    "campus": Expected("daily", timedelta(hours=36)),
    "circulation": Expected("hourly", timedelta(hours=3)),
    "gate": Expected("hourly", timedelta(hours=3)),
    "ezproxy": Expected("daily", timedelta(hours=36)),
    "counter": Expected("monthly", timedelta(days=45)),  # publishers post a month by mid-next-month
    # the library's services (dags/ingest_services.py), daily
    "spaces": Expected("daily", timedelta(hours=36)),
    "training": Expected("daily", timedelta(hours=36)),
    "consultations": Expected("daily", timedelta(hours=36)),
    "feedback": Expected("daily", timedelta(hours=36)),
    "volunteering": Expected("daily", timedelta(hours=36)),
}
DEFAULT = Expected("daily", timedelta(hours=36))
# The marts follow their sources (Asset-scheduled): a build older than this after a load is late.
MARTS_MAX_AGE = timedelta(hours=36)

DDL = (
    "create schema if not exists ops",
    "revoke all on schema ops from public",
    """create table if not exists ops.mart_builds (
    mart text not null,
    rows bigint not null,
    built_at timestamptz not null
)""",
    """create table if not exists ops.freshness (
    kind text not null,
    name text not null,
    schedule text not null,
    last_updated_at timestamptz,
    max_age interval not null,
    age interval,
    state text not null,
    is_late boolean not null,
    checked_at timestamptz not null,
    primary key (kind, name)
)""",
)


def ensure_ops_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('urm.ops'))")
        for statement in DDL:
            conn.execute(statement)


def expected(source: str) -> Expected:
    """The schedule of a source; `URM_FRESHNESS_<SOURCE>_HOURS` overrides its max age."""
    base = SCHEDULES.get(source, DEFAULT)
    override = os.environ.get(f"URM_FRESHNESS_{source.upper()}_HOURS")
    if override:
        return Expected(base.schedule, timedelta(hours=float(override)))
    return base


def record_marts_published(conn: psycopg.Connection) -> int:
    """Note the time and row count of every mart table (the warehouse DAG's last step calls it)."""
    ensure_ops_schema(conn)
    tables = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'marts'")]
    with conn.transaction():
        for table in tables:
            rows = conn.execute(f'select count(*) from marts."{table}"').fetchone()
            conn.execute(
                "insert into ops.mart_builds (mart, rows, built_at) values (%s, %s, now())",
                (table, rows[0] if rows else 0),
            )
    return len(tables)


def _state(last: datetime | None, max_age: timedelta, now: datetime) -> tuple[timedelta | None, str, bool]:
    if last is None:
        return None, "never_loaded", False
    age = now - last
    return age, ("late" if age > max_age else "fresh"), age > max_age


def compute_freshness(conn: psycopg.Connection, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per source (every registered source, and every source in the load log) and mart."""
    from ingest.registry import sources

    now = now or datetime.now(UTC)
    ensure_ops_schema(conn)
    loads = {
        r[0]: r[1:]
        for r in conn.execute(
            "select source, max(finished_at), count(*), sum(rows_loaded), sum(rows_quarantined) "
            "from raw.load_log group by source"
        )
    }
    rows: list[dict[str, Any]] = []
    for name in sorted(set(sources()) | set(loads)):
        last, batches, loaded, quarantined = loads.get(name, (None, 0, 0, 0))
        exp = expected(name)
        age, state, late = _state(last, exp.max_age, now)
        rows.append(
            {
                "kind": "source",
                "name": name,
                "schedule": exp.schedule,
                "last_updated_at": last,
                "max_age": exp.max_age,
                "age": age,
                "state": state,
                "is_late": late,
                "batches": int(batches or 0),
                "rows_loaded": int(loaded or 0),
                "rows_quarantined": int(quarantined or 0),
            }
        )
    marts = conn.execute(
        "select t.tablename, b.built_at, b.rows from pg_tables t left join lateral ("
        "  select built_at, rows from ops.mart_builds where mart = t.tablename order by built_at desc limit 1"
        ") b on true where t.schemaname = 'marts' order by 1"
    ).fetchall()
    for name, built_at, count in marts:
        age, state, late = _state(built_at, MARTS_MAX_AGE, now)
        rows.append(
            {
                "kind": "mart",
                "name": name,
                "schedule": "on source updates",
                "last_updated_at": built_at,
                "max_age": MARTS_MAX_AGE,
                "age": age,
                "state": state if built_at else "not_recorded",
                "is_late": late,
                "rows": count,
            }
        )
    return rows


def refresh_freshness(conn: psycopg.Connection, now: datetime | None = None) -> list[dict[str, Any]]:
    """Compute freshness and replace the contents of `ops.freshness` with it."""
    now = now or datetime.now(UTC)
    rows = compute_freshness(conn, now)
    with conn.transaction():
        conn.execute("delete from ops.freshness")
        for r in rows:
            conn.execute(
                "insert into ops.freshness (kind, name, schedule, last_updated_at, max_age, age, state, "
                "is_late, checked_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    r["kind"],
                    r["name"],
                    r["schedule"],
                    r["last_updated_at"],
                    r["max_age"],
                    r["age"],
                    r["state"],
                    r["is_late"],
                    now,
                ),
            )
    return rows


def check_freshness(url: str | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Refresh `ops.freshness`; raise SourceLate naming every late source (fails the task)."""
    from ingest.run import connect
    from urm.platform.warehouse import warehouse_url

    with connect(url or warehouse_url()) as conn:
        rows = refresh_freshness(conn, now)
    late = [r for r in rows if r["kind"] == "source" and r["is_late"]]
    if late:
        detail = "; ".join(
            f"{r['name']} last loaded {r['last_updated_at']:%Y-%m-%d %H:%M %Z} ({r['schedule']}, late after "
            f"{r['max_age']})"
            for r in late
        )
        from urm.steps.alerts import send_alert

        send_alert("source_late", f"late sources: {detail}", {"sources": [r["name"] for r in late]})
        raise SourceLate(f"late sources: {detail}: check the source's export or landing folder")
    return rows
