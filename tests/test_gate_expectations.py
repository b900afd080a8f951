"""The gate landing suites on a real PostgreSQL: clean gate exports pass; a swipe at an unknown
gate, a swipe outside its file's period and an implausible counter value fail, readably and
without printing a card pseudonym."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from expectations import validate_landing
from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.helpers import write

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
SWIPES = """card_number,gate,direction,passed_at,result
2100000001,MAIN-G1,in,2025-09-03 08:01:02,granted
2100000001,MAIN-G3,out,2025-09-03 10:15:00,granted
2100000002,MED-G1,in,2025-09-03 09:00:00,denied
"""


def _load(url: str, fmt: str, path: Path, **options: object) -> list[str]:
    results = ingest_files(url, "gate", fmt, [path], key=TEST_KEY, max_reject_share=1.0, options=options)
    return [r.batch_id for r in results]


def test_clean_gate_exports_pass(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, samples: Path
) -> None:
    url = warehouse_url
    batches = _load(url, "turnstile-csv", write(tmp_path / "swipes-2025-09-03.csv", SWIPES))
    batches += _load(
        url, "counter-cumulative-csv", samples / "gate/gateCounts/sampleGateCount.csv", counter_max=999999
    )
    batches += _load(url, "counter-interval-csv", samples / "peer/gate/epl/epl_lands_WMC_2014.csv")
    report = validate_landing(
        url, ["gate_passages", "gate_counter_readings", "gate_counter_intervals"], batches, as_of=AS_OF
    )
    assert report.success, report.summary()


def test_unknown_gate_and_swipe_outside_the_period_fail(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    url = warehouse_url
    bad = SWIPES + "2100000003,BACKDOOR-9,in,2025-09-04 00:30:00,granted\n"
    batches = _load(url, "turnstile-csv", write(tmp_path / "swipes-2025-09-03.csv", bad))
    report = validate_landing(url, ["gate_passages"], batches, as_of=AS_OF)
    failed = {(o.expectation, o.column) for o in report.failures}
    assert failed == {
        ("expect_column_values_to_be_in_set", "gate"),
        ("unexpected_rows_expectation", None),
    }, report.summary()
    summary = report.summary()
    assert "BACKDOOR-9" in summary and "outside the day or month" in summary
    from ingest.pseudonym import Pseudonymiser

    assert Pseudonymiser(TEST_KEY).pseudonym("card", "2100000003") not in summary


def test_implausible_counter_values_fail(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    url = warehouse_url
    text = "RuleName,In,Out,StartTime,EndTime\nEntrance,250000,3,2025-09-03T00:00:00Z,2025-09-03T01:00:00Z\n"
    batches = _load(url, "counter-interval-csv", write(tmp_path / "north.csv", text))
    report = validate_landing(url, ["gate_counter_intervals"], batches, as_of=AS_OF)
    assert [(o.expectation, o.column) for o in report.failures] == [
        ("expect_column_values_to_be_between", "count_in")
    ], report.summary()
