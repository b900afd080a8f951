"""Hostile input costs its own row, never the file: NUL bytes, values the warehouse refuses,
SQL text, quoted line breaks, and columns that changed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg
import pytest

import ingest.pipelined as pipelined
from ingest.errors import ColumnsChanged, LoadRejected, UserError
from ingest.loader import MAX_REFUSED_ROWS, load_file
from ingest.model import Format, ParseContext, ParsedItem, RawTable, Rejected
from ingest.registry import get_format
from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.helpers import context, write
from tests.test_circulation_parsers import GOOD, HEADER

pytestmark = pytest.mark.integration


def _rows(conn: psycopg.Connection, table: str) -> list[tuple]:
    return conn.execute(f"select source_line from raw.{table} order by 1").fetchall()


def _quarantine(conn: psycopg.Connection) -> list[tuple[int, str, str, str]]:
    return conn.execute(
        "select source_line, field, reason, raw_text from quarantine.rejected_rows order by 1"
    ).fetchall()


def test_a_nul_byte_in_one_koha_field_quarantines_that_line_only(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    lines = [HEADER] + [GOOD.replace("1001", str(1000 + n)) for n in range(1, 9)]
    lines[4] = lines[4].replace("STACKS", "STA\x00CKS")
    path = write(tmp_path / "statistics.csv", "\n".join(lines) + "\n")
    result = load_file(conn, get_format("circulation", "koha-csv"), path, context(), max_reject_share=0.25)
    assert (result.rows_loaded, result.rows_quarantined) == (7, 1)
    assert _rows(conn, "koha_statistics") == [(n,) for n in (2, 3, 4, 6, 7, 8, 9)]
    [(line, field, reason, raw)] = _quarantine(conn)
    assert (line, field) == (5, "location") and "NUL" in reason
    assert "STA\\x00CKS" in raw and "42" not in raw.split("\t")  # the borrower as a pseudonym only


EZ_LINE = (
    "10.0.{n}.1 - u{n} [01/Sep/2025:08:00:{s:02d} +0800] "
    '"GET https://www.jstor.org/stable/{n} HTTP/1.1" 200 12'
)


@pytest.mark.parametrize("workers", [False, True], ids=["one-process", "workers"])
def test_nul_bytes_in_an_ezproxy_log_cost_their_lines_only(
    conn: psycopg.Connection,
    warehouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: bool,
) -> None:
    if workers:
        monkeypatch.setattr(pipelined, "MIN_BYTES", 0)
    lines = [EZ_LINE.format(n=n, s=n % 60) for n in range(1, 21)]
    lines[3] = lines[3].replace("/stable/4", "/stable/\x004")  # inside the URL: the line matches
    lines[7] = lines[7].replace(" 200 ", " 2\x0000 ")  # breaks the LogFormat: quarantined as such
    path = write(tmp_path / "ezproxy.log", "\n".join(lines) + "\n")
    [result] = ingest_files(
        warehouse_url, "ezproxy", "ezproxy-log", [path], key=TEST_KEY, max_reject_share=0.5
    )
    assert (result.rows_loaded, result.rows_quarantined) == (18, 2)
    assert [q[0] for q in _quarantine(conn)] == [4, 8]
    assert all("\x00" not in q[3] for q in _quarantine(conn))


# A format whose parser lets anything through, as a newly added one might: the loader must still
# keep one bad value from costing the file.
PROBE = RawTable("test_probe", (("label", "text"), ("small", "smallint"), ("needed", "text not null")))


def _probe_rows(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    yield from _probe_lines(ctx)(enumerate(path.read_text(encoding="utf-8").splitlines(), 1))


def _probe_lines(ctx: ParseContext):
    def parse(lines: Iterable[tuple[int, str]]) -> Iterator[ParsedItem]:
        for number, text in lines:
            label, small, needed = text.rstrip("\n").split(",")
            if small == "x":
                yield Rejected(number, "small", "not a number", text)
                continue
            yield number, (label, int(small), needed or None)

    return parse


@pytest.fixture
def probe(conn: psycopg.Connection) -> Iterator[Format]:
    conn.execute("drop table if exists raw.test_probe")
    conn.execute(PROBE.ddl())
    yield Format("test", "probe", PROBE, _probe_rows, line_parser=_probe_lines)
    conn.execute("drop table raw.test_probe")


@pytest.mark.parametrize("workers", [False, True], ids=["one-process", "workers"])
def test_values_the_warehouse_refuses_are_quarantined_with_their_line(
    conn: psycopg.Connection, probe: Format, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: bool
) -> None:
    if workers:
        monkeypatch.setattr(pipelined, "MIN_BYTES", 0)
        monkeypatch.setattr(pipelined, "BLOCK_BYTES", 64)  # the refused rows fall in several blocks
    lines = [f"row{n},{n},yes" for n in range(1, 41)]
    lines[5] = "row6,70000,yes"  # out of range for smallint: the server says so at COPY's end
    lines[11] = "row12,12,"  # null in a not-null column
    lines[20] = "ro\x00w21,21,yes"  # NUL: the writer says so
    lines[30] = "row31,x,yes"  # the parser's own rejection
    lines[35] = "row36,-40000,yes"
    path = write(tmp_path / "probe.csv", "\n".join(lines) + "\n")
    result = load_file(conn, probe, path, context(), max_reject_share=0.5)
    assert (result.rows_loaded, result.rows_quarantined) == (35, 5)
    assert _rows(conn, "test_probe") == [(n,) for n in range(1, 41) if n not in (6, 12, 21, 31, 36)]
    quarantined = {q[0]: q[1:3] for q in _quarantine(conn)}
    assert sorted(quarantined) == [6, 12, 21, 31, 36]
    assert quarantined[6][0] == "small" and "out of range" in quarantined[6][1]
    assert quarantined[12][0] == "needed" and "null" in quarantined[12][1]
    assert quarantined[21][0] == "label" and "NUL" in quarantined[21][1]
    assert conn.execute("select count(*) from raw.load_log").fetchone() == (1,)


def test_a_file_the_warehouse_refuses_row_after_row_is_refused_whole(
    conn: psycopg.Connection, probe: Format, tmp_path: Path
) -> None:
    lines = [f"row{n},{70000 + n},yes" for n in range(1, 100)]
    path = write(tmp_path / "probe.csv", "\n".join(lines) + "\n")
    with pytest.raises(LoadRejected, match=f"more than {MAX_REFUSED_ROWS} rows"):
        load_file(conn, probe, path, context(), max_reject_share=0.5)
    assert _rows(conn, "test_probe") == [] and _quarantine(conn) == []


def test_sql_and_control_characters_in_every_koha_field_land_as_data(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    hostile = '\'); drop table raw.koha_statistics; -- \\N \\. \t\x07\x1b[31m "q" \\ ü 中'
    quoted = '"' + hostile.replace('"', '""') + '"'
    row = (
        f"2025-09-02 10:15:00,{quoted},0,issue,{quoted},1001,{quoted},{quoted},42,{quoted},{quoted},{quoted}"
    )
    path = write(tmp_path / "statistics.csv", f"{HEADER}\n{row}\n{GOOD}\n")
    result = load_file(conn, get_format("circulation", "koha-csv"), path, context(), max_reject_share=0.25)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    stored = conn.execute(
        "select branch, other, itemtype, location, ccode, categorycode, interface "
        "from raw.koha_statistics where source_line = 2"
    ).fetchone()
    assert stored == (hostile,) * 7


def test_koha_quoted_line_breaks_are_one_record_numbered_by_its_first_line(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    note = '"a note\nwritten over\n\nseveral lines, with a, comma\nand a ""quote""\nend"'
    lines = [
        HEADER,
        GOOD,  # 2
        GOOD.replace(",,1001", f",{note},1002"),  # 3-8
        "2025-13-45 10:15:00,MAIN,0,issue,,1003,BK,STACKS,42,,UG,intranet",  # 9: bad date
        GOOD.replace("1001", "1004").replace(",,UG", ',"x\r\ny",UG'),  # 10-11, CRLF inside
        GOOD.replace("1001", "1005"),  # 12
    ]
    path = write(tmp_path / "statistics.csv", "\n".join(lines) + "\n")
    result = load_file(conn, get_format("circulation", "koha-csv"), path, context(), max_reject_share=0.5)
    assert (result.rows_loaded, result.rows_quarantined) == (4, 1)
    rows = conn.execute("select source_line, other, ccode from raw.koha_statistics order by 1").fetchall()
    assert [r[0] for r in rows] == [2, 3, 10, 12]
    assert rows[1][1] == 'a note\nwritten over\n\nseveral lines, with a, comma\nand a "quote"\nend'
    assert rows[2][2] == "x\ny"
    assert [(q[0], q[1]) for q in _quarantine(conn)] == [(9, "datetime")]


def test_a_stray_quote_costs_its_own_line_and_the_next_lines_still_load(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    lines = [HEADER, GOOD, GOOD.replace(",,1001", ',"stray,1002')]
    lines += [GOOD.replace("1001", str(1003 + n)) for n in range(60)]  # longer than a record may be
    path = write(tmp_path / "statistics.csv", "\n".join(lines) + "\n")
    result = load_file(conn, get_format("circulation", "koha-csv"), path, context(), max_reject_share=0.5)
    assert (result.rows_loaded, result.rows_quarantined) == (61, 1)
    [(line, field, reason, _)] = _quarantine(conn)
    assert (line, field) == (3, "(line)") and "not closed" in reason
    assert _rows(conn, "koha_statistics") == [(2,), *((n,) for n in range(4, 64))]


def test_koha_columns_are_found_by_name(tmp_path: Path, conn: psycopg.Connection) -> None:
    columns = HEADER.split(",")
    values = GOOD.split(",")
    order = list(reversed(range(len(columns))))
    reordered = ",".join(columns[i] for i in order) + ",new_column\n"
    reordered += ",".join(values[i] for i in order) + ",whatever\n"
    path = write(tmp_path / "reordered.csv", reordered)
    reference = write(tmp_path / "plain.csv", f"{HEADER}\n{GOOD}\n")
    fmt = get_format("circulation", "koha-csv")
    load_file(conn, fmt, path, context(), max_reject_share=0)
    load_file(conn, fmt, reference, context(), max_reject_share=0)
    rows = conn.execute("select * from raw.koha_statistics").fetchall()
    assert len(rows) == 2 and rows[0][3:] == rows[1][3:]  # same values, whatever the order


def test_a_renamed_koha_column_is_refused_naming_the_columns(warehouse_url: str, tmp_path: Path) -> None:
    path = write(
        tmp_path / "renamed.csv",
        HEADER.replace("branch", "branchcode") + "\n" + GOOD + "\n",
    )
    with pytest.raises(ColumnsChanged) as err:
        ingest_files(warehouse_url, "circulation", "koha-csv", [path], key=TEST_KEY, max_reject_share=0.25)
    assert isinstance(err.value, UserError)  # one line on the command line, no traceback
    message = str(err.value)
    assert "lacks branch" in message and "branchcode" in message and "line 1" in message
    missing = write(tmp_path / "missing.csv", "datetime,type,itemnumber\n2025-09-02 10:15:00,issue,1\n")
    with pytest.raises(ColumnsChanged, match="lacks borrowernumber"):
        ingest_files(warehouse_url, "circulation", "koha-csv", [missing], key=TEST_KEY, max_reject_share=0.25)


def test_counter_columns_are_found_by_name(tmp_path: Path) -> None:
    from ingest.counter import tsv
    from tests.helpers import split
    from tests.test_reliability_fuzz import SEEDS

    text = SEEDS["counter-tsv"].decode()
    header_block, table = text.split("\n\n", 1)
    rows = [line.split("\t") for line in table.strip("\n").split("\n")]
    order = list(reversed(range(len(rows[0]))))
    shuffled = "\n".join("\t".join([row[i] for i in order] + ["extra"]) for row in rows)
    shuffled = shuffled.replace("extra", "A_New_Column", 1)  # the column row names the new column
    plain = split(tsv.parse(write(tmp_path / "plain.tsv", text), context()))
    moved = split(
        tsv.parse(write(tmp_path / "moved.tsv", header_block + "\n\n" + shuffled + "\n"), context())
    )
    assert moved[1] == [] and sorted(v for _, v in moved[0]) == sorted(v for _, v in plain[0])
    renamed = text.replace("\tMetric_Type\t", "\tMetric\t")
    with pytest.raises(UserError, match="Metric_Type"):
        list(tsv.parse(write(tmp_path / "renamed.tsv", renamed), context()))
