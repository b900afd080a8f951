"""The `urm` command as a user types it: help everywhere, --json output, errors that say what to
do, and the SUSHI harvest through the real client against the local server."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.conftest import TEST_KEY
from tests.helpers import write
from tests.test_circulation_parsers import GOOD, HEADER
from urm.cli import app

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())
    monkeypatch.setenv("URM_LANDING_DIR", str(tmp_path / "landing"))
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["demo"],
        ["synth"],
        ["ingest"],
        ["build"],
        ["validate"],
        ["formats"],
        ["warehouse"],
        ["warehouse", "url"],
        ["warehouse", "start"],
        ["warehouse", "stop"],
        ["warehouse", "psql"],
        ["status"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.integration
def test_ingest_json_reports_the_load_and_a_second_load_is_skipped(
    conn: psycopg.Connection, cli_env: Path
) -> None:
    bad_date = "2025-99-01 10:00:00,MAIN,0,issue,,7,BK,S,1,,UG,opac"
    path = write(cli_env / "s.csv", f"{HEADER}\n{GOOD}\n{bad_date}\n")
    args = ["ingest", "circulation", "--format", "koha-csv", str(path), "--json", "--max-reject-share", "0.6"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert report["source"] == "circulation" and report["rows_loaded"] == 1
    assert report["rows_quarantined"] == 1 and report["batch_id"]
    again = json.loads(runner.invoke(app, args).stdout.strip().splitlines()[-1])
    assert again["skipped"] is True and again["batch_id"] == report["batch_id"]
    assert conn.execute("select count(*) from raw.koha_statistics").fetchone() == (1,)


@pytest.mark.integration
def test_ingest_over_the_threshold_fails_with_what_to_do(conn: psycopg.Connection, cli_env: Path) -> None:
    path = write(cli_env / "bad.csv", f"{HEADER}\n{GOOD}\nnot,a,koha,row\n")
    result = runner.invoke(
        app, ["ingest", "circulation", "--format", "koha-csv", str(path), "--max-reject-share", "0.1"]
    )
    assert result.exit_code == 2
    assert "bad.csv" in result.output and "line 3" in result.output and "--max-reject-share" in result.output


def test_unknown_format_lists_the_known_ones(cli_env: Path) -> None:
    result = runner.invoke(app, ["ingest", "circulation", "--format", "marc", "x.csv"])
    assert result.exit_code == 2 and "koha-csv" in result.output


@pytest.mark.integration
def test_ingest_counter_over_sushi_with_the_real_client(
    conn: psycopg.Connection, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    from urm_demo.sushi_server import SushiServer
    from urm_demo.synth.counter import synthetic_counter_usage

    usage = synthetic_counter_usage(date(2025, 9, 1), date(2025, 10, 31), platforms=["CNKI"])
    with SushiServer(usage) as server:
        monkeypatch.setenv("URM_SUSHI_CUSTOMER_ID", server.customer_id)
        monkeypatch.setenv("URM_SUSHI_REQUESTOR_ID", server.requestor_id)
        monkeypatch.setenv("URM_SUSHI_API_KEY", server.api_key)
        args = [
            "ingest",
            "counter",
            "--format",
            "sushi",
            server.base_url,
            "--platform",
            "CNKI",
            "--begin",
            "2025-09",
            "--end",
            "2025-10",
            "--report",
            "PR",
            "--report",
            "TR",
            "--json",
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.strip().splitlines() if line.startswith("{")]
        assert len(rows) == 2 and all(r["rows_loaded"] > 0 for r in rows)
        monkeypatch.setenv("URM_SUSHI_API_KEY", "wrong")
        denied = runner.invoke(app, args)
    assert denied.exit_code == 2 and "2020" in denied.output
    months = conn.execute("select count(distinct month) from raw.counter_usage").fetchone()
    assert months == (2,)


def _one_line_error(result) -> str:
    """A user error ends with exit 2 and one line, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def test_missing_file_is_one_line(cli_env: Path) -> None:
    result = runner.invoke(app, ["ingest", "ezproxy", str(cli_env / "nowhere.log")])
    assert "nowhere.log: no such file" in _one_line_error(result)


def test_wrong_or_missing_format_is_one_line(cli_env: Path) -> None:
    line = _one_line_error(runner.invoke(app, ["ingest", "circulation", "x.csv"]))
    assert "--format" in line and "koha-csv" in line
    unknown = runner.invoke(app, ["ingest", "nosuchsource", "x.csv"])
    assert unknown.exit_code == 2 and "No such command" in unknown.output


def test_option_of_another_format_is_refused(cli_env: Path) -> None:
    args = ["ingest", "circulation", "--format", "folio-json", "--encoding", "gb18030", "x.json"]
    assert "--encoding does not apply to --format folio-json" in _one_line_error(runner.invoke(app, args))


def test_unreachable_warehouse_is_one_line(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URM_WAREHOUSE_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    path = write(cli_env / "s.csv", f"{HEADER}\n{GOOD}\n")
    line = _one_line_error(runner.invoke(app, ["ingest", "circulation", "-f", "koha-csv", str(path)]))
    assert "cannot reach the warehouse" in line and "URM_WAREHOUSE_URL" in line


def test_bad_key_is_one_line(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URM_PSEUDONYM_KEY", "short")
    path = write(cli_env / "s.csv", f"{HEADER}\n{GOOD}\n")
    line = _one_line_error(runner.invoke(app, ["ingest", "circulation", "-f", "koha-csv", str(path)]))
    assert "URM_PSEUDONYM_KEY is too short" in line


def test_debug_shows_the_traceback(cli_env: Path) -> None:
    result = runner.invoke(app, ["--debug", "ingest", "ezproxy", str(cli_env / "nowhere.log")])
    assert result.exit_code == 2 and "Traceback" in result.output


@pytest.mark.integration
def test_ezproxy_loads_without_format_as_first_specified(conn: psycopg.Connection, cli_env: Path) -> None:
    log = write(
        cli_env / "access.log",
        '10.1.2.3 - jdoe [01/Mar/2024:09:00:00 +0800] "GET http://www.jstor.org/x HTTP/1.1" 200 512\n',
    )
    result = runner.invoke(app, ["ingest", "ezproxy", "--log-format", '%h %l %u %t "%r" %s %b', str(log)])
    assert result.exit_code == 0, result.output
    assert conn.execute("select count(*) from raw.ezproxy_requests").fetchone() == (1,)
