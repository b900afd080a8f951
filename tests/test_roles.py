"""Roles: the BI role reads marts and nothing else; tried by breaking in as that role."""

from __future__ import annotations

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
