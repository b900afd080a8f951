"""Loads and migrations at the same time, in real concurrent processes against the test warehouse:
nothing deadlocks, nothing fails, nothing lands twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest.errors import LoadInProgress
from ingest.loader import load_file
from ingest.registry import get_format
from ingest.run import ingest_files
from ingest.schema import migrate
from tests.conftest import TEST_KEY, _with_database
from tests.helpers import context, write
from tests.reliability_helpers import (
    Flag,
    Started,
    count,
    in_processes,
    koha_file,
    no_errors,
    paused,
    waiting_for_advisory_lock,
)

pytestmark = pytest.mark.integration


def test_loads_of_the_same_file_at_once_land_it_once(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    path = koha_file(tmp_path / "statistics-2025-09.csv", 5_000)

    def load() -> tuple[int, bool]:
        [result] = ingest_files(
            warehouse_url, "circulation", "koha-csv", [path], key=TEST_KEY, max_reject_share=0.25
        )
        return result.rows_loaded, result.skipped

    results = in_processes(load, load, load)
    no_errors(results)
    assert sorted(results) == [(0, True), (0, True), (5_000, False)]
    assert count(conn, "raw.koha_statistics") == 5_000
    assert count(conn, "raw.load_log") == 1


def test_two_landing_runs_of_one_source_at_once_give_one_copy(
    conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urm.steps.landing import ingest_landing

    monkeypatch.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())
    monkeypatch.setenv("URM_CIRCULATION_FORMATS", "koha-csv,koha-items-csv")
    koha = tmp_path / "circulation" / "koha"
    for month, first in (("07", 1), ("08", 5_001), ("09", 10_001)):
        koha_file(koha / f"statistics-2025-{month}.csv", 5_000, first_item=first)
    write(
        koha / "items.csv",
        "itemnumber,barcode,itemcallnumber\n" + "".join(f"{n},B{n},TP{n}\n" for n in range(900)),
    )

    def landing_run() -> int:
        return sum(r["rows_loaded"] for r in ingest_landing("circulation", tmp_path))

    results = in_processes(landing_run, landing_run)
    no_errors(results)
    assert sum(results) == 15_900  # each file was loaded by one run, skipped by the other
    assert count(conn, "raw.koha_statistics") == 15_000
    assert count(conn, "raw.ils_items") == 900
    assert count(conn, "raw.load_log") == 4


@pytest.mark.parametrize("patience", [None, 0.3], ids=["waits-then-skips", "gives-up"])
def test_a_second_load_of_a_file_being_loaded_waits_or_gives_up_clearly(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, patience: float | None
) -> None:
    path = koha_file(tmp_path / "statistics.csv", 300)
    fmt = get_format("circulation", "koha-csv")
    reached, go = Flag(), Flag()

    def first() -> int:
        with psycopg.connect(warehouse_url, autocommit=True) as own:
            return load_file(
                own, paused(fmt, reached, go), path, context(), max_reject_share=0.25
            ).rows_loaded

    def second() -> Any:
        assert reached.wait(30)
        with psycopg.connect(warehouse_url, autocommit=True) as own:
            try:
                result = load_file(own, fmt, path, context(), max_reject_share=0.25, lock_wait=patience)
            except LoadInProgress as error:
                return "LoadInProgress", str(error)
            finally:
                go.set()
            return result.skipped, result.warnings

    a, b = Started(first), Started(second)
    try:
        if patience is None:
            assert waiting_for_advisory_lock(warehouse_url), "the second load did not wait"
            go.set()
        assert a.get(60) == 300
        outcome = b.get(60)
    finally:
        go.set()
        a.stop()
        b.stop()
    if patience is None:
        skipped, warnings = outcome
        assert skipped and "waited" in warnings[0]
    else:
        kind, message = outcome
        assert kind == "LoadInProgress"
        assert (
            "statistics.csv" in message and "another process" in message and "URM_LOAD_LOCK_WAIT" in message
        )
    assert count(conn, "raw.koha_statistics") == 300 and count(conn, "raw.load_log") == 1


def test_a_migration_while_a_load_is_running_neither_waits_for_it_nor_deadlocks(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    path = koha_file(tmp_path / "statistics.csv", 300)
    fmt = get_format("circulation", "koha-csv")
    reached, go = Flag(), Flag()

    def loading() -> int:
        with psycopg.connect(warehouse_url, autocommit=True) as own:
            return load_file(
                own, paused(fmt, reached, go), path, context(), max_reject_share=0.25
            ).rows_loaded

    def migrating() -> float:
        assert reached.wait(30)
        began = time.monotonic()
        with psycopg.connect(warehouse_url, autocommit=True) as own:
            own.execute("set lock_timeout = '10s'")
            migrate(own)
        return time.monotonic() - began

    load, migration = Started(loading), Started(migrating)
    try:
        took = migration.get(60)  # while the load is still paused inside its transaction
        go.set()
        assert load.get(60) == 300
    finally:
        go.set()
        load.stop()
        migration.stop()
    assert took < 5
    assert count(conn, "raw.koha_statistics") == 300


def test_migrations_of_a_new_warehouse_at_once_all_succeed(warehouse_url: str) -> None:
    database = "urm_test_migrations"
    admin_url = _with_database(warehouse_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"drop database if exists {database}")
        admin.execute(f"create database {database}")
    url = _with_database(warehouse_url, database)

    def migration() -> int:
        with psycopg.connect(url, autocommit=True) as own:
            return len(migrate(own))

    try:
        results = in_processes(*[migration] * 4)
        no_errors(results)
        assert len(set(results)) == 1
        with psycopg.connect(url, autocommit=True) as check:
            schemas = {r[0] for r in check.execute("select nspname from pg_namespace")}
            assert {"raw", "quarantine", "restricted", "staging", "intermediate", "marts"} <= schemas
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"drop database if exists {database} with (force)")


def test_counter_reports_replacing_the_same_month_at_once_leave_one_copy(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    def report(number: int) -> Path:
        rows = "".join(
            f"Title {t}\tPub\t\tPlat\t\t\t\t\t\t\tBook\tControlled\tRegular\t"
            f"Total_Item_Requests\t{number}\t{number}\n"
            for t in range(200)
        )
        header = (
            "Report_Name\tTitle Master Report\nReport_ID\tTR\nRelease\t5\nInstitution_Name\tU\n"
            "Institution_ID\t\nMetric_Types\t\nReport_Filters\t\nReport_Attributes\t\nExceptions\t\n"
            "Reporting_Period\tBegin_Date=2025-01-01; End_Date=2025-01-31\nCreated\t2025-02-03\n"
            "Created_By\tx\n\n"
            "Title\tPublisher\tPublisher_ID\tPlatform\tDOI\tProprietary_ID\tISBN\tPrint_ISSN\t"
            "Online_ISSN\tURI\tData_Type\tAccess_Type\tAccess_Method\tMetric_Type\t"
            "Reporting_Period_Total\tJan-2025\n"
        )
        return write(tmp_path / f"tr-{number}.tsv", header + rows)

    paths = [report(n) for n in (1, 2, 3)]

    def load(path: Path) -> Callable[[], int]:
        def run() -> int:
            [result] = ingest_files(
                warehouse_url, "counter", "counter-tsv", [path], key=TEST_KEY, max_reject_share=0.25
            )
            return result.rows_loaded

        return run

    results = in_processes(*(load(p) for p in paths))
    no_errors(results)
    assert results == [200, 200, 200]
    rows = conn.execute("select count(*), count(distinct batch_id) from raw.counter_usage").fetchone()
    assert rows == (200, 1)  # the last of the three to commit replaced the others
