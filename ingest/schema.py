"""The idempotent migration: schemas, landing tables, quarantine, load log and roles."""

from __future__ import annotations

import psycopg

from ingest.privacy.tables import PRIVACY_TABLES
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
        "grant update on all tables in schema restricted to urm_loader",  # the identity vault's upsert
    ],
    # dbt's role: reads the landing tables, builds staging, intermediate and marts.
    "urm_transformer": [
        "grant usage on schema raw to urm_transformer",
        "grant select on all tables in schema raw to urm_transformer",
        *(
            f"grant usage, create on schema {s} to urm_transformer"
            for s in ("staging", "intermediate", "marts")
        ),
    ],
    # Exports read marts only, like BI (dbt's on-run-end grants keep it so: macros/privacy_grants.sql).
    "urm_exporter": [
        "grant usage on schema marts to urm_exporter",
        "grant select on all tables in schema marts to urm_exporter",
        "alter default privileges in schema marts grant select on tables to urm_exporter",
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
        conn.execute("revoke all on schema staging, intermediate from public")
        for statement in PRIVACY_TABLES:
            conn.execute(statement)
        tables = raw_tables()
        for table in tables:
            conn.execute(table.ddl())
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
