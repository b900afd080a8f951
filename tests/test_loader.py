"""The loader on a real PostgreSQL: COPY, quarantine, load log, idempotency, threshold, replace."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest

from ingest.loader import LoadRejected, load_file
from ingest.model import Format, RawTable, Rejected
from ingest.registry import get_format
from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.helpers import context, write
from tests.test_circulation_parsers import GOOD, HEADER

pytestmark = pytest.mark.integration


def _count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"select count(*) from {table}").fetchone()[0]


def _malformed_koha(tmp_path: Path) -> Path:
    lines = [
        HEADER,
        GOOD,
        GOOD.replace("10:15", "10:16"),
        "2025-02-30 10:15:00,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet",
        "2025-09-02 10:16:00,MAIN,0,issue,,,BK,STACKS,42,,UG,intranet",
    ]
    for i in range(3, 10):
        lines.append(GOOD.replace("1001", f"10{i:02d}"))
    return write(tmp_path / "koha.csv", "\n".join(lines) + "\n")


def test_bad_rows_quarantined_good_rows_loaded(conn: psycopg.Connection, tmp_path: Path) -> None:
    fmt = get_format("circulation", "koha-csv")
    result = load_file(conn, fmt, _malformed_koha(tmp_path), context(), max_reject_share=0.25)
    assert (result.rows_loaded, result.rows_quarantined) == (9, 2)
    assert _count(conn, "raw.koha_statistics") == 9
    rejected = conn.execute(
        "select source_line, field, reason, source_file from quarantine.rejected_rows order by 1"
    ).fetchall()
    assert [(r[0], r[1]) for r in rejected] == [(4, "datetime"), (5, "itemnumber")]
    assert all(r[3].endswith("koha.csv") for r in rejected)
    log = conn.execute("select rows_loaded, rows_quarantined, checksum, status from raw.load_log").fetchall()
    assert log[0][:2] == (9, 2) and len(log[0][2]) == 64 and log[0][3] == "loaded"
    lines = [r[0] for r in conn.execute("select source_line from raw.koha_statistics order by 1")]
    assert lines == [2, 3, 6, 7, 8, 9, 10, 11, 12]


def test_loading_the_same_file_twice_changes_nothing(conn: psycopg.Connection, tmp_path: Path) -> None:
    path = _malformed_koha(tmp_path)
    kwargs = dict(key=TEST_KEY, max_reject_share=0.25)
    url = conn.info.dsn
    first = ingest_files(url, "circulation", "koha-csv", [path], **kwargs)[0]
    copy = write(tmp_path / "renamed.csv", path.read_bytes())  # same content under another name
    again = ingest_files(url, "circulation", "koha-csv", [path, copy], **kwargs)
    assert all(r.skipped and r.batch_id == first.batch_id for r in again)
    assert _count(conn, "raw.koha_statistics") == 9
    assert _count(conn, "quarantine.rejected_rows") == 2
    assert _count(conn, "raw.load_log") == 1


def test_share_of_bad_rows_over_threshold_loads_nothing(conn: psycopg.Connection, tmp_path: Path) -> None:
    fmt = get_format("circulation", "koha-csv")
    with pytest.raises(LoadRejected) as err:
        load_file(conn, fmt, _malformed_koha(tmp_path), context(), max_reject_share=0.1)
    message = str(err.value)
    assert "koha.csv" in message and "2 of 11" in message and "line 4 field datetime" in message
    assert "--max-reject-share" in message
    for table in ("raw.koha_statistics", "quarantine.rejected_rows", "raw.load_log"):
        assert _count(conn, table) == 0


def test_newer_batch_replaces_rows_with_the_same_replace_keys(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    table = RawTable(
        "test_monthly",
        (("platform", "text"), ("month", "date"), ("n", "integer")),
        replace_keys=("month", "platform"),  # the NULL below is in the second key
    )
    conn.execute("drop table if exists raw.test_monthly")
    conn.execute(table.ddl())

    def parse(path, ctx):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            platform, month, n = line.split(",")
            yield ((i, (platform, month, int(n))) if n.isdigit() else Rejected(i, "n", "not a number", line))

    fmt = Format("test", "monthly", table, parse)
    load_file(
        conn,
        fmt,
        write(tmp_path / "a", "P,2025-09-01,10\nP,2025-10-01,20\nQ,2025-09-01,5\n"),
        context(),
        max_reject_share=0.5,
    )
    result = load_file(conn, fmt, write(tmp_path / "b", "P,2025-09-01,12\n"), context(), max_reject_share=0.5)
    assert result.replaced_rows == 1
    rows = conn.execute("select platform, month::text, n from raw.test_monthly order by 1, 2").fetchall()
    assert rows == [("P", "2025-09-01", 12), ("P", "2025-10-01", 20), ("Q", "2025-09-01", 5)]
    # a key with a NULL part (a COUNTER report without customer id) replaces its equal too
    conn.execute("update raw.test_monthly set platform = null where platform = 'Q'")
    # another NULL-keyed row of an earlier batch, with another month: it must stay
    conn.execute(
        "insert into raw.test_monthly select batch_id, source_file, 9, null, '2025-11-01', 3 "
        "from raw.test_monthly limit 1"
    )
    null_parse = parse

    def parse_null(path, ctx):
        for item in null_parse(path, ctx):
            yield item if isinstance(item, Rejected) or item[1][0] != "-" else (item[0], (None, *item[1][1:]))

    nulls = Format("test", "monthly", table, parse_null)
    result = load_file(
        conn,
        nulls,
        write(tmp_path / "c", "-,2025-09-01,7\nP,2025-10-01,21\n"),
        context(),
        max_reject_share=0.5,
    )
    assert result.replaced_rows == 2
    rows = conn.execute(
        "select platform, month::text, n from raw.test_monthly order by 1 nulls last, 2"
    ).fetchall()
    assert rows == [
        ("P", "2025-09-01", 12),
        ("P", "2025-10-01", 21),
        (None, "2025-09-01", 7),
        (None, "2025-11-01", 3),
    ]
    conn.execute("drop table raw.test_monthly")


def test_replace_keys_are_indexed(conn: psycopg.Connection) -> None:
    """Every landing table with replace keys has an index on them (the loader's replacement looks
    each new key up: without it a year of monthly counter files took minutes, quadratically)."""
    from ingest.registry import raw_tables

    for table in (t for t in raw_tables() if t.replace_keys):
        definition = conn.execute(
            "select indexdef from pg_indexes where schemaname = 'raw' and indexname = %s",
            (f"{table.name}_replace",),
        ).fetchone()
        assert definition, table.name
        assert all(key in definition[0] for key in table.replace_keys)


def test_campus_pages_load_without_direct_identifiers(conn: psycopg.Connection, tmp_path: Path) -> None:
    person = {
        "person_id": "S2023000123",
        "person_type": "student",
        "name": "张伟",
        "email": "zw@example.edu",
        "phone": "13800000000",
        "national_id": "110101200001011234",
        "college": {"code": "CS", "name": "计算机学院"},
        "major": {"code": "CS01", "name": "软件工程"},
        "class": "CS2023-1",
        "degree_level": "bachelor",
        "entry_year": 2023,
        "expected_graduation_year": 2027,
        "enrollment_status": "enrolled",
        "library": {
            "card_number": "2100012345",
            "login": "s2023000123",
            "koha_borrowernumber": "77",
            "folio_user_id": "f-1",
        },
        "consent": {"profiling": True, "ranking": False},
    }
    bad = dict(person, person_id="S2", person_type="alien")
    page = {
        "page": 1,
        "page_size": 500,
        "total": 2,
        "next": None,
        "snapshot_date": "2025-12-31",
        "data": [person, bad],
    }
    path = write(tmp_path / "people-0001.json", json.dumps(page, ensure_ascii=False, indent=1))
    result = load_file(conn, get_format("campus", "campus-json"), path, context(), max_reject_share=0.5)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    dumped = " ".join(str(v) for v in conn.execute("select * from raw.campus_people").fetchone())
    for identifier in (
        "S2023000123",
        "张伟",
        "zw@example.edu",
        "13800000000",
        "110101200001011234",
        "2100012345",
        "s2023000123",
    ):
        assert identifier not in dumped
    field, raw = conn.execute("select field, raw_text from quarantine.rejected_rows").fetchone()
    assert field == "person_type" and "13800000000" not in raw


def test_a_batch_of_files_is_analyzed_once(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    """`analyze` samples 30,000 rows whatever the table's size: once per ingest, not once per file
    (350 daily gate exports spent most of their load analyzing)."""
    paths = [
        write(tmp_path / f"koha-{n}.csv", HEADER + "\n" + GOOD.replace("1001", f"20{n:02d}") + "\n")
        for n in range(4)
    ]

    def analyzed() -> int:
        row = conn.execute(
            "select analyze_count from pg_stat_user_tables "
            "where schemaname = 'raw' and relname = 'koha_statistics'"
        ).fetchone()
        return row[0] if row else 0

    conn.execute("select pg_stat_clear_snapshot()")
    before = analyzed()
    results = ingest_files(
        warehouse_url, "circulation", "koha-csv", paths, key=TEST_KEY, max_reject_share=0.0
    )
    assert [r.rows_loaded for r in results] == [1, 1, 1, 1]
    # a closing backend reports its statistics as it exits, just after the client has gone
    deadline = time.monotonic() + 10
    while analyzed() == before and time.monotonic() < deadline:
        time.sleep(0.1)
        conn.execute("select pg_stat_clear_snapshot()")
    time.sleep(0.5)
    conn.execute("select pg_stat_clear_snapshot()")
    assert analyzed() == before + 1


def test_the_tables_a_format_writes_beside_its_own_are_analyzed_when_they_have_no_statistics(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first campus sync left raw.campus_cards without statistics, and the landing suite's
    self-join on it ran as a nested loop (31-43 s for 4,447 cards): extra tables are analyzed
    too, in their own schema, when never analyzed (or a tenth of them changed)."""
    import dataclasses

    import ingest.run

    conn.execute("drop table if exists restricted.analyze_probe")
    conn.execute("create table restricted.analyze_probe as select g as n from generate_series(1, 50) as g")
    probe = RawTable(name="analyze_probe", columns=(("n", "integer"),), schema="restricted")
    koha = dataclasses.replace(get_format("circulation", "koha-csv"), extra_tables=(probe,))
    monkeypatch.setattr(ingest.run, "get_format", lambda source, name=None: koha)
    path = write(tmp_path / "koha-probe.csv", HEADER + "\n" + GOOD.replace("1001", "3999") + "\n")
    try:
        results = ingest_files(
            warehouse_url, "circulation", "koha-csv", [path], key=TEST_KEY, max_reject_share=0.0
        )
        assert [r.rows_loaded for r in results] == [1]
        row = conn.execute("select reltuples from pg_class where oid = 'restricted.analyze_probe'::regclass")
        assert row.fetchone()[0] == 50  # analyzed: -1 before
    finally:
        conn.execute("drop table if exists restricted.analyze_probe")
