"""The export tables in `restricted`: the audit trail, the disclosure ledger, and the identity
table re-identifying exports read. Created here when missing (idempotent), never dropped."""

from __future__ import annotations

import psycopg

TABLES = (
    # One row per export attempt: published, refused (nothing written) or failed.
    """create table if not exists restricted.export_audit (
    release_id uuid primary key,
    consumer text not null,
    contract_version integer,
    contract_sha256 text,
    level text,
    status text not null,
    file text,
    sha256 text,
    row_count integer,
    cells_suppressed integer,
    data_interval_start timestamptz,
    data_interval_end timestamptz,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    message text
)""",
    "create index if not exists export_audit_consumer on restricted.export_audit (consumer, finished_at)",
    # What each consumer received, cell by cell (aggregate exports): value null = suppressed.
    # A new release is compared with the last value each cell was published with.
    """create table if not exists restricted.export_ledger (
    consumer text not null,
    release_id uuid not null,
    released_at timestamptz not null,
    cell text not null,
    measure text not null,
    value numeric,
    primary key (consumer, release_id, cell, measure)
)""",
)


def ensure_tables(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('urm.exports.ensure_tables'))")
        conn.execute("create schema if not exists restricted")
        for statement in TABLES:
            conn.execute(statement)


def last_published(conn: psycopg.Connection, consumer: str) -> dict[tuple[str, str], float]:
    """The last value each cell of this consumer's exports was published with (not suppressed)."""
    rows = conn.execute(
        """select distinct on (cell, measure) cell, measure, value
        from restricted.export_ledger
        where consumer = %s and value is not null
        order by cell, measure, released_at desc""",
        (consumer,),
    ).fetchall()
    return {(cell, measure): float(value) for cell, measure, value in rows}
