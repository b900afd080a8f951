"""Formats' COPY-text fast paths (Format.copy_parser) land exactly what their `parse` lands.

For every input, the fast path's COPY text is compared line by line with the rows of the format's
`parse` as psycopg formats them for the loader (`Copy.write_row`), and its quarantine entries
(line, field, reason, raw text) with `parse`'s: on generated exports, on the parsers' own test
inputs, on hostile lines, and on random lines (hypothesis). One file of hostile lines also goes
through the loader both ways (`single_process` is the reference path) and the landed rows and
quarantine entries are compared.
"""

from __future__ import annotations

import random
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ingest.loader as loader
from ingest.circulation.koha import STATISTICS_COLUMNS, KohaCsv
from ingest.copytext import ChunkWriter
from ingest.errors import UserError
from ingest.gate.turnstile import TurnstileCsv
from ingest.model import Format
from ingest.registry import get_format
from ingest.run import checked_options, ingest_files
from ingest.services.csvinput import CsvReader
from tests.conftest import TEST_KEY
from tests.helpers import context, write
from tests.test_gate_parsers import CHINESE, ENGLISH

TURNSTILE = get_format("gate", "turnstile-csv")
HEADER_KOHA = ",".join(STATISTICS_COLUMNS)
PREFIX = ("0b0e6a4c-7d3e-4b8e-9d6a-000000000001", "/landing/gate/swipes/main-2025-09-03.csv")


def _outcome(fmt: Format, path: Path, fast: bool, **options: object) -> tuple[list[bytes], list, int]:
    """(sorted COPY lines, sorted quarantine entries, rows) of one way of reading `path`."""
    ctx = context(**checked_options(fmt, options))
    if fast:
        assert fmt.copy_parser is not None
        chunks = list(fmt.copy_parser(path, ctx, PREFIX))
    else:
        chunks = [ChunkWriter(fmt.table, PREFIX).chunk([], fmt.parse(path, ctx))]
    text = b"".join(c.copy_text for c in chunks)
    rejected = sorted(r for c in chunks for r in c.rejected)
    return sorted(text.splitlines()), rejected, sum(c.rows for c in chunks)


def assert_same(fmt: Format, path: Path, **options: object) -> tuple[list[bytes], list, int]:
    try:
        reference = _outcome(fmt, path, False, **options)
    except UserError as error:  # a file refused whole: refused the same way
        with pytest.raises(type(error)) as raised:
            _outcome(fmt, path, True, **options)
        assert str(raised.value) == str(error)
        return [], [], 0
    fast = _outcome(fmt, path, True, **options)
    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    assert fast[2] == reference[2] == len(reference[0])
    return reference


# -- turnstile CSV ---------------------------------------------------------------------------------

HEADER = "card_number,gate,direction,passed_at,result"
HOSTILE_SWIPES = [
    "2100000001,MAIN-G1,in,2025-09-03 08:01:02,granted",
    "2100000001,MAIN-G1, IN ,2025-09-03 08:01:03 ,OK",
    "2100000001,MAIN-G1,进,2025/09/03 08:01:04,通过",
    "2100000001,MAIN-G1,in,2025-09-03T08:01:05,granted",
    "2100000001,MAIN-G1,in,2025-09-03 08:01,granted",  # no seconds
    "2100000001,MAIN-G1,in,2025-9-3 08:01:06,granted",  # short date
    "2100000001,MAIN-G1,in,2025-09-03 08:01:06.5,granted",
    "2100000001,MAIN-G1,in,2025-09-03 08:01:07+02:00,granted",
    "2100000001,MAIN-G1,in,2025-09-03 24:00:00,granted",
    "2100000001,MAIN-G1,in,2025-09-03 08:60:00,granted",
    "2100000001,MAIN-G1,in,2025-09-03 08:01:60,granted",
    "2100000001,MAIN-G1,in,2025-02-30 08:01:00,granted",
    "2100000001,MAIN-G1,in,０２０２５-09-03 08:01:00,granted",
    "2100000001,MAIN-G1,in,２０２５-09-03 08:01:00,granted",  # full-width digits
    "2100000001,MAIN-G1,in,,granted",
    "2100000001,MAIN-G1,in,not a time,granted",
    "2100000001,MAIN-G1,sideways,2025-09-03 08:02:00,granted",
    "2100000001,MAIN-G1,in,2025-09-03 08:02:00,maybe",
    "2100000001,,in,2025-09-03 08:02:00,granted",
    "2100000001,  ,in,2025-09-03 08:02:00,granted",
    "2100000001,\u3000MAIN-G2\u3000,in,2025-09-03 08:02:00,granted",
    ",MAIN-G1,in,2025-09-03 08:02:01,granted",  # granted without card
    ",MAIN-G1,in,2025-09-03 08:02:02,denied",
    " ,MAIN-G1,in,2025-09-03 08:02:03,denied",
    "-,MAIN-G1,in,2025-09-03 08:02:04,granted",
    " 2100000002 ,MAIN-G1,out,2025-09-03 08:02:05,granted",
    "2100000002,MAIN\\G1,out,2025-09-03 08:02:06,granted",  # a backslash
    "2100000002,MAIN\tG1,out,2025-09-03 08:02:07,granted",  # a tab
    "2100000002,MAIN\x00G1,out,2025-09-03 08:02:08,granted",  # a NUL byte
    "2100000002,MAIN\rG1,out,2025-09-03 08:02:09,granted",  # a lone CR
    "2100000002,MAIN\x1fG1,out,2025-09-03 08:02:10,granted",
    '2100000002,"MAIN,G1",out,2025-09-03 08:02:11,granted',  # a quoted comma
    '"2100000002",MAIN-G1,out,2025-09-03 08:02:12,granted',
    '2100000002,MAIN"G1,out,2025-09-03 08:02:13,granted',  # a stray quote
    "2100000002,MAIN-G1,out,2025-09-03 08:02:14",  # a field short
    "2100000002,MAIN-G1,out,2025-09-03 08:02:15,granted,extra",
    "",
    "   ",
    ",,,,",
    "2100000003,MAIN-G1,out,2025-09-03 08:02:16,granted\r",
    "2100000003,MAIN-G1,out,2025-09-03 08:02:17,granted\r\r",
    "2100000003,Gate ü/é,out,2025-09-03 08:02:18,granted",
    "2100000003,MAIN-G1,out,2025-09-03 08:02:19,GRANTED",
    "2100000003,MAIN-G1,0,2025-09-03 08:02:20,fail",
]


def _generated_swipes(rng: random.Random, lines: int, day: str = "2025-09-03") -> list[str]:
    out = []
    for n in range(lines):
        hour, minute, second = 7 + n * 15 // lines, rng.randrange(60), rng.randrange(60)
        card = "" if rng.random() < 0.02 else str(2100000000 + rng.randrange(3000))
        result = "denied" if not card or rng.random() < 0.01 else "granted"
        gate = rng.choice(("MAIN-G1", "MAIN-G2", "MAIN-G3"))
        out.append(
            f"{card},{gate},{rng.choice(('in', 'out'))},{day} {hour:02d}:{minute:02d}:{second:02d},{result}"
        )
    return out


def test_turnstile_generated_export_same_rows_mostly_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "main-2025-09-03.csv",
        "\n".join([HEADER, *_generated_swipes(random.Random(3), 3000)]) + "\n",
    )
    text, rejected, rows = assert_same(TURNSTILE, path)
    assert rows > 2900 and len(rejected) < 100
    per_line = []
    item = TurnstileCsv.item
    monkeypatch.setattr(TurnstileCsv, "item", lambda self, line: per_line.append(1) or item(self, line))
    _outcome(TURNSTILE, path, True)
    assert len(per_line) == 1 + len(rejected)  # the header and the bad lines only
    assert b"+08:00" in text[0]


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_turnstile_hostile_lines(tmp_path: Path, encoding: str, line_end: str) -> None:
    text = line_end.join([HEADER, *HOSTILE_SWIPES]) + line_end
    path = write(tmp_path / "main-2025-09-03.csv", text.encode(encoding, errors="replace"))
    _, rejected, rows = assert_same(TURNSTILE, path)
    assert rows > 10 and len(rejected) > 10


def test_turnstile_parser_test_inputs(tmp_path: Path) -> None:
    assert_same(TURNSTILE, write(tmp_path / "swipes-2025-09-03.csv", ENGLISH))
    for encoding in ("utf-8", "gb18030", "utf-8-sig"):
        assert_same(TURNSTILE, write(tmp_path / f"med-{encoding}.csv", CHINESE.encode(encoding)))
    vendor = "CardNo,Holder,Door,InOut,Time,Status\n2100000001,Ann,N1,IN,2025-09-03 08:00:00,OK\n"
    path = write(tmp_path / "vendor.csv", vendor)
    assert_same(TURNSTILE, path)  # refused: the header needs --columns
    assert_same(
        TURNSTILE, path, columns="card_number=CardNo,gate=Door,direction=InOut,passed_at=Time,result=Status"
    )


def test_turnstile_odd_files(tmp_path: Path) -> None:
    lines = [HEADER, *HOSTILE_SWIPES[:5]]
    cases = {
        "empty.csv": b"",
        "header-only.csv": HEADER.encode(),
        "blank-first.csv": ("\n \n" + "\n".join(lines)).encode(),  # header on line 3
        "no-final-newline.csv": "\n".join(lines).encode(),
        "bad-header.csv": b"\xff\xfe,,\n" + "\n".join(lines[1:]).encode(),
        "mixed-encoding.csv": "\n".join(lines).encode()
        + "\n2100000005,MAIN-G1,进,2025-09-03 13:00:00,通过\n".encode("gb18030"),
        "wrong-header.csv": b"a,b,c\n1,2,3\n",
    }
    for name, content in cases.items():
        assert_same(TURNSTILE, write(tmp_path / name, content))


def test_turnstile_daylight_saving_hours(tmp_path: Path) -> None:
    """Times in the hours a clock change skips or repeats go the per-line way, with its instants."""
    lines = [HEADER]
    for day, hours in (("2025-03-09", range(0, 5)), ("2025-11-02", range(0, 4))):
        for hour in hours:
            for minute in (0, 29, 59):
                lines.append(f"2100000001,G1,in,{day} {hour:02d}:{minute:02d}:30,granted")
    path = write(tmp_path / "swipes.csv", "\n".join(lines) + "\n")
    assert_same(TURNSTILE, path, timezone="America/New_York")
    assert_same(TURNSTILE, path, timezone="Australia/Lord_Howe")
    assert_same(TURNSTILE, path, timezone="UTC", period="none")


FIELD_VALUES = {
    "card": st.sampled_from(["2100000001", "", " ", "-", "21000000\\", "x\x00", '"2100"', "２１"]),
    "gate": st.sampled_from(["MAIN-G1", "", "门一", "G\t1", "G,1", " G "]),
    "direction": st.sampled_from(["in", "OUT", "进", "出", "1", "0", "", "sideways", " in "]),
    "time": st.sampled_from(
        [
            "2025-09-03 08:01:02",
            "2025/09/03 23:59:59",
            "2025-09-03T00:00:00",
            "2025-09-03 8:01:02",
            "2025-13-03 08:01:02",
            "2025-09-03 08:01:61",
            "2025-09-03 08:01",
            "",
            "x",
        ]
    ),  # fmt: skip
    "result": st.sampled_from(["granted", "denied", "通过", "拒绝", "ok", "fail", "", "OK "]),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries(FIELD_VALUES), min_size=1, max_size=30), crlf=st.booleans())
def test_turnstile_random_lines(tmp_path: Path, rows: list[dict[str, str]], crlf: bool) -> None:
    end = "\r\n" if crlf else "\n"
    body = [f"{r['card']},{r['gate']},{r['direction']},{r['time']},{r['result']}" for r in rows]
    path = write(tmp_path / "main-2025-09-03.csv", end.join([HEADER, *body]) + end)
    assert_same(TURNSTILE, path)


# -- Koha statistics CSV ---------------------------------------------------------------------------

KOHA = get_format("circulation", "koha-csv")
KOHA_HEADER = f"{HEADER_KOHA},cardnumber"
KOHA_GOOD = "2025-09-02 10:15:00,MAIN,0.0000,issue,,1001,BK,STACKS,42,,UG,intranet,2100000001"
HOSTILE_KOHA = [
    KOHA_GOOD,
    "2025-09-02 10:14:00,总馆,0,issue,,1009,BK,中文图书阅览室,43,,UG,opac,",
    "2025-09-02 10:14:01,MAIN,1.50,payment,,,,,43,,UG,opac,NULL",  # no item: fine for a payment
    "2025-09-02 10:14:02,MAIN,,RETURN ,,1001,BK,STACKS,NULL,,UG,opac, 2100000002 ",
    "2025-09-02 10:14:03,MAIN,-0,renew,,1001,BK,STACKS,42,,UG,opac,",
    "2025-09-02 10:14:04,MAIN,1e3,renew,,1001,BK,STACKS,42,,UG,opac,",
    "2025-09-02 10:14:05,MAIN,NaN,renew,,1001,BK,STACKS,42,,UG,opac,",
    "2025-09-02 10:14:06,MAIN,abc,renew,,1001,BK,STACKS,42,,UG,opac,",  # a value that is no number
    "2025-09-02 10:14:07,MAIN, 2 ,renew,,1001,BK,STACKS,42,,UG,opac,",
    "2025-13-45 10:15:00,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet,",  # bad date
    "2025-09-02 24:00:00,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet,",
    "2025-09-02 10:60:00,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet,",
    "2025-09-02 10:15:60,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet,",
    "2025-09-02 10:15:61,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet,",
    "2025-9-2 10:15:00,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet,",  # strptime takes it
    "2025/09/02 10:15:00,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet,",
    " 2025-09-02 10:15:00 ,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet,",
    ",MAIN,0,return,,1001,BK,STACKS,,,UG,opac,",  # anonymised
    "NULL,MAIN,0,return,,1001,BK,STACKS,,,UG,opac,",
    "2025-09-02 10:16:00,MAIN,0,issue,,,BK,STACKS,42,,UG,intranet,",  # missing item
    "2025-09-02 10:16:01,MAIN,0,issue,, ,BK,STACKS,42,,UG,intranet,",
    "2025-09-02 10:19:00,MAIN,0,teleport,,1005,BK,STACKS,42,,UG,intranet,",  # unknown type
    "2025-09-02 10:20:00,MAIN,0,return,,1001,BK,STACKS,42,,UG",  # a field short
    "2025-09-02 10:20:01,MAIN,0,return,,1001,BK,STACKS,42,,UG,opac,,",  # a field more
    '2025-09-02 10:18:00,MAIN,0,issue,"quoted, with comma",1004,BK,STACKS,42,,UG,intranet,',
    '2025-09-02 10:18:01,MAIN,0,issue,a"b,1004,BK,STACKS,42,,UG,intranet,',
    "2025-09-02 10:18:02,MA\\IN,0,issue,\\N,1004,BK,STACKS,42,,UG,intranet,",  # backslashes
    "2025-09-02 10:18:03,MAIN,0,issue,a\tb,1004,BK,STACKS,42,,UG,intranet,",
    "2025-09-02 10:18:04,MAIN,0,issue,a\x00b,1004,BK,STACKS,42,,UG,intranet,",  # NUL
    "2025-09-02 10:18:05,MAIN,0,issue,a\rb,1004,BK,STACKS,42,,UG,intranet,",
    "2025-09-02 10:18:06,MAIN,0,issue,\u3000,\u30001004\u3000,BK,STACKS,42,,UG,intranet,",
    "",
    "   ",
    "2025-09-02 10:18:07,MAIN,0,localuse,,1006,BK,STACKS,42,,UG,intranet,\r",
]
MULTILINE = [
    '2025-09-02 10:21:00,MAIN,0,issue,"a note\nover\n\nlines, with ""quotes""",1007,BK,STACKS,42,,UG,opac,',
    "2025-09-02 10:21:01,MAIN,0,issue,,1008,BK,STACKS,42,,UG,opac,",
    '2025-09-02 10:21:02,MAIN,0,issue,"stray,1009,BK,STACKS,42,,UG,opac,',  # never closed
    *(f"2025-09-02 10:22:{n:02d},MAIN,0,issue,,{1010 + n},BK,STACKS,42,,UG,opac," for n in range(55)),
]


def _generated_koha(rng: random.Random, lines: int) -> list[str]:
    out = []
    for n in range(lines):
        kind = rng.choice(("issue", "return", "renew", "localuse"))
        out.append(
            f"2025-09-{1 + n * 28 // lines:02d} {rng.randrange(8, 22):02d}:{rng.randrange(60):02d}:"
            f"{rng.randrange(60):02d},{rng.choice(('MED', 'SCI', '总馆'))},0.0000,{kind},,"
            f"{100000 + rng.randrange(5000)},"
            f"BK,{rng.choice(('STACKS', '医学图书阅览室'))},{rng.randrange(9000)},,"
            f"{rng.choice(('UG', 'FAC'))},intranet,{2100000000 + rng.randrange(9000)}"
        )
    return out


def test_koha_generated_export_same_rows_mostly_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path / "statistics-2025-09.csv",
        "\n".join([KOHA_HEADER, *_generated_koha(random.Random(4), 3000)]) + "\n",
    )
    _, rejected, rows = assert_same(KOHA, path)
    assert rows == 3000 and rejected == []
    per_record = []
    item = KohaCsv.item
    monkeypatch.setattr(KohaCsv, "item", lambda self, *a: per_record.append(1) or item(self, *a))
    _outcome(KOHA, path, True)
    assert len(per_record) == 1  # the header only


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_koha_hostile_lines(tmp_path: Path, encoding: str, line_end: str) -> None:
    text = line_end.join([KOHA_HEADER, *HOSTILE_KOHA]) + line_end
    path = write(tmp_path / "statistics-2025-09.csv", text.encode(encoding, errors="replace"))
    _, rejected, rows = assert_same(KOHA, path)
    assert rows > 10 and len(rejected) > 10


@pytest.mark.parametrize("at", [0, 5, 20])
def test_koha_multiline_records_from_anywhere(tmp_path: Path, at: int) -> None:
    body = [*_generated_koha(random.Random(at), 30)]
    body[at:at] = MULTILINE
    path = write(tmp_path / "statistics-2025-09.csv", "\n".join([KOHA_HEADER, *body]) + "\n")
    _, rejected, rows = assert_same(KOHA, path)
    assert rows > 80 and len(rejected) == 1


def test_koha_multiline_record_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingest.pipelined.BLOCK_BYTES", 256)
    body = _generated_koha(random.Random(9), 40)
    body[7:7] = MULTILINE[:2]
    mixed = "\n".join([KOHA_HEADER, *body[:20]]).encode() + b"\n" + "\n".join(body[20:]).encode("gb18030")
    for name, content in {
        "multi.csv": ("\n".join([KOHA_HEADER, *body]) + "\n").encode(),
        "mixed.csv": mixed + "\n2025-09-02 10:21:00,总馆,0,issue,,1,BK,S,1,,UG,opac,".encode("gb18030"),
        "plain.csv": "\n".join([KOHA_HEADER, *_generated_koha(random.Random(2), 60)]).encode(),
    }.items():
        assert_same(KOHA, write(tmp_path / name, content))


def test_koha_odd_files_and_headers(tmp_path: Path) -> None:
    columns = KOHA_HEADER.split(",")
    values = KOHA_GOOD.split(",")
    order = list(reversed(range(len(columns))))
    cases = {
        "empty.csv": b"",
        "header-only.csv": KOHA_HEADER.encode(),
        "blank-first.csv": ("\n" + KOHA_HEADER + "\n" + KOHA_GOOD + "\n").encode(),
        "no-card.csv": (HEADER_KOHA + "\n" + KOHA_GOOD.rsplit(",", 1)[0] + "\n").encode(),
        "reordered.csv": (
            ",".join(columns[i] for i in order)
            + ",new_column\n"
            + ",".join(values[i] for i in order)
            + ",x\n"
        ).encode(),
        "no-value.csv": (b"datetime,type,itemnumber,borrowernumber\n2025-09-02 10:15:00,issue,1,42\n"),
        "upper-header.csv": (KOHA_HEADER.upper() + "\n" + KOHA_GOOD + "\n").encode(),
        "quoted-header.csv": (
            '"datetime",' + KOHA_HEADER.split(",", 1)[1] + "\n" + KOHA_GOOD + "\n"
        ).encode(),
        "nul-header.csv": (
            "date\x00time," + KOHA_HEADER + "\n" + KOHA_HEADER + "\n" + KOHA_GOOD + "\n"
        ).encode(),
        "bad-header.csv": b"\xff\xfe," + KOHA_HEADER.encode() + b"\n" + KOHA_GOOD.encode() + b"\n",
        "wrong-header.csv": b"when,who,what\n1,2,3\n",
        "no-final-newline.csv": (KOHA_HEADER + "\n" + KOHA_GOOD).encode(),
    }
    for name, content in cases.items():
        assert_same(KOHA, write(tmp_path / name, content))
        assert_same(KOHA, write(tmp_path / name, content), timezone="America/New_York")


KOHA_VALUES = {
    "time": st.sampled_from(["2025-09-02 10:15:00", "2025-03-09 02:30:00", "2025-11-02 01:30:00", "", "NULL",
                             "2025-09-02 10:15", "2025-02-30 10:00:00"]),
    "value": st.sampled_from(["0", "0.0000", "", "x", "1.5", " 3 "]),
    "type": st.sampled_from(["issue", "return", "payment", "Issue", "", "teleport"]),
    "other": st.sampled_from(["", "x", "a,b", '"q"', "\\", "\t", "中"]),
    "item": st.sampled_from(["1001", "", " "]),
    "borrower": st.sampled_from(["42", "", "NULL", " 42 "]),
    "card": st.sampled_from(["2100000001", "", "null", "-"]),
}  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries(KOHA_VALUES), min_size=1, max_size=30), crlf=st.booleans())
def test_koha_random_lines(tmp_path: Path, rows: list[dict[str, str]], crlf: bool) -> None:
    end = "\r\n" if crlf else "\n"
    body = [
        f"{r['time']},MAIN,{r['value']},{r['type']},{r['other']},{r['item']},BK,STACKS,{r['borrower']},,UG,"
        f"opac,{r['card']}"
        for r in rows
    ]
    path = write(tmp_path / "statistics-2025-09.csv", end.join([KOHA_HEADER, *body]) + end)
    assert_same(KOHA, path, timezone="America/New_York")


# -- Koha items CSV --------------------------------------------------------------------------------

KOHA_ITEMS = get_format("circulation", "koha-items-csv")
ITEMS_HEADER = "itemnumber,barcode,itemcallnumber,itype,homebranch,location"
HOSTILE_ITEMS = [
    "1,3100000001,A428.97/653,BK,MAIN,中文图书阅览室",
    "2,3100000002,A207/671,BK,MAIN,",  # no location: the branch
    "3,,,,,",  # only the number
    " 4 ,3100000004,A1,BK,MAIN,STACKS",  # the number stripped, the rest as written
    ",3100000005,A1,BK,MAIN,STACKS",  # no number
    "   ,3100000006,A1,BK,MAIN,STACKS",
    "7,3100000007,A1,BK,MAIN",  # a field short
    "8,3100000008,A1,BK,MAIN,STACKS,x",  # a field more
    '9,3100000009,"A1, v.2",BK,MAIN,STACKS',
    '10,31000000"10,A1,BK,MAIN,STACKS',
    "11,3100000011,A1\\2,BK,MAIN,\\N",  # backslashes
    "12,3100000012,A1\tB,BK,MAIN,STACKS",
    "13,3100000013,A1\x00,BK,MAIN,STACKS",  # NUL
    "14,3100000014,A1\rB,BK,MAIN,STACKS",
    "15,\u3000,\u3000A1\u3000,BK,MAIN,STACKS",
    "",
    "   ",
    "16,3100000016,A1,BK,MAIN,STACKS\r",
]


def _generated_items(rng: random.Random, lines: int) -> list[str]:
    return [
        f"{n + 1},{3100000000 + n + 1},{rng.choice('ABDIKT')}{rng.randrange(999)}/{rng.randrange(999)},"
        f"{rng.choice(('BK', 'JN'))},{rng.choice(('MAIN', 'SCI'))},"
        f"{rng.choice(('STACKS', '中文图书阅览室', ''))}"
        for n in range(lines)
    ]


def test_koha_items_generated_export_same_rows_mostly_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "items.csv", "\n".join([ITEMS_HEADER, *_generated_items(random.Random(5), 3000)]) + "\n"
    )
    _, rejected, rows = assert_same(KOHA_ITEMS, path)
    assert rows == 3000 and rejected == []
    per_record = []
    item = KohaCsv.item
    monkeypatch.setattr(KohaCsv, "item", lambda self, *a: per_record.append(1) or item(self, *a))
    _outcome(KOHA_ITEMS, path, True)
    assert len(per_record) == 1  # the header only


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_koha_items_hostile_lines(tmp_path: Path, encoding: str, line_end: str) -> None:
    text = line_end.join([ITEMS_HEADER, *HOSTILE_ITEMS]) + line_end
    path = write(tmp_path / "items.csv", text.encode(encoding, errors="replace"))
    _, rejected, rows = assert_same(KOHA_ITEMS, path)
    assert rows >= 8 and len(rejected) >= 4


def test_koha_items_multiline_and_odd_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingest.pipelined.BLOCK_BYTES", 256)
    body = _generated_items(random.Random(9), 60)
    body[7:7] = ['17,3100000017,"A1\nover lines",BK,MAIN,STACKS', "18,3100000018,A1,BK,MAIN,STACKS"]
    mixed = "\n".join([ITEMS_HEADER, *body[:20]]).encode() + b"\n" + "\n".join(body[20:]).encode("gb18030")
    cases = {
        "multi.csv": ("\n".join([ITEMS_HEADER, *body]) + "\n").encode(),
        "mixed.csv": mixed,
        "never-closed.csv": ("\n".join([ITEMS_HEADER, '1,"x,A1,BK,MAIN,S', *body]) + "\n").encode(),
        "empty.csv": b"",
        "header-only.csv": ITEMS_HEADER.encode(),
        "blank-first.csv": ("\n" + ITEMS_HEADER + "\n1,2,A1,BK,MAIN,S\n").encode(),
        "number-only.csv": b"itemnumber\n1\n\n 2 \n",
        "reordered.csv": b"location,ITYPE,itemnumber, Barcode \nS,BK,1,31\n,BK,2,\n",
        "quoted-header.csv": (b'"itemnumber",barcode\n1,2\n'),
        "bad-header.csv": b"\xff\xfe,itemnumber\n1,2\n",
        "wrong-header.csv": b"when,who,what\n1,2,3\n",
        "duplicated-header.csv": b"itemnumber,barcode,barcode\n1,2,3\n",
        "no-final-newline.csv": (ITEMS_HEADER + "\n1,2,A1,BK,MAIN,S").encode(),
    }
    for name, content in cases.items():
        assert_same(KOHA_ITEMS, write(tmp_path / name, content))


ITEM_VALUES = {
    "item": st.sampled_from(["1001", "", " ", " 7 ", "NULL", "中"]),
    "barcode": st.sampled_from(["31", "", "a,b", '"q"', "\\", "\t", "-"]),
    "call": st.sampled_from(["A1/2", "", " x ", "\u3000"]),
    "branch": st.sampled_from(["MAIN", ""]),
    "location": st.sampled_from(["STACKS", "", " "]),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries(ITEM_VALUES), min_size=1, max_size=30), crlf=st.booleans())
def test_koha_items_random_lines(tmp_path: Path, rows: list[dict[str, str]], crlf: bool) -> None:
    end = "\r\n" if crlf else "\n"
    body = [f"{r['item']},{r['barcode']},{r['call']},BK,{r['branch']},{r['location']}" for r in rows]
    assert_same(KOHA_ITEMS, write(tmp_path / "items.csv", end.join([ITEMS_HEADER, *body]) + end))


def test_loader_lands_the_same_both_ways_koha_items(warehouse_url: str, tmp_path: Path) -> None:
    body = [*HOSTILE_ITEMS, *_generated_items(random.Random(3), 200)]
    path = write(tmp_path / "items.csv", "\n".join([ITEMS_HEADER, *body]) + "\n")
    fast, reference = (
        _landed(warehouse_url, KOHA_ITEMS, path, single_process=single) for single in (False, True)
    )
    assert fast == reference and len(fast[0]) > 200


# -- space bookings CSV ----------------------------------------------------------------------------

BOOKINGS = get_format("spaces", "bookings-csv")
BOOKINGS_HEADER = "booking_id,person_id,space_id,space_type,space_area,start_time,end_time,status,booked_at"
HOSTILE_BOOKINGS = [
    "B1,S2025000123,R-301,room,3F group rooms,2025-09-15 14:00:00,2025-09-15 16:00:00,checked_in,"
    "2025-09-14 20:01",
    "B2,S2025000124,S-2A-017,座位,2F reading room A,2025/9/15 8:00,2025/9/15 12:00,违约,",
    "B2b,S2025000124,S-2A-017,座位,2F,2025/09/15 08:00,2025/09/15 12:00,违约,NULL",
    "B3,S2025000125,R-302,room,3F,2025-09-15T10:00:00+08:00,2025-09-15T12:00:00+08:00,Cancelled,",
    "B3b,S2025000125,R-302,Group_Study-Room,3F,2025-09-15T10:00,2025-09-15T12:00,Checked-In,",
    "B4,S2025000126,R-303,room,3F,2025-09-15 10:00:00,2025-09-15 09:00:00,checked_in,",  # ends first
    "B4b,S2025000126,R-303,room,3F,2025-09-15 10:00,2025-09-15 10:00,checked_in,",  # ends as it starts
    "B5,S2025000127,R-303,room,3F,2025-09-15 10:00:00,2025-09-15 11:00:00,booked,",  # unknown status
    "B6,S2025000127,R-303,cupboard,3F,2025-09-15 10:00,2025-09-15 11:00,no_show,",  # unknown type
    "B7,S2025000127,R-303,,,2025-09-15 10:00,2025-09-15 11:00,no_show,-",
    "B8,S2025000127,R-303,N/A,none,2025-09-15 10:00,2025-09-15 11:00,no_show,",
    "null,S2025000127,R-303,room,3F,2025-09-15 10:00,2025-09-15 11:00,no_show,",
    "B9,-,R-303,room,3F,2025-09-15 10:00,2025-09-15 11:00,no_show,",
    "B10,S2025000127,,room,3F,2025-09-15 10:00,2025-09-15 11:00,no_show,",
    "B11,S2025000127,R-303,room,3F,,2025-09-15 11:00,no_show,",
    "B12,S2025000127,R-303,room,3F,2025-09-15,2025-09-15 11:00,no_show,",
    "B13,S2025000127,R-303,room,3F,2025-09-15 24:00,2025-09-16 11:00,no_show,",
    "B14,S2025000127,R-303,room,3F,2025-02-30 10:00,2025-03-01 11:00,no_show,",
    "B15,S2025000127,R-303,room,3F,2025-09-15 10:60,2025-09-15 11:00,no_show,",
    "B16,S2025000127,R-303,room,3F,2025-09-15 10:00,2025-09-15 11:00,,",
    "B17,S2025000127,R-303,room,3F,2025-09-15 10:00,2025-09-15 11:00,no_show,yesterday",
    "B18,S2025000127,R-303,room,3F,2025-09-15 10:00,2025-09-15 11:00,no_show",  # a field short
    '"B19",S2025000127,R-303,room,"3F, east",2025-09-15 10:00,2025-09-15 11:00,no_show,',
    'B20,S2025000127,R-303,room,5" screen,2025-09-15 10:00,2025-09-15 11:00,no_show,',
    "B21,S2025000127,R-303,room,3F\\east,2025-09-15 10:00,2025-09-15 11:00,no_show,",
    "B22,S2025000127,R-303,room,3F\teast,2025-09-15 10:00,2025-09-15 11:00,no_show,",
    "B23,S2025000127,R-303,room,3F\x00,2025-09-15 10:00,2025-09-15 11:00,no_show,",
    "B24, S2025000127 , R-303 , room , 3F ,\u30002025-09-15 10:00 , 2025-09-15 11:00 , no show ,",
    "B25,alice@example.edu,R-303,room,3F,2025-09-15 10:00,2025-09-15 11:00,no_show,",
    "",
    "  ",
]


def _generated_bookings(rng: random.Random, lines: int) -> list[str]:
    out = []
    for n in range(lines):
        day, hour = 1 + n * 28 // lines, rng.randrange(8, 20)
        out.append(
            f"S{n:07d},S2022{rng.randrange(5000):06d},S-5F-{rng.randrange(100):03d},座位,五楼自习区,"
            f"2025/09/{day:02d} {hour:02d}:00,2025/09/{day:02d} {hour + 2:02d}:00,"
            f"{rng.choice(('已签到', '违约', '已取消'))},"
            f"2025/08/{1 + rng.randrange(28):02d} {rng.randrange(24):02d}:"
            f"{rng.randrange(60):02d}"
        )
    return out


def test_bookings_generated_export_same_rows_mostly_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "seats-2025-09.csv",
        "\n".join([BOOKINGS_HEADER, *_generated_bookings(random.Random(4), 3000)]).encode("gb18030"),
    )
    _, rejected, rows = assert_same(BOOKINGS, path)
    assert rows == 3000 and rejected == []
    per_record = []
    item = CsvReader.item
    monkeypatch.setattr(CsvReader, "item", lambda self, *a: per_record.append(1) or item(self, *a))
    _outcome(BOOKINGS, path, True)
    assert len(per_record) == 1  # the header only


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_bookings_hostile_lines(tmp_path: Path, encoding: str, line_end: str) -> None:
    text = line_end.join([BOOKINGS_HEADER, *HOSTILE_BOOKINGS]) + line_end
    path = write(tmp_path / "rooms-2025-09.csv", text.encode(encoding, errors="replace"))
    _, rejected, rows = assert_same(BOOKINGS, path)
    assert rows > 8 and len(rejected) > 10
    assert_same(BOOKINGS, path, timezone="America/New_York")


@pytest.mark.parametrize("at", [0, 7])
def test_bookings_multiline_records(tmp_path: Path, at: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingest.pipelined.BLOCK_BYTES", 512)
    body = _generated_bookings(random.Random(at), 30)
    body[at:at] = [
        'B1,S1,R-1,room,"3F\nnorth",2025-09-15 10:00,2025-09-15 11:00,no_show,',
        'B2,S1,R-1,room,"never closed,2025-09-15 10:00,2025-09-15 11:00,no_show,',
        *_generated_bookings(random.Random(1), 55),
    ]
    path = write(tmp_path / "rooms.csv", "\n".join([BOOKINGS_HEADER, *body]) + "\n")
    assert_same(BOOKINGS, path)


def test_bookings_odd_files_and_headers(tmp_path: Path) -> None:
    mapped = (
        "预约号,学号,姓名,座位号,区域,开始时间,结束时间,状态\n"
        "9001,S2025000123,张三,S-2A-017,二楼A区,2025-09-15 08:00,2025-09-15 12:00,已签到\n"
    )
    mapping = (
        "booking_id=预约号,person_id=学号,space_id=座位号,space_area=区域,start_time=开始时间,"
        "end_time=结束时间,status=状态"
    )
    assert_same(BOOKINGS, write(tmp_path / "mapped.csv", mapped.encode("gb18030")), columns=mapping)
    assert_same(BOOKINGS, write(tmp_path / "unmapped.csv", mapped.encode("gb18030")))  # refused
    good = HOSTILE_BOOKINGS[0]
    cases = {
        "empty.csv": b"",
        "header-only.csv": BOOKINGS_HEADER.encode(),
        "blank-first.csv": ("\n" + BOOKINGS_HEADER + "\n" + good + "\n").encode(),
        "quoted-header.csv": (
            '"booking_id",' + BOOKINGS_HEADER.split(",", 1)[1] + "\n" + good + "\n"
        ).encode(),
        "nul-header.csv": ("x\x00," + BOOKINGS_HEADER + "\n" + BOOKINGS_HEADER + "\n" + good + "\n").encode(),
        "upper-header.csv": (BOOKINGS_HEADER.upper().replace(",", " , ") + "\n" + good + "\n").encode(),
        "bad-header.csv": b"\xff\xfe," + BOOKINGS_HEADER.encode() + b"\n" + good.encode() + b"\n",
        "no-final-newline.csv": (BOOKINGS_HEADER + "\n" + good).encode(),
        "mixed.csv": (BOOKINGS_HEADER + "\n" + good + "\n").encode()
        + (good + "\n").replace("3F", "三楼").encode("gb18030"),
    }
    for name, content in cases.items():
        assert_same(BOOKINGS, write(tmp_path / name, content))


BOOKING_VALUES = {
    "person": st.sampled_from(["S1", "", "null", " S2 "]),
    "type": st.sampled_from(["room", "座位", "", "x", "Study Room"]),
    "start": st.sampled_from(["2025-09-15 10:00", "2025/09/15 10:00:30", "2025-03-09 02:30",
                              "2025-11-02 01:30", ""]),
    "end": st.sampled_from(["2025-09-15 11:00", "2025-09-15 10:00", "2025-03-09 03:30", "2025-11-02 01:45",
                            "x"]),
    "status": st.sampled_from(["checked_in", "违约", "", "Cancelled", "booked"]),
    "booked": st.sampled_from(["", "2025-09-14 20:01", "n/a", "2025-09-14"]),
}  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries(BOOKING_VALUES), min_size=1, max_size=30), crlf=st.booleans())
def test_bookings_random_lines(tmp_path: Path, rows: list[dict[str, str]], crlf: bool) -> None:
    end = "\r\n" if crlf else "\n"
    body = [
        f"B{n},{r['person']},R-1,{r['type']},3F,{r['start']},{r['end']},{r['status']},{r['booked']}"
        for n, r in enumerate(rows)
    ]
    path = write(tmp_path / "rooms.csv", end.join([BOOKINGS_HEADER, *body]) + end)
    assert_same(BOOKINGS, path, timezone="America/New_York")


# -- through the loader ----------------------------------------------------------------------------


def _landed(url: str, fmt: Format, path: Path, **options: object) -> tuple[list, list]:
    [result] = ingest_files(
        url, fmt.source, fmt.name, [path], key=TEST_KEY, max_reject_share=1.0, options=options
    )
    columns = ", ".join(("source_file", "source_line", *fmt.table.column_names))
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"select {columns} from raw.{fmt.table.name} where batch_id = %s order by source_line",
            (result.batch_id,),
        ).fetchall()
        rejected = conn.execute(
            "select source_line, field, reason, raw_text from quarantine.rejected_rows "
            "where batch_id = %s order by source_line, field",
            (result.batch_id,),
        ).fetchall()
        # forget the load, so that the same file loads again the other way
        conn.execute("delete from raw.load_log where batch_id = %s", (result.batch_id,))
    assert (result.rows_loaded, result.rows_quarantined) == (len(rows), len(rejected))
    return rows, rejected


def test_loader_lands_the_same_both_ways(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [HEADER, *HOSTILE_SWIPES, *_generated_swipes(random.Random(5), 500)]
    path = write(tmp_path / "main-2025-09-03.csv", "\r\n".join(lines) + "\r\n")
    single = _landed(warehouse_url, TURNSTILE, path, single_process=True)
    calls = []
    real = loader._fast_chunks
    monkeypatch.setattr(loader, "_fast_chunks", lambda *a: calls.append(real(*a)) or calls[-1])
    fast = _landed(warehouse_url, TURNSTILE, path)
    assert calls and calls[-1] is not None, "the fast path was not taken"
    assert fast == single
    assert len(single[0]) > 500 and len(single[1]) > 10


def test_loader_lands_the_same_both_ways_koha(warehouse_url: str, tmp_path: Path) -> None:
    hostile = [line for line in HOSTILE_KOHA if "NaN" not in line]  # NaN equals nothing, itself included
    body = [*hostile, *_generated_koha(random.Random(6), 300)]
    body[200:200] = MULTILINE
    path = write(tmp_path / "statistics-2025-09.csv", "\r\n".join([KOHA_HEADER, *body]).encode("gb18030"))
    single = _landed(warehouse_url, KOHA, path, single_process=True)
    fast = _landed(warehouse_url, KOHA, path)
    assert fast == single
    assert len(single[0]) > 300 and len(single[1]) > 10


def test_loader_lands_the_same_both_ways_bookings(warehouse_url: str, tmp_path: Path) -> None:
    body = [*HOSTILE_BOOKINGS, *_generated_bookings(random.Random(6), 300)]
    path = write(tmp_path / "rooms-2025-09.csv", "\r\n".join([BOOKINGS_HEADER, *body]).encode("gb18030"))
    single = _landed(warehouse_url, BOOKINGS, path, single_process=True)
    fast = _landed(warehouse_url, BOOKINGS, path)
    assert fast == single
    assert len(single[0]) > 300 and len(single[1]) > 10


def test_analyze_only_when_the_statistics_would_be_stale(warehouse_url: str, tmp_path: Path) -> None:
    table = TURNSTILE.table
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("truncate raw.gate_passages")
        conn.execute("analyze raw.gate_passages")
        assert loader.analyze_table(conn, table, 5)  # an empty table: always
        path = write(
            tmp_path / "main-2025-09-04.csv", "\n".join([HEADER, *_generated_swipes(random.Random(8), 3000)])
        )
        ingest_files(warehouse_url, "gate", "turnstile-csv", [path], key=TEST_KEY, max_reject_share=0.1)
        conn.execute("analyze raw.gate_passages")
        assert not loader.analyze_table(conn, table, 100)  # a small share of a table with statistics
        assert loader.analyze_table(conn, table, 1000)
        assert loader.analyze_table(conn, table)  # asked without a row count: always
        conn.execute("truncate raw.gate_passages")


def test_psycopg_writes_an_aware_datetime_as_str() -> None:
    """The fast paths write the hour of a time as str(datetime) (copytext.LocalTimes): what the
    loader's psycopg writes for the per-line code's datetimes, in every zone, DST or not."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    writer = ChunkWriter(get_format("circulation", "koha-csv").table, PREFIX)
    for zone in (
        "Asia/Shanghai",
        "America/New_York",
        "Europe/London",
        "Asia/Kolkata",
        "Africa/Monrovia",
        "UTC",
    ):
        for hours in range(0, 24 * 366 * 3, 37):
            when = (datetime(1900, 1, 1) + timedelta(hours=hours * 17)).replace(tzinfo=ZoneInfo(zone))
            assert writer.dump(when) == str(when)
