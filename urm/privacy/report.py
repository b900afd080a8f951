"""`urm privacy report`: the state of every privacy rule, from the warehouse itself.

Opt-outs and opt-ins, suppressed cells in the marts, retention (each landing table's window, its
oldest identified row and how many identified rows are past the window), quarantine, erasures
(how many and when, never who), the key's fingerprint and last rotation, and the last privacy
suite's result. Counts and dates only: nothing in it identifies anyone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from ingest.registry import formats
from ingest.run import connect
from urm.privacy.config import retention_config
from urm.privacy.retention import _columns, age_expression


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()
    return bool(row and row[0])


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def privacy_report(url: str, as_of: datetime | None = None) -> dict[str, Any]:
    as_of = as_of or datetime.now(UTC)
    with connect(url) as conn:
        return {
            "as_of": as_of.isoformat(),
            "key": _key(conn),
            "consent": _consent(conn),
            "suppressed_cells": _suppressed(conn),
            "retention": _retention(conn, as_of),
            "quarantine": _quarantine(conn),
            "erasures": _erasures(conn),
            "privacy_suite": _suite(conn),
        }


def _key(conn: psycopg.Connection) -> dict[str, Any]:
    if not _exists(conn, "restricted.privacy_state"):
        return {"fingerprint": None}
    row = conn.execute(
        "select key_fingerprint, key_recorded_at, key_rotated_at, key_rotations from restricted.privacy_state"
    ).fetchone()
    if row is None:
        return {"fingerprint": None, "note": "nothing loaded yet: the first load records the key"}
    return {
        "fingerprint": row[0],
        "recorded_at": _iso(row[1]),
        "last_rotation": _iso(row[2]),
        "rotations": row[3],
    }


def _consent(conn: psycopg.Connection) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if _exists(conn, "marts.dim_user"):
        people, opted_out, opted_in = conn.execute(
            "select count(*), count(*) filter (where not consent_profiling), "
            "count(*) filter (where consent_ranking) from marts.dim_user"
        ).fetchone() or (0, 0, 0)
        found.update(
            {
                "people": people,
                "profiling_opt_outs": opted_out,
                "ranking_opt_ins": opted_in,
                "from": "marts.dim_user",
            }
        )
    if _exists(conn, "intermediate.consent_ledger"):
        changes = conn.execute(
            "select count(*) filter (where flag = 'profiling' and not value and valid_from > first_seen), "
            "count(*) filter (where valid_from > first_seen) from ("
            "select *, min(valid_from) over (partition by user_key, flag) as first_seen "
            "from intermediate.consent_ledger) as ledger"
        ).fetchone() or (0, 0)
        found.update({"opt_outs_recorded_as_changes": changes[0], "consent_changes": changes[1]})
    return found


def _suppressed(conn: psycopg.Connection) -> dict[str, Any]:
    """Per mart: rows with a suppression reason, and empty person-count cells."""
    rows = conn.execute(
        "select table_name, array_agg(column_name::text order by ordinal_position) "
        "from information_schema.columns "
        "where table_schema = 'marts' and (column_name = 'suppressed' or column_name like '%%\\_users') "
        "group by table_name order by 1"
    ).fetchall()
    found: dict[str, Any] = {}
    for table, columns in rows:
        counts: list[sql.Composable] = []
        if "suppressed" in columns:
            counts.append(sql.SQL("count(*) filter (where suppressed is not null)"))
        users = [c for c in columns if c.endswith("_users")]
        counts.extend(sql.SQL("count(*) filter (where {} is null)").format(sql.Identifier(c)) for c in users)
        values = conn.execute(
            sql.SQL("select {} from marts.{}").format(sql.SQL(", ").join(counts), sql.Identifier(table))
        ).fetchone()
        assert values is not None
        entry: dict[str, Any] = {}
        position = 0
        if "suppressed" in columns:
            entry["rows_with_suppression"] = values[0]
            position = 1
        entry["empty_person_cells"] = int(sum(values[position:]))
        found[table] = entry
    return found


def _retention(conn: psycopg.Connection, as_of: datetime) -> dict[str, Any]:
    config = retention_config()
    sources = {f.table.name: f.source for f in formats().values()}
    tables: dict[str, Any] = {}
    existing = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'raw'")}
    for table in sorted(set(sources) & existing):
        rule = config.for_table(table)
        columns = _columns(conn, table)
        keys = [
            n for n, (t, _) in columns.items() if n.endswith("_key") and t in ("text", "character varying")
        ]
        if not keys:
            continue
        try:
            age = age_expression(rule, columns)
        except ValueError as err:
            tables[table] = {"source": sources[table], "error": str(err)}
            continue
        if not age:
            tables[table] = {"source": sources[table], "note": "no column to age rows by"}
            continue
        age_sql = sql.SQL("coalesce({})").format(sql.SQL(", ").join(map(sql.Identifier, age)))
        identified = sql.SQL(" or ").join(sql.SQL("{} is not null").format(sql.Identifier(k)) for k in keys)
        oldest, past = conn.execute(
            sql.SQL(
                "select min({age}), count(*) filter (where {age} < %s) from raw.{t} where {identified}"
            ).format(age=age_sql, t=sql.Identifier(table), identified=identified),
            (as_of - timedelta(days=rule.identified_days),),
        ).fetchone() or (None, 0)
        tables[table] = {
            "source": sources[table],
            "window_days": rule.identified_days,
            "oldest_identified": _iso(oldest),
            "identified_rows_past_window": past,
        }
    last = None
    if _exists(conn, "restricted.retention_runs"):
        row = conn.execute(
            "select ran_at, as_of, rows_deleted, rows_deidentified from restricted.retention_runs "
            "order by ran_at desc limit 1"
        ).fetchone()
        if row:
            last = {"ran_at": _iso(row[0]), "as_of": _iso(row[1]), "deleted": row[2], "deidentified": row[3]}
    return {"tables": tables, "last_run": last}


def _quarantine(conn: psycopg.Connection) -> dict[str, Any]:
    rows, oldest = conn.execute(
        "select count(*), min(rejected_at) from quarantine.rejected_rows"
    ).fetchone() or (0, None)
    return {"rows": rows, "oldest": _iso(oldest), "window_days": retention_config().quarantine_days}


def _erasures(conn: psycopg.Connection) -> dict[str, Any]:
    if not _exists(conn, "restricted.erasure_log"):
        return {"erasures": 0}
    count, last = conn.execute(
        "select coalesce(sum(people), 0), max(erased_at) from restricted.erasure_log"
    ).fetchone() or (
        0,
        None,
    )
    return {"erasures": int(count), "last": _iso(last)}


def _suite(conn: psycopg.Connection) -> dict[str, Any]:
    if not _exists(conn, "restricted.privacy_suite_runs"):
        return {"last_run": None}
    row = conn.execute(
        "select ran_at, success, marts, checks, failures from restricted.privacy_suite_runs "
        "order by ran_at desc limit 1"
    ).fetchone()
    if row is None:
        return {"last_run": None}
    failures = row[4] if isinstance(row[4], list) else json.loads(row[4] or "[]")
    return {
        "last_run": _iso(row[0]),
        "success": row[1],
        "marts": row[2],
        "checks": row[3],
        "failures": [
            f"{f['rule']} on marts.{f['mart']}" + (f".{f['column']}" if f.get("column") else "")
            for f in failures
        ],
    }
