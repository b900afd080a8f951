"""Rule 5, consent as a ledger: every change of the profiling and ranking flags is kept with its
dates (intermediate.consent_ledger, from every roster load), and an opt-out removes the person
from individual personas at the next run while they still count in aggregates. Tried across two
runs with a change in between, through the real loader and dbt. (That no individual mart or
ranking holds an opted-out person, whatever model built it, is the privacy suite's rule:
tests/test_privacy_suite.py.)"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest

from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.privacy_helpers import LI, WANG, ZHANG, koha_file, roster_page
from urm.platform.dbt import run_dbt

pytestmark = pytest.mark.integration


def _run(url: str, target: Path) -> None:
    result = run_dbt(
        "build",
        "--select",
        "+user_persona",
        "+consent_ledger",
        "--resource-type",
        "model",
        "--resource-type",
        "seed",
        "--target-path",
        str(target),
        url=url,
    )
    assert "Completed successfully" in result.stdout, result.stdout[-3000:]


def _rows(conn: psycopg.Connection, query: str, *params: object) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def test_an_opt_out_leaves_personas_at_the_next_run_and_the_ledger_keeps_both_values(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    """Rule 5: run 1 has Zhang's persona; Zhang opts out of profiling (and rankings) in the next
    roster; run 2 has no persona for Zhang, who still counts in dim_user and whose loans still
    count in fct_loans; the ledger holds each value with the dates it held."""
    load = dict(key=TEST_KEY, max_reject_share=0.25)
    consenting = ZHANG.record(consent={"profiling": True, "ranking": True})
    people = [consenting, LI.record(), WANG.record()]
    ingest_files(
        warehouse_url,
        "campus",
        "campus-json",
        [roster_page(tmp_path / "p-09.json", people, date(2025, 9, 1))],
        **load,
    )
    loans = [(datetime(2025, 9, 2, 10), "issue", "1001", ZHANG.borrowernumber)]
    loans.append((datetime(2025, 9, 3, 10), "issue", "1002", LI.borrowernumber))
    ingest_files(warehouse_url, "circulation", "koha-csv", [koha_file(tmp_path / "s.csv", loans)], **load)
    _run(warehouse_url, tmp_path / "target")

    zhang = ZHANG.pseudonyms(TEST_KEY)[0]
    assert _rows(conn, "select loans_in_window from marts.user_persona where user_key = %s", zhang) == [(1,)]

    opted_out = ZHANG.record(consent={"profiling": False, "ranking": False})
    people = [opted_out, LI.record(), WANG.record()]
    ingest_files(
        warehouse_url,
        "campus",
        "campus-json",
        [roster_page(tmp_path / "p-10.json", people, date(2025, 10, 1))],
        **load,
    )
    _run(warehouse_url, tmp_path / "target")

    assert _rows(conn, "select count(*) from marts.user_persona where user_key = %s", zhang) == [(0,)]
    assert _rows(conn, "select count(*) from marts.user_persona") == [(2,)]
    assert _rows(conn, "select consent_profiling from marts.dim_user where user_key = %s", zhang) == [
        (False,)
    ]
    assert _rows(conn, "select count(*) from marts.dim_user") == [(3,)]  # still counted
    assert _rows(conn, "select count(*) from marts.fct_loans where user_key = %s", zhang) == [(1,)]
    ledger = _rows(
        conn,
        "select flag, value, valid_from, valid_to from intermediate.consent_ledger "
        "where user_key = %s order by 1, 3",
        zhang,
    )
    assert ledger == [
        ("profiling", True, date(2025, 9, 1), date(2025, 10, 1)),
        ("profiling", False, date(2025, 10, 1), None),
        ("ranking", True, date(2025, 9, 1), date(2025, 10, 1)),
        ("ranking", False, date(2025, 10, 1), None),
    ]
    li = LI.pseudonyms(TEST_KEY)[0]
    assert _rows(conn, "select count(*) from intermediate.consent_ledger where user_key = %s", li) == [(2,)]
