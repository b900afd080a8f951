"""Rule 8, `urm privacy report`: opt-outs, suppressed cells, retention status and the oldest
identified row per source, the key's fingerprint and last rotation, erasures and the last
privacy-suite result; as a table for people and as JSON; counts and dates only."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ingest.privacy.keys import key_fingerprint
from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.privacy_helpers import LI, ZHANG, koha_file, roster_page
from urm.cli import app
from urm.privacy.erasure import erase_person
from urm.privacy.retention import apply_retention


@pytest.mark.integration
def test_the_report_says_where_every_rule_stands_and_names_nobody(
    conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 8: the JSON report carries each section with the warehouse's real state; the table
    for people shows the same; neither holds an identifier, a pseudonym or the key."""
    url = conn.info.dsn
    load = dict(key=TEST_KEY, max_reject_share=0.6)
    people = [ZHANG.record(), LI.record(consent={"profiling": False})]
    ingest_files(
        url, "campus", "campus-json", [roster_page(tmp_path / "p.json", people, date(2025, 9, 1))], **load
    )
    events = [(datetime(2024, 1, 10, 9), "issue", "1", LI.borrowernumber)]
    events.append((datetime(2025, 9, 2, 9), "borrow", "2", LI.borrowernumber))  # quarantined
    ingest_files(url, "circulation", "koha-csv", [koha_file(tmp_path / "s.csv", events)], **load)
    apply_retention(url, datetime(2024, 2, 1, tzinfo=UTC))
    erase_person(url, TEST_KEY, ZHANG.person_id)
    monkeypatch.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())

    result = CliRunner().invoke(app, ["privacy", "report", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) >= {
        "key",
        "consent",
        "suppressed_cells",
        "retention",
        "quarantine",
        "erasures",
        "privacy_suite",
    }
    assert report["key"]["fingerprint"] == key_fingerprint(TEST_KEY) and report["key"]["rotations"] == 0
    koha = report["retention"]["tables"]["koha_statistics"]
    assert koha["source"] == "circulation" and koha["window_days"] == 400
    # retention last ran as of 2024-02-01; today the 2024 loan is past its window: the report says so
    assert koha["oldest_identified"].startswith("2024-01-10") and koha["identified_rows_past_window"] == 1
    assert report["retention"]["last_run"]["as_of"].startswith("2024-02-01")
    assert report["quarantine"]["rows"] == 1
    assert report["erasures"]["erasures"] == 1 and report["erasures"]["last"]

    table = CliRunner().invoke(app, ["privacy", "report"])
    assert table.exit_code == 0, table.output
    assert key_fingerprint(TEST_KEY) in table.output and "koha_statistics" in table.output
    for output in (result.output, table.output):
        assert TEST_KEY.decode() not in output
        for secret in [*ZHANG.clear, *LI.clear, *ZHANG.pseudonyms(TEST_KEY), *LI.pseudonyms(TEST_KEY)]:
            assert secret not in output


@pytest.mark.parametrize("command", ["rotate-key", "erase", "retention", "check", "report"])
def test_every_privacy_command_has_help(command: str) -> None:
    """Rules 2, 4, 6, 7, 8: each command is documented where the user looks first."""
    result = CliRunner().invoke(app, ["privacy", command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
