"""EZproxy logs through the real loader and the dbt models, on the test PostgreSQL."""

from __future__ import annotations

import gzip
import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest.campus.tables import CAMPUS_PEOPLE
from ingest.pseudonym import Pseudonymiser
from ingest.run import ingest_files
from urm.platform.dbt import run_dbt

from .conftest import TEST_KEY

pytestmark = pytest.mark.integration

pseudonym = Pseudonymiser(TEST_KEY).pseudonym


def ingest(url: str, paths: list[Path], **options: Any) -> list:
    return ingest_files(
        url, "ezproxy", "ezproxy-log", paths, key=TEST_KEY, max_reject_share=0.5, options=options
    )


def counts(conn: psycopg.Connection) -> tuple[int, int, int]:
    return conn.execute(
        "select (select count(*) from raw.ezproxy_requests), "
        "(select count(*) from quarantine.rejected_rows), (select count(*) from raw.load_log)"
    ).fetchone()


def test_samples_load_once_and_twice_changes_nothing(
    conn: psycopg.Connection, warehouse_url: str, samples: Path, tmp_path: Path
) -> None:
    folder = samples / "ezproxy" / "ezpaarse"
    # a gzip copy (under another name) of a plain file: read as a stream, same rows
    gz = tmp_path / "sd.mini.log.gz"
    gz.write_bytes(gzip.compress((folder / "sd.mini.log").read_bytes()))
    paths = [folder / "sd.2012-11-30.300.log", folder / "sd.wrong-first-line.log", gz]
    first = ingest(warehouse_url, paths)
    assert [r.skipped for r in first] == [False, False, False]
    assert [r.rows_loaded for r in first] == [283, 2, 2]
    before = counts(conn)
    assert before == (287, 1, 3)
    second = ingest(warehouse_url, paths)
    assert all(r.skipped for r in second)
    assert counts(conn) == before
    line, field, raw = conn.execute(
        "select source_line, field, raw_text from quarantine.rejected_rows"
    ).fetchone()
    assert (line, raw) == (1, "This line does not look like any kind of log !")
    # nothing identifying lands: no login in clear, no full address
    leaked = conn.execute(
        "select count(*) from raw.ezproxy_requests where login_key ilike '%theodore%' "
        "or masklen(client_network) <> 24"
    ).fetchone()[0]
    assert leaked == 0
    assert (
        conn.execute(
            "select count(*) from raw.ezproxy_requests where login_key = %s",
            (pseudonym("login", "theodore_mcclure"),),
        ).fetchone()[0]
        > 0
    )


LOG_FORMAT = '%h %{ezproxy-session}i %u %t "%r" %s %b'


def line(ip: str, user: str, at: str, url: str, status: int = 200) -> str:
    return f'{ip} sess {user} [{at} +0800] "GET {url} HTTP/1.1" {status} 100'


SYNTHETIC_LOG = [
    # alice, on campus (10/8 in the seed), ScienceDirect: one session of 3 use, 1 static, 1 denied
    line(
        "10.1.2.3",
        "Alice@Univ.edu",
        "01/Mar/2024:09:00:00",
        "http://www.sciencedirect.com/science/article/pii/S1",
    ),
    line(
        "10.1.2.3",
        "alice@univ.edu",
        "01/Mar/2024:09:00:05",
        "http://www.sciencedirect.com/static/app.css",
    ),
    line(
        "10.1.2.3",
        "alice@univ.edu",
        "01/Mar/2024:09:10:00",
        "http://pdn.sciencedirect.com/science?_ob=Miami",
    ),
    line("10.1.2.3", "alice@univ.edu", "01/Mar/2024:09:20:00", "http://www.sciencedirect.com/x", 403),
    line(
        "10.1.2.3",
        "alice@univ.edu",
        "01/Mar/2024:09:40:00",
        "http://www.sciencedirect.com/science/article/pii/S2",
    ),
    # 31 minutes later: a new session (gap 30)
    line(
        "10.1.2.3",
        "alice@univ.edu",
        "01/Mar/2024:10:11:00",
        "http://www.sciencedirect.com/science/article/pii/S3",
    ),
    # the same minute on CNKI is another platform, hence another session
    line(
        "10.1.2.3",
        "alice@univ.edu",
        "01/Mar/2024:10:11:00",
        "https://kns.cnki.net/kcms2/article/abstract?x=1",
    ),
    # bob is not on the roster, off campus, on an unknown platform; 23:30 local is 15:30 UTC
    line("8.8.8.8", "bob", "01/Mar/2024:23:30:00", "http://example.org/"),
    # no login: kept in raw, never sessionised
    line("8.8.8.8", "-", "01/Mar/2024:23:31:00", "http://example.org/"),
]


@pytest.fixture(scope="module")
def sessions(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    work = tmp_path_factory.mktemp("ezproxy_dbt")
    log = work / "ezproxy.log"
    log.write_text("\n".join(SYNTHETIC_LOG) + "\n")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("truncate raw.ezproxy_requests, raw.campus_people, raw.load_log")
        ingest(warehouse_url, [log], log_format=LOG_FORMAT)
        columns = ["batch_id", "source_file", "source_line", *CAMPUS_PEOPLE.column_names]
        person = {
            "snapshot_date": date(2024, 2, 1),
            "person_key": "person-alice",
            "login_key": pseudonym("login", "alice@univ.edu"),
            "person_type": "student",
            "consent_profiling": True,
            "consent_ranking": False,
        }
        batch = uuid.uuid4()
        conn.execute(
            f"insert into raw.campus_people ({', '.join(columns)}) values "
            f"({', '.join(['%s'] * len(columns))})",
            [batch, "roster.json", 1, *(person.get(c) for c in CAMPUS_PEOPLE.column_names)],
        )
        conn.execute(
            "insert into raw.load_log (batch_id, source, format, target_table, source_file, "
            "checksum, rows_loaded, rows_quarantined, started_at, finished_at, status) values "
            "(%s, 'campus', 'test', 'campus_people', 'roster.json', %s, 1, 0, now(), now(), "
            "'loaded')",
            (batch, uuid.uuid4().hex),
        )
    # a target folder of our own: other dbt runs may be going on at the same time
    result = run_dbt(
        "build",
        "--select",
        "+fct_eresource_sessions",
        "eresource_platforms",
        "campus_networks",
        "--vars",
        '{"library_timezone": "Asia/Shanghai"}',
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    )
    assert "Completed successfully" in result.stdout
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("set time zone 'UTC'")
        cursor = conn.execute("select * from marts.fct_eresource_sessions order by started_at, platform")
        names = [d.name for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
    shutil.rmtree(work, ignore_errors=True)
    return rows


def test_sessions_split_on_gap_and_platform_and_count_by_class(sessions: list[dict]) -> None:
    summary = [
        (
            s["user_key"] == "person-alice",
            s["platform"],
            s["requests"],
            s["static_requests"],
            s["denied_requests"],
            s["on_campus"],
        )
        for s in sessions
    ]
    assert summary == [
        (True, "ScienceDirect", 3, 1, 1, True),
        (True, "CNKI", 1, 0, 0, True),
        (True, "ScienceDirect", 1, 0, 0, True),
        (False, "Other", 1, 0, 0, False),
    ]
    first = sessions[0]
    assert first["started_at"] == datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    assert first["ended_at"] == datetime(2024, 3, 1, 1, 40, tzinfo=UTC)
    assert first["publisher"] == "Elsevier"
    assert len({s["session_id"] for s in sessions}) == len(sessions)


def test_login_resolves_to_the_person_and_dates_are_local(sessions: list[dict]) -> None:
    assert [s["user_key"] for s in sessions] == ["person-alice"] * 3 + [None]
    assert sessions[-1]["session_date"] == date(2024, 3, 1)  # 23:30 in Shanghai, 15:30 UTC


def test_mart_holds_no_address(sessions: list[dict]) -> None:
    assert not {"client_network", "site_host", "url_path"} & set(sessions[0])
