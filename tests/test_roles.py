"""Roles: the BI role reads marts and nothing else; tried by breaking in as that role."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ingest.schema import migrate

pytestmark = pytest.mark.integration


def test_bi_role_reads_marts_but_not_raw_quarantine_or_restricted(conn: psycopg.Connection) -> None:
    conn.execute("drop table if exists marts.role_probe")
    conn.execute("create table marts.role_probe as select 1 as n")  # as dbt would, later
    migrate(conn)
    conn.execute("create table if not exists restricted.role_probe (n integer)")
    try:
        conn.execute("set role urm_bi")
        assert conn.execute("select n from marts.role_probe").fetchone() == (1,)
        for table in (
            "raw.campus_people",
            "raw.load_log",
            "quarantine.rejected_rows",
            "restricted.role_probe",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select * from {table}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into marts.role_probe values (2)")  # read-only, too
    finally:
        conn.execute("reset role")
        conn.execute("drop table marts.role_probe")
        conn.execute("drop table restricted.role_probe")


def test_tables_created_after_the_grant_are_readable_too(conn: psycopg.Connection) -> None:
    migrate(conn)
    conn.execute("drop table if exists marts.role_probe_later")
    conn.execute("create table marts.role_probe_later as select 2 as n")  # default privileges
    try:
        conn.execute("set role urm_bi")
        assert conn.execute("select n from marts.role_probe_later").fetchone() == (2,)
    finally:
        conn.execute("reset role")
        conn.execute("drop table marts.role_probe_later")


# -- every role, tried by logging in as it (rule 3 of the privacy issue) ---------------------------

INTERNAL_SCHEMAS = ("raw", "quarantine", "restricted", "staging", "intermediate")
LOGIN_PASSWORD = "role-test-only"


def _login_url(warehouse_url: str, group: str) -> str:
    """A login role of our own, member of `group`, and a URL to connect as it."""
    from urllib.parse import urlsplit, urlunsplit

    login = f"{group}_test_login"
    with psycopg.connect(warehouse_url, autocommit=True) as admin:
        if not admin.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone():
            admin.execute(f"create role {login} login password '{LOGIN_PASSWORD}'")
        admin.execute(f"grant {group} to {login}")
    parts = urlsplit(warehouse_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{login}:{LOGIN_PASSWORD}@{host}"))


@pytest.fixture
def probes(conn: psycopg.Connection):
    """One small table in every schema, created as dbt and the loader would."""
    migrate(conn)
    for schema in (*INTERNAL_SCHEMAS, "marts"):
        conn.execute(f"drop table if exists {schema}.role_probe")
        conn.execute(f"create table {schema}.role_probe as select 1 as n")
    migrate(conn)
    yield
    for schema in (*INTERNAL_SCHEMAS, "marts"):
        conn.execute(f"drop table if exists {schema}.role_probe")


def test_the_migration_creates_the_four_roles(conn: psycopg.Connection) -> None:
    """Rule 3: loading, transforming, BI and export each have a group role."""
    migrate(conn)
    found = {r[0] for r in conn.execute("select rolname from pg_roles where rolname like 'urm\\_%'")}
    assert {"urm_loader", "urm_transformer", "urm_bi", "urm_exporter"} <= found


@pytest.mark.parametrize("group", ["urm_bi", "urm_exporter"])
def test_bi_and_export_read_marts_and_nothing_else_and_write_nothing(
    conn: psycopg.Connection, probes: None, warehouse_url: str, group: str
) -> None:
    """Rule 3: logged in as a member of urm_bi or urm_exporter, marts can be read; raw,
    quarantine, restricted, staging and intermediate cannot; nothing can be written."""
    with psycopg.connect(_login_url(warehouse_url, group), autocommit=True) as reader:
        assert reader.execute("select n from marts.role_probe").fetchone() == (1,)
        for schema in INTERNAL_SCHEMAS:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(f"select * from {schema}.role_probe")
        for statement in (
            "insert into marts.role_probe values (2)",
            "update marts.role_probe set n = 3",
            "delete from marts.role_probe",
            "create table marts.role_probe_mine (n integer)",
            "create table staging.role_probe_mine (n integer)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)


def test_loader_writes_landing_and_transformer_reads_it(
    conn: psycopg.Connection, probes: None, warehouse_url: str
) -> None:
    """Rule 3: the loader writes raw, quarantine and restricted but reads no mart; the
    transformer reads raw and builds in intermediate but reads no quarantine or restricted."""
    with psycopg.connect(_login_url(warehouse_url, "urm_loader"), autocommit=True) as loader:
        for schema in ("raw", "quarantine", "restricted"):
            loader.execute(f"insert into {schema}.role_probe values (2)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            loader.execute("select * from marts.role_probe")
    with psycopg.connect(_login_url(warehouse_url, "urm_transformer"), autocommit=True) as transformer:
        assert transformer.execute("select count(*) from raw.role_probe").fetchone() == (2,)
        transformer.execute("create table intermediate.role_probe_built as select 1 as n")
        transformer.execute("drop table intermediate.role_probe_built")
        for schema in ("quarantine", "restricted"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                transformer.execute(f"select * from {schema}.role_probe")


def test_dbt_applies_the_grants_at_the_end_of_every_run(
    conn: psycopg.Connection, probes: None, warehouse_url: str, tmp_path: Path
) -> None:
    """Rule 3: whatever grants were there before, a dbt run leaves BI and export reading marts
    only, read-only (the on-run-end macro apply_privacy_grants)."""
    from urm.platform.dbt import run_dbt

    conn.execute("grant usage on schema staging to urm_bi")
    conn.execute("grant select on staging.role_probe to urm_bi")  # a leak someone left behind
    conn.execute("grant insert on marts.role_probe to urm_bi")
    conn.execute("revoke select on marts.role_probe from urm_bi, urm_exporter")
    result = run_dbt(
        "run",
        "--select",
        "stg_campus__roster_loads",
        "--target-path",
        str(tmp_path / "target"),
        url=warehouse_url,
    )
    assert "on-run-end" in result.stdout
    with psycopg.connect(_login_url(warehouse_url, "urm_bi"), autocommit=True) as reader:
        assert reader.execute("select n from marts.role_probe").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("select * from staging.role_probe")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("insert into marts.role_probe values (2)")
    with psycopg.connect(_login_url(warehouse_url, "urm_exporter"), autocommit=True) as exporter:
        assert exporter.execute("select n from marts.role_probe").fetchone() == (1,)
