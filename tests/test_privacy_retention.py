"""Rule 6, retention: identified rows older than their source's window are de-identified or
purged, quarantine rows, load history and attribute history (roster snapshots, identity vault)
included, while aggregates keep their rows. Tried by loading old data, running the retention
function and searching every table of every schema for the old pseudonyms."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.helpers import write
from tests.privacy_helpers import LI, ZHANG, ezproxy_line, koha_file, roster_page, search_everywhere
from urm.privacy.retention import apply_retention

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def _load(url: str, source: str, fmt: str, path: Path) -> str:
    [result] = ingest_files(url, source, fmt, [path], key=TEST_KEY, max_reject_share=0.6)
    return result.batch_id


@pytest.fixture
def old_and_new(conn: psycopg.Connection, tmp_path: Path) -> psycopg.Connection:
    """Zhang left the university years ago; Li is still here."""
    url = conn.info.dsn
    old_roster = _load(
        url,
        "campus",
        "campus-json",
        roster_page(tmp_path / "old.json", [ZHANG.record(), LI.record()], date(2022, 9, 1)),
    )
    _load(url, "campus", "campus-json", roster_page(tmp_path / "new.json", [LI.record()], date(2026, 5, 1)))
    koha = koha_file(
        tmp_path / "statistics.csv",
        [
            (datetime(2024, 1, 10, 9), "issue", "1001", ZHANG.borrowernumber),
            (datetime(2024, 1, 11, 9), "issue", "1002", LI.borrowernumber),
            (datetime(2026, 5, 10, 9), "issue", "1003", LI.borrowernumber),
            (datetime(2024, 1, 12, 9), "borrow", "1004", ZHANG.borrowernumber),  # quarantined
        ],
    )
    _load(url, "circulation", "koha-csv", koha)
    log = [
        ezproxy_line(datetime(2024, 1, 10, 9), ZHANG.login),
        ezproxy_line(datetime(2026, 5, 10, 9), LI.login),
        ezproxy_line(datetime(2026, 5, 10, 9), LI.login, status="2x0"),  # quarantined, recent
    ]
    _load(url, "ezproxy", "ezproxy-log", write(tmp_path / "site" / "a.log", "\n".join(log) + "\n"))
    conn.execute(
        "update quarantine.rejected_rows set rejected_at = '2024-01-12' "
        "where target_table = 'koha_statistics'"
    )
    conn.execute("update raw.load_log set finished_at = '2022-09-02' where batch_id = %s", (old_roster,))
    # Derived tables as dbt builds them, holding both people's keys.
    zhang, li = ZHANG.pseudonyms(TEST_KEY), LI.pseudonyms(TEST_KEY)
    conn.execute("drop table if exists intermediate.retention_probe, marts.retention_probe")
    conn.execute(
        "create table intermediate.retention_probe as "
        "select * from (values (%s, 1), (%s, 2)) as t(patron_key, loans)",
        (zhang[3], li[3]),
    )
    conn.execute(
        "create table marts.retention_probe (user_key text not null, loans integer)",
    )
    conn.execute("insert into marts.retention_probe values (%s, 1), (%s, 2)", (zhang[0], li[0]))
    yield conn
    conn.execute("drop table if exists intermediate.retention_probe, marts.retention_probe")


def _count(conn: psycopg.Connection, query: str) -> int:
    return conn.execute(query).fetchone()[0]


def test_old_identified_rows_leave_every_schema_and_aggregates_keep_their_rows(
    old_and_new: psycopg.Connection,
) -> None:
    """Rule 6: after retention, no table of any schema holds a pseudonym (or identifier) of the
    person only old rows knew; their events still count; the current person's recent rows and
    the newest roster are untouched."""
    conn = old_and_new
    assert search_everywhere(conn, ZHANG.pseudonyms(TEST_KEY))  # the old person is there before
    koha_rows = _count(conn, "select count(*) from raw.koha_statistics")
    proxy_rows = _count(conn, "select count(*) from raw.ezproxy_requests")

    result = apply_retention(conn.info.dsn, AS_OF)

    assert search_everywhere(conn, [*ZHANG.pseudonyms(TEST_KEY), *ZHANG.clear]) == []
    assert _count(conn, "select count(*) from raw.koha_statistics") == koha_rows  # aggregates keep them
    assert _count(conn, "select count(*) from raw.ezproxy_requests") == proxy_rows
    assert _count(conn, "select count(*) from raw.koha_statistics where patron_key is not null") == 1
    assert _count(conn, "select count(*) from raw.ezproxy_requests where client_network is not null") == 1
    li = LI.pseudonyms(TEST_KEY)
    assert _count(conn, "select count(*) from raw.campus_people") == 1  # the newest snapshot stays
    assert conn.execute("select person_key from raw.campus_people").fetchone() == (li[0],)
    assert conn.execute("select user_key from marts.retention_probe").fetchall() == [(li[0],)]
    assert _count(conn, "select count(*) from intermediate.retention_probe") == 2  # de-identified, kept
    assert _count(conn, "select count(*) from quarantine.rejected_rows") == 1  # the recent one
    assert conn.execute(
        "select count(*) from restricted.identity where person_key = %s", (li[0],)
    ).fetchone()[0]
    assert result.load_log_deleted == 1  # the old roster load: its rows are gone
    assert result.rows_deidentified >= 3 and result.rows_deleted >= 3
    ran = conn.execute("select as_of, rows_deleted from restricted.retention_runs").fetchall()
    assert ran == [(AS_OF, result.rows_deleted)]


def test_nothing_inside_its_window_is_touched(old_and_new: psycopg.Connection) -> None:
    """Rule 6: a run whose date is inside every window changes nothing."""
    conn = old_and_new
    before = search_everywhere(conn, [*ZHANG.pseudonyms(TEST_KEY), *LI.pseudonyms(TEST_KEY)])
    result = apply_retention(conn.info.dsn, datetime(2024, 1, 13, tzinfo=UTC))
    assert (result.rows_deleted, result.rows_deidentified) == (0, 0)
    assert search_everywhere(conn, [*ZHANG.pseudonyms(TEST_KEY), *LI.pseudonyms(TEST_KEY)]) == before
