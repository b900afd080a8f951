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
    # Who each outreach campaign targeted, and when (urm.campaigns): one row per campaign period
    # and user, written once by `urm campaign run` (a re-run keeps it); dbt reads it for
    # campaign_results. user_key is the marts' pseudonym; no other identifier is kept.
    """create table if not exists raw.campaign_assignments (
    campaign text not null,
    period_start date not null,
    period_end date not null,
    goal_metric text not null,
    control_share numeric not null,
    user_key text not null,
    arm text not null check (arm in ('treated', 'control')),
    assigned_at timestamptz not null,
    primary key (campaign, period_start, user_key)
)""",
)


# Columns added to fixed tables after their first release: (table, column, type).
ADDED_COLUMNS = (
    # What an append-only load covered (ingest.loader.Prefix): a log that grew since is
    # loaded from where the previous load stopped.
    ("raw.load_log", "head_checksum", "text"),
    ("raw.load_log", "content_bytes", "bigint"),
    ("raw.load_log", "content_lines", "bigint"),
    ("raw.load_log", "content_checksum", "text"),
    ("raw.load_log", "tail_bytes", "bigint"),
    ("raw.load_log", "first_line", "bigint"),
)
# Indexes: (schema, name, definition).
FIXED_INDEXES = (
    ("raw", "load_log_checksum", "on raw.load_log (target_table, checksum)"),
    ("raw", "load_log_head", "on raw.load_log (target_table, head_checksum)"),
)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Create what is missing; never drops or rewrites. Returns the landing tables.

    Safe to run from several processes at once, and while loads run: one advisory lock
    serialises migrations, and a statement that would lock a landing table (an index, a new
    column) runs only when what it creates is missing, so a warehouse already in place is
    only read (`create index if not exists` takes its table lock before looking, and waiting for
    it behind a running load deadlocks with that load's load-log insert)."""
    tables = raw_tables()
    with conn.transaction():
        # Two processes migrating a new warehouse at once would race on `create schema`:
        # the second waits here for the first to commit, then finds everything in place.
        conn.execute("select pg_advisory_xact_lock(hashtext('urm.migrate'))")
        created = False
        existing = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        for schema in SCHEMAS:
            if schema not in existing:
                conn.execute(f"create schema if not exists {schema}")
                created = True
        if created:
            conn.execute("revoke all on schema raw, quarantine, restricted from public")
        for statement in FIXED_TABLES:
            conn.execute(statement)  # `create table if not exists` locks nothing that exists
        if created:
            conn.execute("revoke all on schema staging, intermediate from public")
        for statement in PRIVACY_TABLES:
            conn.execute(statement)
        for qualified, column, pg_type in ADDED_COLUMNS:
            if not _has_column(conn, qualified, column):
                conn.execute(f"alter table {qualified} add column if not exists {column} {pg_type}")
        indexes = [
            *FIXED_INDEXES,
            *((t.schema, f"{t.name}_batch", f"on {t.schema}.{t.name} (batch_id)") for t in tables),
            # the loader's replacement of re-delivered keys (ingest.loader._replace_older) looks them up
            *(
                (t.schema, f"{t.name}_replace", f"on {t.schema}.{t.name} ({', '.join(t.replace_keys)})")
                for t in tables
                if t.replace_keys
            ),
        ]
        present = set(
            conn.execute(
                "select table_schema || '.' || table_name, column_name from information_schema.columns "
                "where table_schema in ('raw', 'restricted')"
            ).fetchall()
        )
        for table in tables:
            qualified = f"{table.schema}.{table.name}"
            if not _exists(conn, qualified):
                conn.execute(table.ddl())
                created = True
                continue
            # A column added to a RawTable later reaches warehouses created before it (nullable).
            for name, pg_type in table.columns:
                if (qualified, name) not in present:
                    conn.execute(
                        f"alter table {qualified} add column {name} {pg_type.replace(' not null', '')}"
                    )
        for schema, name, definition in indexes:
            if not _exists(conn, f"{schema}.{name}"):
                conn.execute(f"create index if not exists {name} {definition}")
                created = True
        _ensure_roles(conn, force=created)
    return [t.name for t in tables]


def _exists(conn: psycopg.Connection, qualified: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone()[0]  # type: ignore[index]


def _has_column(conn: psycopg.Connection, qualified: str, column: str) -> bool:
    row = conn.execute(
        "select 1 from pg_attribute where attrelid = to_regclass(%s) and attname = %s and not attisdropped",
        (qualified, column),
    ).fetchone()
    return row is not None


def _roles_in_place(conn: psycopg.Connection) -> bool:
    """Both roles exist and hold their privileges on every table there is now."""
    roles = {
        r[0] for r in conn.execute("select rolname from pg_roles where rolname = any(%s)", (list(ROLES),))
    }
    if roles != set(ROLES):
        return False
    missing = conn.execute(
        "select count(*) from pg_tables where (schemaname in ('raw', 'quarantine', 'restricted') "
        "and not has_table_privilege('urm_loader', format('%I.%I', schemaname, tablename), 'insert')) "
        "or (schemaname = 'marts' "
        "and not has_table_privilege('urm_bi', format('%I.%I', schemaname, tablename), 'select'))"
    ).fetchone()
    return missing is not None and missing[0] == 0


def _ensure_roles(conn: psycopg.Connection, *, force: bool) -> None:
    """Create the group roles when this user may; an external warehouse may manage its own.
    Runs inside the migration's lock: concurrent GRANTs fail with `tuple concurrently updated`."""
    try:
        with conn.transaction():  # a savepoint: a refused grant leaves the migration intact
            if not force and _roles_in_place(conn):
                return
            for role, grants in ROLES.items():
                exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
                if not exists:
                    try:
                        with conn.transaction():
                            conn.execute(f"create role {role} nologin")
                    except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                        pass  # roles are server-wide: another database's migration made it just now
                for grant in grants:
                    conn.execute(grant)
    except psycopg.errors.InsufficientPrivilege:
        pass
