"""Retention: identified rows older than their source's window are de-identified or purged.

Run daily by the privacy_retention DAG (and `urm privacy retention`), in one transaction, with the
windows of config/retention.yml counted back from `as_of` (the DAG's data interval end):

- landing tables: rows past the window lose their pseudonyms (rows kept, still counted in
  aggregates) or, where the pseudonym is what the row is about (the roster's attribute history),
  are deleted; the newest roster snapshot always stays;
- quarantine rows, load-log entries whose rows are all gone, identity-vault entries not seen in a
  roster for the vault's window;
- derived tables (intermediate, marts): pseudonyms that no landing or restricted table holds any
  more are removed at once; the rest follows at the next build, which derives from the landing
  tables as they now are;
- erasures are applied again to what was loaded since the last run (a source that sends an
  erased person again).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from ingest.privacy.identity import erasure_salt, salted_digest
from ingest.privacy.keys import KEY_LOCK
from ingest.registry import raw_tables
from ingest.run import connect
from urm.privacy.config import RetentionConfig, TableRetention, retention_config
from urm.privacy.incremental import forget_incremental_state
from urm.privacy.tables import (
    LANDING_SCHEMAS,
    Scrubbed,
    add_keys,
    create_key_set,
    forget_present,
    key_columns,
    scrub,
    user_schemas,
)

AGE_TYPES = ("timestamp with time zone", "timestamp without time zone", "date")


@dataclass
class TableOutcome:
    table: str
    window_days: int
    age_from: list[str]
    deleted: int = 0
    deidentified: int = 0
    note: str = ""


@dataclass
class RetentionResult:
    as_of: str
    tables: list[TableOutcome] = field(default_factory=list)
    quarantine_deleted: int = 0
    load_log_deleted: int = 0
    identities_deleted: int = 0
    derived: Scrubbed = field(default_factory=Scrubbed)
    erasures_reapplied: Scrubbed = field(default_factory=Scrubbed)

    @property
    def rows_deleted(self) -> int:
        return (
            sum(t.deleted for t in self.tables)
            + self.quarantine_deleted
            + self.load_log_deleted
            + self.identities_deleted
            + self.derived.deleted
            + self.erasures_reapplied.deleted
        )

    @property
    def rows_deidentified(self) -> int:
        return (
            sum(t.deidentified for t in self.tables)
            + self.derived.deidentified
            + self.erasures_reapplied.deidentified
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_deleted"], data["rows_deidentified"] = self.rows_deleted, self.rows_deidentified
        return data


def _columns(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, bool]]:
    rows = conn.execute(
        "select column_name, data_type, is_nullable = 'YES' from information_schema.columns "
        "where table_schema = 'raw' and table_name = %s order by ordinal_position",
        (table,),
    ).fetchall()
    return {name: (data_type, nullable) for name, data_type, nullable in rows}


def age_expression(rule: TableRetention, columns: dict[str, tuple[str, bool]]) -> list[str]:
    if rule.age_from:
        missing = [c for c in rule.age_from if c not in columns]
        if missing:
            raise ValueError(
                f"retention config: raw.{rule.table} has no column {', '.join(missing)} (age_from)"
            )
        return list(rule.age_from)
    for name, (data_type, _) in columns.items():
        if data_type in AGE_TYPES:
            return [name]
    return []


def _retain_table(
    conn: psycopg.Connection, rule: TableRetention, as_of: datetime, gone: sql.Identifier
) -> TableOutcome:
    columns = _columns(conn, rule.table)
    keys = [n for n, (t, _) in columns.items() if n.endswith("_key") and t in ("text", "character varying")]
    outcome = TableOutcome(rule.table, rule.identified_days, [])
    if not keys:
        outcome.note = "holds no pseudonym"
        return outcome
    age = age_expression(rule, columns)
    outcome.age_from = age
    if not age:
        outcome.note = "no timestamp or date column to age rows by; set age_from in the retention config"
        return outcome
    relation = sql.SQL("raw.{}").format(sql.Identifier(rule.table))
    age_sql = sql.SQL("coalesce({})").format(sql.SQL(", ").join(map(sql.Identifier, age)))
    old = sql.SQL("{age} < %(cutoff)s and ({identified})").format(
        age=age_sql,
        identified=sql.SQL(" or ").join(sql.SQL("{} is not null").format(sql.Identifier(k)) for k in keys),
    )
    if rule.keep_newest:
        old = sql.SQL("{old} and {col} < (select max({col}) from {rel})").format(
            old=old, col=sql.Identifier(rule.keep_newest), rel=relation
        )
    params = {"cutoff": as_of - timedelta(days=rule.identified_days)}
    for key in keys:
        conn.execute(
            sql.SQL(
                "insert into {gone} select distinct {key} from {rel} where {old} and {key} is not null "
                "on conflict do nothing"
            ).format(gone=gone, key=sql.Identifier(key), rel=relation, old=old),
            params,
        )
    if any(not columns[k][1] for k in keys):
        cur = conn.execute(sql.SQL("delete from {} where {}").format(relation, old), params)
        outcome.deleted = max(cur.rowcount, 0)
    else:
        cleared = [*keys, *(c for c in rule.also if c in columns)]
        cur = conn.execute(
            sql.SQL("update {rel} set {sets} where {old}").format(
                rel=relation,
                sets=sql.SQL(", ").join(sql.SQL("{} = null").format(sql.Identifier(c)) for c in cleared),
                old=old,
            ),
            params,
        )
        outcome.deidentified = max(cur.rowcount, 0)
    return outcome


def apply_retention(url: str, as_of: datetime, config: RetentionConfig | None = None) -> RetentionResult:
    config = config or retention_config()
    result = RetentionResult(as_of=as_of.isoformat())
    with connect(url) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (KEY_LOCK,))  # no load runs meanwhile
        gone = create_key_set(conn, "retention_gone")
        existing = {
            r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'raw'").fetchall()
        }
        for table in sorted({t.name for t in raw_tables()} & existing):
            result.tables.append(_retain_table(conn, config.for_table(table), as_of, gone))

        cur = conn.execute(
            "delete from quarantine.rejected_rows where rejected_at < %s",
            (as_of - timedelta(days=config.quarantine_days),),
        )
        result.quarantine_deleted = max(cur.rowcount, 0)
        conn.execute(
            sql.SQL(
                "insert into {} select identifier_key from restricted.identity where last_seen < %s "
                "union select person_key from restricted.identity where last_seen < %s on conflict do nothing"
            ).format(gone),
            (as_of.date() - timedelta(days=config.identity_days),) * 2,
        )
        cur = conn.execute(
            "delete from restricted.identity where last_seen < %s",
            (as_of.date() - timedelta(days=config.identity_days),),
        )
        result.identities_deleted = max(cur.rowcount, 0)
        result.load_log_deleted = _purge_load_log(
            conn, as_of - timedelta(days=config.load_log_days), existing
        )

        # What no landing table holds any more leaves the derived tables now.
        forget_present(conn, gone, LANDING_SCHEMAS)
        # intermediate, marts, and any other schema dbt or an export writes to (staging: views)
        derived = [s for s in user_schemas(conn) if s not in (*LANDING_SCHEMAS, "staging")]
        result.derived = scrub(conn, gone, [*derived, "quarantine"])

        result.erasures_reapplied = _reapply_erasures(conn)
        # Incremental models fed by a changed landing table rebuild in full at the next build.
        if result.erasures_reapplied.deleted or result.erasures_reapplied.deidentified:
            forget_incremental_state(conn)
        else:
            forget_incremental_state(conn, [t.table for t in result.tables if t.deleted or t.deidentified])
        conn.execute(
            "insert into restricted.retention_runs (ran_at, as_of, rows_deleted, rows_deidentified, details) "
            "values (now(), %s, %s, %s, %s)",
            (as_of, result.rows_deleted, result.rows_deidentified, json.dumps(result.as_dict(), default=str)),
        )
    return result


def _purge_load_log(conn: psycopg.Connection, cutoff: datetime, existing: set[str]) -> int:
    deleted = 0
    for (table,) in conn.execute(
        "select distinct target_table from raw.load_log where finished_at < %s", (cutoff,)
    ).fetchall():
        if table not in existing:
            continue
        cur = conn.execute(
            sql.SQL(
                "delete from raw.load_log as log where log.target_table = %s and log.finished_at < %s "
                "and not exists (select 1 from raw.{} as r where r.batch_id = log.batch_id)"
            ).format(sql.Identifier(table)),
            (table, cutoff),
        )
        deleted += max(cur.rowcount, 0)
    return deleted


def _reapply_erasures(conn: psycopg.Connection) -> Scrubbed:
    """Rows loaded since the last run that carry an erased person's pseudonym lose it."""
    salt = erasure_salt(conn)
    digests = {
        r[0]
        for r in conn.execute(
            "select digest from restricted.erasure_suppression where digest_of = 'pseudonym'"
        )
    }
    if salt is None or not digests:
        return Scrubbed()
    last = conn.execute("select max(ran_at) from restricted.retention_runs").fetchone()
    since = last[0] if last and last[0] else datetime(1900, 1, 1)
    found: set[str] = set()
    batched = {
        r[0]
        for r in conn.execute(
            "select table_name from information_schema.columns "
            "where table_schema = 'raw' and column_name = 'batch_id'"
        )
    }
    for column in key_columns(conn, ("raw",)):
        if column.table not in batched or column.table == "load_log":
            continue
        rows = conn.execute(
            sql.SQL(
                "select distinct {col} from {rel} where {col} is not null and batch_id in "
                "(select batch_id from raw.load_log where finished_at >= %s)"
            ).format(col=sql.Identifier(column.column), rel=column.relation),
            (since,),
        )
        found.update(value for (value,) in rows if salted_digest(salt, value) in digests)
    if not found:
        return Scrubbed()
    keys = create_key_set(conn, "erased_again")
    add_keys(conn, keys, found)
    return scrub(conn, keys, user_schemas(conn))
