"""Rule 7, erasure: `urm privacy erase PERSON_ID` removes or de-identifies one person everywhere
(raw, quarantine, restricted, history, derived tables), keeps them out of later loads, and logs
that it happened without logging who. Tried by searching every table of every schema afterwards
for the person's identifiers and pseudonyms."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.helpers import write
from tests.privacy_helpers import LI, WANG, ZHANG, ezproxy_line, koha_file, roster_page, search_everywhere
from urm.cli import app
from urm.privacy.erasure import erase_person
from urm.privacy.retention import apply_retention

pytestmark = pytest.mark.integration


def _load(url: str, source: str, fmt: str, path: Path) -> list:
    return ingest_files(url, source, fmt, [path], key=TEST_KEY, max_reject_share=0.6)


@pytest.fixture
def university(conn: psycopg.Connection, tmp_path: Path) -> psycopg.Connection:
    url = conn.info.dsn
    people = [ZHANG.record(), LI.record(), WANG.record(), ZHANG.record(person_type="alien")]
    _load(url, "campus", "campus-json", roster_page(tmp_path / "people-1.json", people, date(2025, 9, 1)))
    when = datetime(2025, 9, 2, 10)
    _load(
        url,
        "circulation",
        "koha-csv",
        koha_file(
            tmp_path / "statistics.csv",
            [
                (when, "issue", "1001", ZHANG.borrowernumber),
                (when, "issue", "1002", LI.borrowernumber),
                (when, "issue", "1003", WANG.borrowernumber),
                (when, "borrow", "1004", ZHANG.borrowernumber),  # quarantined
            ],
        ),
    )
    loans = [
        {
            "id": "l1",
            "userId": ZHANG.folio_id,
            "itemId": "i1",
            "action": "checkedout",
            "loanDate": "2025-09-02T10:00:00Z",
        },
        {
            "id": "l2",
            "userId": LI.folio_id,
            "itemId": "i2",
            "action": "checkedout",
            "loanDate": "2025-09-02T10:00:00Z",
        },
        {"id": "l3", "userId": ZHANG.folio_id, "itemId": "i3", "action": "checkedout", "loanDate": "soon"},
    ]
    _load(url, "circulation", "folio-json", write(tmp_path / "loans.json", json.dumps({"loans": loans})))
    log = [
        ezproxy_line(when, ZHANG.login),
        ezproxy_line(when, LI.login),
        ezproxy_line(when, ZHANG.login, status="2x0"),
    ]
    _load(url, "ezproxy", "ezproxy-log", write(tmp_path / "site" / "a.log", "\n".join(log) + "\n"))
    zhang, li = ZHANG.pseudonyms(TEST_KEY), LI.pseudonyms(TEST_KEY)
    conn.execute("drop table if exists intermediate.erasure_probe, marts.erasure_probe")
    conn.execute(
        "create table intermediate.erasure_probe as "
        "select * from (values (%s, 1), (%s, 2)) as t(patron_key, loans)",
        (zhang[3], li[3]),
    )
    conn.execute("create table marts.erasure_probe (user_key text not null, loans integer)")
    conn.execute("insert into marts.erasure_probe values (%s, 1), (%s, 2)", (zhang[0], li[0]))
    yield conn
    conn.execute("drop table if exists intermediate.erasure_probe, marts.erasure_probe")


def _count(conn: psycopg.Connection, query: str) -> int:
    return conn.execute(query).fetchone()[0]


def test_erasure_reaches_every_table_of_every_schema(university: psycopg.Connection) -> None:
    """Rule 7: after the erasure no table holds the person's identifiers or pseudonyms; their
    events still count, de-identified; everyone else is untouched; the audit says only when and
    how many."""
    conn = university
    everything = [*ZHANG.pseudonyms(TEST_KEY), *ZHANG.clear]
    assert search_everywhere(conn, everything)  # present before, in several schemas
    others = [*LI.pseudonyms(TEST_KEY), *WANG.pseudonyms(TEST_KEY)]
    others_before = search_everywhere(conn, others)
    koha_rows = _count(conn, "select count(*) from raw.koha_statistics")

    result = erase_person(conn.info.dsn, TEST_KEY, ZHANG.person_id)

    assert search_everywhere(conn, everything) == []
    assert search_everywhere(conn, others) == others_before
    assert _count(conn, "select count(*) from raw.koha_statistics") == koha_rows
    assert _count(conn, "select count(*) from raw.koha_statistics where patron_key is null") == 1
    assert _count(conn, "select count(*) from intermediate.erasure_probe") == 2  # de-identified
    assert _count(conn, "select count(*) from marts.erasure_probe") == 1  # the persona row goes
    log = conn.execute(
        "select people, rows_deleted, rows_deidentified from restricted.erasure_log"
    ).fetchall()
    assert log == [(1, result.rows_deleted, result.rows_deidentified)] and result.rows_deleted > 0


def test_an_erased_person_stays_out_of_later_loads(university: psycopg.Connection, tmp_path: Path) -> None:
    """Rule 7: a roster that lists the person again drops them at load; what another source sends
    about them is de-identified by the next retention run."""
    conn = university
    erase_person(conn.info.dsn, TEST_KEY, ZHANG.person_id)
    url = conn.info.dsn
    [roster] = _load(
        url,
        "campus",
        "campus-json",
        roster_page(tmp_path / "people-2.json", [ZHANG.record(), LI.record()], date(2025, 10, 1)),
    )
    assert any("erased" in w for w in roster.warnings)
    when = datetime(2025, 10, 2, 10)
    _load(
        url,
        "circulation",
        "koha-csv",
        koha_file(tmp_path / "s2.csv", [(when, "issue", "2001", ZHANG.borrowernumber)]),
    )
    assert search_everywhere(conn, ZHANG.pseudonyms(TEST_KEY)) != []  # the ILS sent them again
    apply_retention(url, datetime(2025, 10, 3, tzinfo=UTC))
    assert search_everywhere(conn, [*ZHANG.pseudonyms(TEST_KEY), *ZHANG.clear]) == []
    assert _count(conn, "select count(*) from raw.campus_people where snapshot_date = '2025-10-01'") == 1


def test_the_command_says_how_much_not_who(
    university: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 7: `urm privacy erase` reports counts, and the person id appears in no output."""
    monkeypatch.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())
    result = CliRunner().invoke(
        app, ["privacy", "erase", LI.person_id, "--identifier", f"login:{LI.login}", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["rows_deleted"] > 0
    assert all(identifier not in result.output for identifier in LI.clear)
    assert search_everywhere(university, [*LI.pseudonyms(TEST_KEY), *LI.clear]) == []
