"""`urm ingest gate` as a user types it: the gate formats' options are flags, a load reports in
JSON, a wrong header ends in one line that says what to do."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.conftest import TEST_KEY
from tests.helpers import write
from urm.cli import app

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())
    monkeypatch.setenv("URM_LANDING_DIR", str(tmp_path / "landing"))
    return tmp_path


def test_gate_flags_come_from_the_formats() -> None:
    result = runner.invoke(app, ["ingest", "gate", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for flag in (
        "--columns",
        "--period",
        "--counter-max",
        "--bidirectional",
        "--interval-minutes",
        "--timezone",
    ):
        assert flag in result.output, flag
    for name in ("turnstile-csv", "turnstile-jsonl", "counter-cumulative-csv", "counter-interval-csv"):
        assert name in result.output


@pytest.mark.integration
def test_cumulative_counter_through_the_cli(conn: psycopg.Connection, cli_env: Path, samples: Path) -> None:
    path = samples / "gate" / "gateCounts" / "sampleGateCount.csv"
    args = ["ingest", "gate", "-f", "counter-cumulative-csv", str(path), "--counter-max", "999999",
            "--bidirectional", "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["table"], report["rows_loaded"], report["rows_quarantined"]) == (
        "gate_counter_readings",
        333,
        0,
    )
    flags = conn.execute(
        "select distinct counter_max, bidirectional from raw.gate_counter_readings"
    ).fetchall()
    assert flags == [(999999, True)]


@pytest.mark.integration
def test_unknown_turnstile_header_says_what_to_do(conn: psycopg.Connection, cli_env: Path) -> None:
    path = write(
        cli_env / "door.csv", "CardNo,Door,InOut,Time,Status\n2100000001,N1,IN,2025-09-03 08:00,OK\n"
    )
    result = runner.invoke(app, ["ingest", "gate", "-f", "turnstile-csv", str(path)])
    assert result.exit_code == 2, result.output
    assert "door.csv" in result.output and "--columns" in result.output
    mapped = [
        "--columns",
        "card_number=CardNo,gate=Door,direction=InOut,passed_at=Time,result=Status",
        "--json",
    ]
    result = runner.invoke(app, ["ingest", "gate", "-f", "turnstile-csv", str(path), *mapped])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["rows_loaded"] == 1
