"""Evergreen's action.circulation (`evergreen-circ`): the Evergreen project's own sample data
(peer/ils/evergreen), COPY text and CSV, columns by name, and what may never land."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from ingest.circulation.evergreen import EVERGREEN_COLUMNS, copy_fields, parse_evergreen_circulations
from ingest.circulation.tables import EVERGREEN_CIRCULATIONS
from ingest.errors import ColumnsChanged
from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.helpers import context, split, write

COLUMNS = EVERGREEN_CIRCULATIONS.column_names
FIXTURE = "peer/ils/evergreen/action.circulation.sql"


def rows(path: Path) -> list[dict]:
    good, bad = split(parse_evergreen_circulations(path, context()))
    assert bad == [], bad[:3]
    return [dict(zip(COLUMNS, values, strict=True), line=line) for line, values in good]


def test_the_evergreen_sample_circulations_parse_with_the_facts_of_the_fixture(samples: Path) -> None:
    parsed = rows(samples / FIXTURE)
    # The facts peer/README.md lists for this fixture (counted there from the file itself).
    assert len(parsed) == 486
    assert len({r["patron_key"] for r in parsed}) == 81
    assert len({r["item_id"] for r in parsed}) == 486
    assert Counter(r["circ_lib"] for r in parsed) == {"4": 116, "5": 98, "6": 100, "7": 87, "9": 85}
    assert not any(r["returned_at"] or r["finished_at"] or r["parent_circ_id"] for r in parsed)
    assert Counter(r["stop_fines"] for r in parsed) == {"MAXFINES": 317, "LOST": 12, None: 157}
    assert Counter(r["loan_duration"] for r in parsed) == {"14 days": 162, "01:00:00": 162, "7 days": 162}
    assert Counter(r["loan_at"].year for r in parsed) == {2020: 473, 2014: 13}
    assert {r["renewal_remaining"] for r in parsed} == {0, 2}
    offsets = {r[c].utcoffset().total_seconds() / 3600 for r in parsed for c in ("loan_at", "due_at")}
    assert offsets == {-4, -5}  # daylight saving time and not: each instant keeps its own offset
    assert parsed[0]["line"] == 2 and parsed[0]["circ_id"] == 1
    assert all(len(r["patron_key"]) == 32 for r in parsed)  # usr lands as a pseudonym only


def test_a_csv_export_gives_the_same_rows_as_the_copy_dump(samples: Path, tmp_path: Path) -> None:
    lines = (samples / FIXTURE).read_text().splitlines()
    header = lines[0][lines[0].index("(") + 1 : lines[0].index(")")].split(", ")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for line in (x for x in lines[1:] if x and x != "\\."):
        writer.writerow(["" if f is None else f for f in copy_fields(line)])
    csv_rows = rows(write(tmp_path / "circulation-2020.csv", out.getvalue()))
    copy_rows = rows(samples / FIXTURE)
    assert [{k: v for k, v in r.items() if k != "line"} for r in csv_rows] == [
        {k: v for k, v in r.items() if k != "line"} for r in copy_rows
    ]


def _dump(*records: dict[str, str], columns: tuple[str, ...] = EVERGREEN_COLUMNS) -> str:
    body = "\n".join("\t".join(r.get(c, "\\N") for c in columns) for r in records)
    return f"COPY action.circulation ({', '.join(columns)}) FROM stdin;\n{body}\n\\.\n"


CIRC = {"id": "1", "usr": "5", "xact_start": "2020-10-20 10:26:51-04", "target_copy": "9", "circ_lib": "4"}


def test_columns_are_read_by_name_and_other_tables_of_a_dump_are_skipped(tmp_path: Path) -> None:
    reordered = tuple(reversed(EVERGREEN_COLUMNS)) + ("a_new_column",)
    text = (
        "-- pg_dump\nSET client_encoding = 'UTF8';\n\n"
        "COPY action.hold_request (id, usr) FROM stdin;\n1\t5\n\\.\n\n"
        + _dump(dict(CIRC, a_new_column="x", copy_location="A\\tB\\\\C"), columns=reordered)
        + "COPY asset.copy (id) FROM stdin;\n9\n\\.\n"
    )
    [row] = rows(write(tmp_path / "dump.sql", text))
    assert (row["circ_id"], row["item_id"], row["copy_location"], row["line"]) == (1, "9", "A\tB\\C", 9)


def test_a_renamed_column_is_refused_naming_it(tmp_path: Path) -> None:
    renamed = tuple("patron" if c == "usr" else c for c in EVERGREEN_COLUMNS)
    path = write(tmp_path / "dump.sql", _dump(CIRC, columns=renamed))
    with pytest.raises(ColumnsChanged, match="lack usr"):
        list(parse_evergreen_circulations(path, context()))
    junk = write(tmp_path / "junk.sql", "hello\tworld\n")
    with pytest.raises(ColumnsChanged, match="COPY action.circulation"):
        list(parse_evergreen_circulations(junk, context()))


def test_a_headerless_copy_of_the_table_reads_in_evergreens_column_order(tmp_path: Path) -> None:
    line = "\t".join(CIRC.get(c, "\\N") for c in EVERGREEN_COLUMNS)
    [row] = rows(write(tmp_path / "circulation.copy", line + "\n"))
    assert (row["circ_id"], row["item_id"], row["circ_lib"]) == (1, "9", "4")


def test_bad_rows_are_quarantined_without_the_borrower(tmp_path: Path) -> None:
    text = _dump(
        CIRC,
        dict(CIRC, id="2", xact_start="yesterday"),
        dict(CIRC, id="x3"),
        dict(CIRC, id="4", stop_fines="TELEPORTED"),
        dict(CIRC, id="5", desk_renewal="t", parent_circ="1", xact_start="2020-11-03 10:00:00-05"),
    )
    good, bad = split(parse_evergreen_circulations(write(tmp_path / "d.sql", text), context()))
    assert [line for line, _ in good] == [2, 6]
    assert dict(zip(COLUMNS, good[1][1], strict=True))["renewal_channel"] == "desk"
    assert [(b.line, b.field) for b in bad] == [(3, "xact_start"), (4, "id"), (5, "stop_fines")]
    assert all("\t5\t" not in b.raw and "(removed)" in b.raw for b in bad)


@pytest.mark.integration
def test_the_sample_loads_once(conn: psycopg.Connection, warehouse_url: str, samples: Path) -> None:
    path = samples / FIXTURE

    def load():
        return ingest_files(
            warehouse_url, "circulation", "evergreen-circ", [path], key=TEST_KEY, max_reject_share=0
        )[0]

    first, again = load(), load()
    assert (first.rows_loaded, first.rows_quarantined, again.skipped) == (486, 0, True)
    assert conn.execute("select count(*) from raw.evergreen_circulations").fetchone() == (486,)
