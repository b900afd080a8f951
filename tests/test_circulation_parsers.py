"""Unit tests of the FOLIO and Koha parsers, including every real FOLIO sample."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.circulation.folio import parse_folio_items, parse_folio_loans
from ingest.circulation.koha import STATISTICS_COLUMNS, parse_koha_items, parse_koha_statistics
from ingest.circulation.tables import FOLIO_LOANS, KOHA_STATISTICS
from tests.helpers import context, split, write

HEADER = ",".join(STATISTICS_COLUMNS)
GOOD = "2025-09-02 10:15:00,MAIN,0,issue,,1001,BK,STACKS,42,,UG,intranet"


def _folio_sample_files(samples: Path) -> list[Path]:
    folio = samples / "ils" / "folio"
    files = sorted((folio / "mod-circulation-storage" / "sample-data-loans").glob("*.json"))
    files += [
        folio / m / "examples" / name
        for m in ("mod-circulation-storage", "mod-circulation")
        for name in ("loan.json", "loans.json", "loans-history-items.json")
    ]
    return [f for f in files if f.exists()]


def test_every_folio_sample_loan_parses(samples: Path) -> None:
    files = _folio_sample_files(samples)
    assert len(files) == 10  # every FOLIO sample that holds loans
    total = 0
    for path in files:
        good, bad = split(parse_folio_loans(path, context()))
        assert bad == [], f"{path}: {bad}"
        document = json.loads(path.read_text())
        records = document.get("loans", document.get("loansHistory"))
        expected = len(records) if records is not None else 1
        assert len(good) == expected, path
        for _, values in good:
            row = dict(zip(FOLIO_LOANS.column_names, values, strict=True))
            assert row["loan_at"].tzinfo is not None
            assert row["item_id"] and row["action"]
            if row["patron_key"] is not None:
                assert len(row["patron_key"]) == 32  # a pseudonym, never the FOLIO user id
        total += len(good)
    assert total > 10


def test_folio_sample_offsets_become_instants(samples: Path) -> None:
    # mod-circulation-storage examples/loans.json mixes Z, .000Z and numeric offsets
    path = samples / "ils/folio/mod-circulation-storage/examples/loans.json"
    good, _ = split(parse_folio_loans(path, context()))
    instants = {dict(zip(FOLIO_LOANS.column_names, v, strict=True))["loan_at"] for _, v in good}
    assert all(i.utcoffset().total_seconds() == 0 for i in instants)


def test_folio_anonymised_loan_and_missing_fields(tmp_path: Path) -> None:
    loans = {
        "loans": [
            {
                "id": "a",
                "itemId": "i1",
                "loanDate": "2025-09-01T08:00:00.000Z",
                "action": "checkedout",
            },
            {"id": "b", "userId": "u1", "loanDate": "2025-09-01T08:00:00Z", "action": "checkedout"},
            {
                "id": "c",
                "userId": "u1",
                "itemId": "i2",
                "loanDate": "yesterday",
                "action": "checkedout",
            },
        ]
    }
    path = write(tmp_path / "loans.json", json.dumps(loans, indent=2))
    good, bad = split(parse_folio_loans(path, context()))
    assert len(good) == 1 and good[0][1][1] is None  # anonymised: no patron key
    assert [(r.field, r.line) for r in bad] == [("itemId", 9), ("loanDate", 15)]


def test_folio_items_call_numbers(tmp_path: Path) -> None:
    items = {
        "items": [
            {
                "id": "x1",
                "barcode": "B1",
                "effectiveCallNumberComponents": {"callNumber": "TP311.13/12"},
            },
            {"barcode": "B2"},
        ]
    }
    good, bad = split(parse_folio_items(write(tmp_path / "items.json", json.dumps(items)), context()))
    assert good[0][1][:4] == ("folio", "x1", "B1", "TP311.13/12")
    assert bad[0].field == "id"


def test_koha_good_rows_convert_local_time_and_pseudonymise(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", f"{HEADER}\n{GOOD}\n")
    good, bad = split(parse_koha_statistics(path, context()))
    assert bad == []
    row = dict(zip(KOHA_STATISTICS.column_names, good[0][1], strict=True))
    assert row["event_at"].astimezone(UTC) == datetime(2025, 9, 2, 2, 15, tzinfo=UTC)
    assert row["patron_key"] != "42" and len(row["patron_key"]) == 32
    assert good[0][0] == 2


def test_koha_malformed_rows_each_quarantined_with_line_and_reason(tmp_path: Path) -> None:
    lines = [
        HEADER.encode(),
        GOOD.encode(),
        "2025-09-02 10:14:00,总馆,0,issue,,1009,BK,中文图书阅览室,43,,UG,opac".encode(),
        b"2025-13-45 10:15:00,MAIN,0,issue,,1002,BK,STACKS,42,,UG,intranet",  # bad date
        b"2025-09-02 10:16:00,MAIN,0,issue,,,BK,STACKS,42,,UG,intranet",  # missing item
        "2025-09-02 10:17:00,MAIN,0,issue,,1003,BK,中文阅览室,42,,UG,intranet".encode("gb18030"),
        b'2025-09-02 10:18:00,MAIN,0,issue,"stray,1004,BK,STACKS,42,,UG,intranet',  # stray quote
        b"2025-09-02 10:19:00,MAIN,0,teleport,,1005,BK,STACKS,42,,UG,intranet",  # unknown type
        b"2025-09-02 10:20:00,MAIN,0,return,,1001,BK,STACKS,42,,UG",  # field missing
        b",MAIN,0,return,,1001,BK,STACKS,,,UG,opac",  # anonymised: fine
    ]
    path = write(tmp_path / "bad.csv", b"\r\n".join(lines))  # CRLF, no final newline
    good, bad = split(parse_koha_statistics(path, context()))
    assert [g[0] for g in good] == [2, 3, 10]
    assert [(r.line, r.field) for r in bad] == [
        (4, "datetime"),
        (5, "itemnumber"),
        (6, "(encoding)"),
        (7, "(line)"),
        (8, "type"),
        (9, "(line)"),
    ]
    assert "GB18030" in bad[2].reason
    assert all(r.raw for r in bad)


def test_koha_gb18030_file_detected(tmp_path: Path) -> None:
    text = f"{HEADER}\r\n2025-09-02 10:17:00,总馆,0,issue,,1003,BK,中文阅览室,42,,UG,intranet\r\n"
    path = write(tmp_path / "gb.csv", text.encode("gb18030"))
    good, bad = split(parse_koha_statistics(path, context()))
    assert bad == [] and good[0][1][1] == "总馆"


def test_koha_header_without_koha_columns_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "when,who,what\n1,2,3\n")
    try:
        list(parse_koha_statistics(path, context()))
    except ValueError as err:
        assert "line 1" in str(err) and "itemnumber" in str(err)
    else:
        raise AssertionError("a file without Koha's columns must fail")


def test_koha_items(tmp_path: Path) -> None:
    path = write(
        tmp_path / "items.csv",
        "itemnumber,barcode,itemcallnumber,itype,homebranch,location\n"
        "1001,B1,I247.5/12,BK,MAIN,STACKS\n,B2,,BK,MAIN,\n",
    )
    good, bad = split(parse_koha_items(path, context()))
    assert good[0][1][:4] == ("koha", "1001", "B1", "I247.5/12") and bad[0].line == 3


_field = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    max_size=12,
)


@settings(deadline=None)  # file writes: no per-example deadline on a busy CI machine
@given(st.lists(st.tuples(_field, _field), min_size=1, max_size=20))
def test_koha_every_line_is_either_loaded_or_quarantined(tmp_path_factory, rows) -> None:
    """Whatever the junk in the free-text fields, no line is ever lost: good + bad = lines.
    Fields are written as a CSV writer (Koha's export) writes them: one holding a quote or a comma
    is quoted. (A bare quote opening a field starts a multi-line field: test_reliability_hostile.)"""
    body = []
    for other, location in rows:
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(
            [
                "2025-09-02 10:15:00",
                "MAIN",
                "0",
                "issue",
                other,
                "1001",
                "BK",
                location,
                "42",
                "",
                "UG",
                "intranet",
            ]
        )
        body.append(out.getvalue())
    path = write(tmp_path_factory.mktemp("h") / "p.csv", HEADER + "\n" + "\n".join(body) + "\n")
    good, bad = split(parse_koha_statistics(path, context()))
    non_blank = [b for b in body if b.strip()]
    assert len(good) + len(bad) == len(non_blank)
    assert sorted([g[0] for g in good] + [b.line for b in bad]) == list(range(2, 2 + len(body)))
