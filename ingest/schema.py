"""The idempotent migration: schemas, landing tables, quarantine, load log and roles."""

from __future__ import annotations

import psycopg

from ingest.registry import raw_tables

SCHEMAS = ("raw", "quarantine", "restricted", "staging", "intermediate", "marts")

# BI reads marts only; the loader writes raw/quarantine/restricted. Both are NOLOGIN group roles:
# grant them to real login roles in production.
ROLES = {
    "urm_bi": [
        "grant usage on schema marts to urm_bi",
        "grant select on all tables in schema marts to urm_bi",
        "alter default privileges in schema marts grant select on tables to urm_bi",
    ],
    "urm_loader": [
        *(f"grant usage, create on schema {s} to urm_loader" for s in ("raw", "quarantine", "restricted")),
        *(
            f"grant select, insert, delete on all tables in schema {s} to urm_loader"
            for s in ("raw", "quarantine", "restricted")
        ),
    ],
}

FIXED_TABLES = (
    """create table if not exists raw.load_log (
    batch_id uuid primary key,
    source text not null,
    format text not null,
    target_table text not null,
    source_file text not null,
    checksum text not null,
    rows_loaded integer not null,
    rows_quarantined integer not null,
    rows_replaced integer not null default 0,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    status text not null
)""",
    "create index if not exists load_log_checksum on raw.load_log (target_table, checksum)",
    """create table if not exists quarantine.rejected_rows (
    batch_id uuid not null,
    source text not null,
    format text not null,
    target_table text not null,
    source_file text not null,
    source_line integer not null,
    field text not null,
    reason text not null,
    raw_text text,
    rejected_at timestamptz not null default now()
)""",
)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Create what is missing; never drops or rewrites. Returns the landing tables."""
    with conn.transaction():
        # Two processes migrating a new warehouse at once would race on `create schema`:
        # the second waits here for the first to commit, then finds everything in place.
        conn.execute("select pg_advisory_xact_lock(hashtext('urm.migrate'))")
        for schema in SCHEMAS:
            conn.execute(f"create schema if not exists {schema}")
        conn.execute("revoke all on schema raw, quarantine, restricted from public")
        for statement in FIXED_TABLES:
            conn.execute(statement)
        tables = raw_tables()
        present = set(
            conn.execute(
                "select table_name, column_name from information_schema.columns where table_schema = 'raw'"
            ).fetchall()
        )
        existing = {name for name, _ in present}
        for table in tables:
            conn.execute(table.ddl())
            # A column added to a RawTable later reaches warehouses created before it (nullable).
            for name, pg_type in table.columns:
                if table.name in existing and (table.name, name) not in present:
                    conn.execute(
                        f"alter table raw.{table.name} add column {name} {pg_type.replace(' not null', '')}"
                    )
            conn.execute(f"create index if not exists {table.name}_batch on raw.{table.name} (batch_id)")
    _ensure_roles(conn)
    return [t.name for t in tables]


def _ensure_roles(conn: psycopg.Connection) -> None:
    """Create the group roles when this user may; an external warehouse may manage its own."""
    try:
        with conn.transaction():
            for role, grants in ROLES.items():
                exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
                if not exists:
                    conn.execute(f"create role {role} nologin")
                for grant in grants:
                    conn.execute(grant)
    except psycopg.errors.InsufficientPrivilege:
        pass
