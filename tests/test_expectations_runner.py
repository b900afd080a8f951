"""How the landing runner keeps GX fast without changing what it reports: statistics before the
checks are planned, a query asset's columns read without its rows, sample values fetched only for
the checks that failed."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from expectations import validate_landing
from expectations.runner import COUNTS_ONLY, _analyze_stale, _columns_without_rows, _validate
from expectations.suites import LANDING_SUITES
from ingest.campus.tables import CAMPUS_UNITS
from ingest.schema import migrate
from tests.conftest import _with_database
from tests.test_campus_expectations import APRIL, SEPT, card, land_with, person
from tests.test_expectations import land

AS_OF = datetime(2025, 12, 1, tzinfo=UTC)


def reltuples(conn: psycopg.Connection, table: str) -> float:
    return conn.execute(
        "select reltuples from pg_class where oid = %s::regclass", (f"raw.{table}",)
    ).fetchone()[0]  # type: ignore[index]


@pytest.mark.integration
def test_a_table_the_checks_join_is_analyzed_before_they_run(warehouse_url: str) -> None:
    # a table no analyze has seen yet, as raw.campus_cards is right after a first campus sync: in
    # a warehouse of its own (the shared test database's raw.campus_cards has been analyzed, and
    # staging views depend on it)
    database = "urm_test_unanalyzed"
    admin_url = _with_database(warehouse_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"drop database if exists {database} with (force)")
        admin.execute(f"create database {database}")
    url = _with_database(warehouse_url, database)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
            conn.execute("alter table raw.campus_cards set (autovacuum_enabled = false)")
            land(conn, CAMPUS_UNITS, [{"hub": "h", "kind": "org_unit", "code": "CS", "deleted": False}])
            batch = land_with(
                conn,
                [person(1), person(2, college_code="XX")],
                [card(1, "OLD", SEPT, APRIL), card(1, "C1", APRIL), card(2, "C2", SEPT)],
            )
            assert reltuples(conn, "campus_cards") < 0  # never analyzed

            report = validate_landing(url, ["campus_person_records"], [batch], as_of=AS_OF)

            assert reltuples(conn, "campus_cards") == 3
            # the checks are the same: the unknown college is still caught, on this batch only
            assert [(f.expectation, f.why) for f in report.failures] == [
                ("unexpected_rows_expectation", "college_code names a college or office the campus API lists")
            ]
            assert "observed 1" in report.summary()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"drop database if exists {database} with (force)")


def changed_since_analyze(conn: psycopg.Connection, table: str, at_least: int) -> None:
    """Wait until the counters another session flushes show `at_least` changes of `table`."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        row = conn.execute(
            "select n_mod_since_analyze from pg_stat_user_tables where relid = %s::regclass",
            (f"raw.{table}",),
        ).fetchone()
        if row and row[0] >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError(f"raw.{table}: fewer than {at_least} changes counted")


def units(conn: psycopg.Connection, prefix: str, count: int) -> None:
    land(
        conn,
        CAMPUS_UNITS,
        [{"hub": "h", "kind": "major", "code": f"{prefix}{n}", "deleted": False} for n in range(count)],
    )
    conn.execute("select pg_stat_force_next_flush()")


@pytest.mark.integration
def test_statistics_are_refreshed_only_when_missing_or_stale(conn: psycopg.Connection) -> None:
    with psycopg.connect(conn.info.dsn, autocommit=True) as other:  # sees what the loads counted
        units(conn, "M", 300)
        changed_since_analyze(other, "campus_units", 300)
        other.execute("analyze raw.campus_units")
        assert _analyze_stale(other, {"campus_units"}) == []

        units(conn, "N", 20)  # under autovacuum's threshold: 50 + 10 % of 300 rows
        changed_since_analyze(other, "campus_units", 20)
        assert _analyze_stale(other, {"campus_units"}) == []

        units(conn, "P", 600)
        changed_since_analyze(other, "campus_units", 620)
        assert _analyze_stale(other, {"campus_units"}) == ["campus_units"]
        assert _analyze_stale(other, {"campus_units"}) == []


@pytest.mark.integration
def test_a_query_assets_columns_are_read_without_its_rows(
    conn: psycopg.Connection, warehouse_url: str
) -> None:
    land(
        conn,
        CAMPUS_UNITS,
        [{"hub": "h", "kind": "major", "code": f"M{n}", "deleted": False} for n in range(5)],
    )
    query = "select * from raw.campus_units where kind = 'major'"
    engine = sa.create_engine(warehouse_url.replace("postgresql://", "postgresql+psycopg://", 1))
    _columns_without_rows(engine, {query})
    try:
        with engine.connect() as connection:
            bare = connection.execute(sa.text(query))
            assert "code" in list(bare.keys()) and bare.fetchall() == []
            # the same query inside other SQL (what the metrics run) is left alone
            counted = connection.execute(sa.text(f"select count(*) from ({query}) as q")).scalar()
            assert counted == 5
    finally:
        engine.dispose()


def _result(config: Any, success: bool, values: list[str]) -> Any:
    return SimpleNamespace(expectation_config=config, success=success, values=values)


class FakeBatch:
    """Answers validate() like GX: one result per expectation, sample values only when asked."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.calls: list[tuple[Any, list[str]]] = []

    def validate(self, suite: Any, result_format: Any) -> Any:
        configs = [e.configuration for e in suite.expectations]
        self.calls.append((result_format, [c.kwargs.get("column") for c in configs]))
        samples = result_format == "SUMMARY"
        return SimpleNamespace(
            results=[
                _result(c, c.kwargs.get("column") not in self.failing, ["x"] if samples else [])
                for c in configs
            ]
        )


def test_sample_values_are_fetched_for_the_failed_checks_only() -> None:
    def suite() -> Any:
        return LANDING_SUITES["koha_statistics"](AS_OF)

    batch = FakeBatch(failing={"type"})

    results = _validate(batch, suite(), suite)

    assert batch.calls[0][0] == COUNTS_ONLY
    assert batch.calls[1:] == [("SUMMARY", ["type", "type"])]  # not null, one of the Koha types
    assert [r.success for r in results] == [
        c.kwargs.get("column") != "type" for c in (e.configuration for e in suite().expectations)
    ]
    assert {r.expectation_config.kwargs.get("column"): r.values for r in results if not r.success} == {
        "type": ["x"]
    }
    assert all(r.values == [] for r in results if r.success)


def test_a_clean_batch_is_validated_once() -> None:
    def suite() -> Any:
        return LANDING_SUITES["ils_items"](AS_OF)

    batch = FakeBatch(failing=set())

    _validate(batch, suite(), suite)

    assert [call[0] for call in batch.calls] == [COUNTS_ONLY]


def test_a_run_that_loaded_nothing_new_does_not_import_great_expectations() -> None:
    # the daily campus and feedback validations paid GX's import (8-12 s) to say "nothing new"
    code = (
        "import sys\n"
        "from urm.steps.validation import validate_loaded\n"
        "print(validate_loaded(['koha_statistics'], [{'batch_id': 'b', 'skipped': True}]))\n"
        "print('great_expectations' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.splitlines() == ["nothing new was loaded: no batch to validate", "False"]
