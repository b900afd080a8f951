"""End to end, on a warehouse database of its own (so that the demo's figures other end-to-end
files check stay untouched): the demo university's EZproxy logs loaded, one of them grown by 500
lines and loaded again, then the e-resource marts rebuilt: every request counts once. Evergreen's
sample circulations reach fct_loans."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT, LogPattern
from ingest.ezproxy.parser import open_log
from ingest.run import ingest_files
from tests.conftest import TEST_KEY, _with_database
from urm.platform.dbt import run_dbt
from urm.steps.landing import ingest_landing, landing_groups

pytestmark = pytest.mark.e2e

DATABASE = "urm_test_reliability"


@pytest.fixture(scope="module")
def own_url(warehouse_url: str) -> Iterator[str]:
    from ingest.run import connect
    from ingest.schema import migrate

    admin_url = _with_database(warehouse_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"drop database if exists {DATABASE} with (force)")
        admin.execute(f"create database {DATABASE}")
    url = _with_database(warehouse_url, DATABASE)
    with connect(url) as conn:
        migrate(conn)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"drop database if exists {DATABASE} with (force)")


def well_formed_lines(landing: Path) -> int:
    """Lines of every landing log that its site's LogFormat matches, counted without our parser."""
    total = 0
    for group in landing_groups("ezproxy", landing):
        pattern = LogPattern(group.options.get("log_format") or DEFAULT_LOG_FORMAT)
        for path in group.paths:
            with open_log(path) as handle:
                total += sum(1 for line in handle if pattern.match(line.rstrip("\r\n")))
    return total


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:

        def one(query: str) -> int:
            return conn.execute(query).fetchone()[0]

        return {
            "raw": one("select count(*) from raw.ezproxy_requests"),
            "distinct_lines": one(
                "select count(distinct (source_file, source_line)) from raw.ezproxy_requests"
            ),
            "classified": one("select count(*) from intermediate.int_eresource_requests_classified"),
            "in_sessions": one(
                "select coalesce(sum(requests + static_requests + denied_requests), 0) "
                "from marts.fct_eresource_sessions"
            ),
            "sessionised": one(
                "select count(*) from intermediate.int_eresource_requests_sessionised "
                "where request_class in ('use', 'static', 'denied')"
            ),
        }


def test_a_grown_log_loaded_again_counts_each_request_once_in_the_marts(
    demo_run: dict, own_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, samples: Path
) -> None:
    landing = tmp_path / "landing"
    for part in ("campus", "ezproxy"):
        shutil.copytree(demo_run["sources"] / part, landing / part)
    monkeypatch.setenv("URM_WAREHOUSE_URL", own_url)
    monkeypatch.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())
    ingest_landing("campus", landing)
    ingest_landing("ezproxy", landing)
    evergreen = samples / "peer" / "ils" / "evergreen" / "action.circulation.sql"
    ingest_files(own_url, "circulation", "evergreen-circ", [evergreen], key=TEST_KEY, max_reject_share=0)
    selection = "+fct_eresource_sessions +fct_loans"
    run_dbt("seed", url=own_url)
    run_dbt("run", "--select", selection, url=own_url)
    before = counts(own_url)
    assert before["raw"] == before["distinct_lines"] == before["classified"] == well_formed_lines(landing)
    assert before["in_sessions"] == before["sessionised"]

    log = sorted((landing / "ezproxy").glob("*/*.log"))[0]  # a plain log: the day went on
    lines = log.read_text().splitlines(keepends=True)
    with open(log, "a") as handle:
        handle.writelines(lines[-500:])  # 500 more requests (repeats of earlier ones are real)
    results = ingest_landing("ezproxy", landing)
    grown = [r for r in results if r["file"] == str(log)]
    assert grown[0]["rows_loaded"] + grown[0]["rows_quarantined"] == 500
    assert grown[0]["first_line"] == len(lines) + 1
    assert all(r["skipped"] for r in results if r["file"] != str(log))
    run_dbt("run", "--select", selection, url=own_url)
    after = counts(own_url)
    assert after["raw"] == after["distinct_lines"] == after["classified"] == well_formed_lines(landing)
    assert after["raw"] - before["raw"] == grown[0]["rows_loaded"]
    assert after["in_sessions"] == after["sessionised"]

    with psycopg.connect(own_url) as conn:
        evergreen_loans = conn.execute(
            "select count(*) from marts.fct_loans where ils = 'evergreen'"
        ).fetchone()
    assert evergreen_loans == (486,)
