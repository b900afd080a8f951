"""Every parser of every registered format, fuzzed: hostile bytes in any field of a valid file
(NUL and other control characters, invalid encodings, very long fields, SQL and quotes), and
files of arbitrary bytes. Each input is parsed or quarantined row by row, or refused whole with
a one-line UserError; never another exception, and every row it lets through fits its table.

Formats come from the registry, so a format added later is fuzzed without touching this file:
it gets the arbitrary-bytes fuzz at once, and the hostile-field fuzz from a seed file, either
one of SEEDS below or a file the synthetic university writes for it (urm_demo.synth).
"""

from __future__ import annotations

import json
import math
import tempfile
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import LoadRejected, UserError
from ingest.loader import load_file
from ingest.model import Format, Rejected
from ingest.registry import formats
from tests.helpers import context
from tests.test_circulation_parsers import GOOD, HEADER

FORMATS = sorted(formats())
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Small valid files of the formats known when this was written (bytes; JSON as text).
_TR_HEADER = (
    "Report_Name\tTitle Master Report\nReport_ID\tTR\nRelease\t5\nInstitution_Name\tU\n"
    "Institution_ID\t\nMetric_Types\t\nReport_Filters\t\nReport_Attributes\t\nExceptions\t\n"
    "Reporting_Period\tBegin_Date=2025-01-01; End_Date=2025-02-28\nCreated\t2025-03-03\nCreated_By\tx\n\n"
    "Title\tPublisher\tPublisher_ID\tPlatform\tDOI\tProprietary_ID\tISBN\tPrint_ISSN\tOnline_ISSN\tURI\t"
    "Data_Type\tYOP\tAccess_Type\tAccess_Method\tMetric_Type\tReporting_Period_Total\tJan-2025\tFeb-2025\n"
)
_COUNTER_JSON = {
    "Report_Header": {
        "Report_Name": "Title Master Report",
        "Report_ID": "TR",
        "Release": "5",
        "Institution_Name": "U",
        "Customer_ID": "c1",
        "Created": "2025-03-03T10:00:00Z",
        "Report_Filters": [
            {"Name": "Begin_Date", "Value": "2025-01-01"},
            {"Name": "End_Date", "Value": "2025-02-28"},
        ],
    },
    "Report_Items": [
        {
            "Title": f"Journal {n}",
            "Platform": "JSTOR",
            "Publisher": "P",
            "Item_ID": [{"Type": "DOI", "Value": f"10.1/{n}"}, {"Type": "Print_ISSN", "Value": "1234-5678"}],
            "Data_Type": "Journal",
            "YOP": "2020",
            "Access_Type": "Controlled",
            "Access_Method": "Regular",
            "Performance": [
                {
                    "Period": {"Begin_Date": "2025-01-01", "End_Date": "2025-01-31"},
                    "Instance": [{"Metric_Type": "Total_Item_Requests", "Count": 3 + n}],
                }
            ],
        }
        for n in range(2)
    ],
}
_PERSON = {
    "person_id": "S1",
    "person_type": "student",
    "name": "N",
    "college": {"code": "CS", "name": "C"},
    "major": {"code": "CS01", "name": "M"},
    "class": "CS-1",
    "degree_level": "bachelor",
    "entry_year": 2023,
    "expected_graduation_year": 2027,
    "enrollment_status": "enrolled",
    "library": {"card_number": "21", "login": "s1", "koha_borrowernumber": "7", "folio_user_id": "f1"},
    "consent": {"profiling": True, "ranking": False},
}
_EVERGREEN = (
    "COPY action.circulation (id, usr, xact_start, xact_finish, target_copy, circ_lib, due_date, "
    "checkin_time, stop_fines, renewal_remaining, desk_renewal, duration, parent_circ) FROM stdin;\n"
    "1\t4\t2020-10-20 10:26:51-04\t\\N\t2\t4\t2020-11-03 23:59:59-05\t\\N\tMAXFINES\t2\tf\t14 days\t\\N\n"
    "2\t4\t2020-11-03 10:00:00-05\t\\N\t2\t4\t2020-11-17 23:59:59-05\t2020-11-10 09:00:00-05\tCHECKIN\t1\tt"
    "\t14 days\t1\n\\.\n"
)
SEEDS: dict[str, bytes] = {
    "koha-csv": f"{HEADER}\n{GOOD}\n{GOOD.replace('1001', '1002')}\n".encode(),
    "koha-items-csv": b"itemnumber,barcode,itemcallnumber,itype,homebranch,location\n"
    b"1001,B1,I247.5/12,BK,MAIN,STACKS\n1002,B2,TP311,BK,MAIN,\n",
    "folio-json": json.dumps(
        {
            "loans": [
                {
                    "id": "l1",
                    "userId": "u1",
                    "itemId": "i1",
                    "loanDate": "2025-09-01T08:00:00Z",
                    "dueDate": "2025-09-15T08:00:00.000Z",
                    "action": "checkedout",
                    "status": {"name": "Open"},
                    "renewalCount": 1,
                },
                {"id": "l2", "itemId": "i2", "loanDate": "2025-09-02T08:00:00+08:00", "action": "checkedin"},
            ]
        },
        indent=1,
    ).encode(),
    "folio-items-json": json.dumps(
        {
            "items": [
                {"id": "i1", "barcode": "B1", "effectiveCallNumberComponents": {"callNumber": "TP311"}},
                {"id": "i2", "materialType": {"name": "book"}, "effectiveLocation": {"name": "Main"}},
            ]
        },
        indent=1,
    ).encode(),
    "campus-json": json.dumps(
        {"page": 1, "snapshot_date": "2025-12-31", "data": [_PERSON, dict(_PERSON, person_id="S2")]}, indent=1
    ).encode(),
    "ezproxy-log": (
        b"10.1.2.3 - jdoe [01/Sep/2025:08:00:01 +0800] "
        b'"GET https://www.jstor.org/stable/1?q=x HTTP/1.1" 200 1234\n'
        b"10.1.2.4 - - [01/Sep/2025:08:00:02 +0800] "
        b'"POST https://www.sciencedirect.com:443/science/article/pii/S1 HTTP/1.1" 302 -\n'
    ),
    "counter-json": json.dumps(_COUNTER_JSON, indent=1).encode(),
    "sushi": json.dumps(_COUNTER_JSON, indent=1).encode(),
    "counter-tsv": (
        _TR_HEADER + "Journal 1\tP\t\tJSTOR\t10.1/1\t\t\t1234-5678\t\t\tJournal\t2020\tControlled\tRegular\t"
        "Total_Item_Requests\t7\t3\t4\n"
        "Journal 2\tP\t\tJSTOR\t10.1/2\t\t\t\t\t\tJournal\t2019\tControlled\tRegular\t"
        "Unique_Item_Requests\t0\t0\t0\n"
    ).encode(),
    "evergreen-circ": _EVERGREEN.encode(),
}
SEEDS["counter-csv"] = SEEDS["counter-tsv"].replace(b"\t", b",")
# The synthetic university of the fuzz's size has no volunteering and no survey: literal seeds.
SEEDS["volunteer-csv"] = (
    "record_id,person_id,activity,date,hours\n"
    "V1,S2025000001,图书整架,2025-09-06,3\nV2,S2025000002,新生导览,2025-09-07,2.5\n"
).encode()
SEEDS["survey-csv"] = (
    "response_id,survey,person_id,submitted_at,service_area,question,question_type,score,comment,"
    "suggestion_status\n"
    "R1,autumn,S2025000001,2025-09-20 10:00,spaces,Q1,rating,4,,\n"
    "R1,autumn,S2025000001,2025-09-20 10:00,overall,Q9,nps,9,,\n"
    'R1,autumn,S2025000001,2025-09-20 10:00,spaces,Q10,comment,,"太吵了, too noisy",accepted\n'
).encode()

HOSTILE_TEXT = [
    "\x00",
    "a\x00b",
    "\x01\x02\x07\x08\x0b\x0c\x1b\x7f",
    "'); drop table raw.load_log; --",
    "' or '1'='1",
    '"',
    '""',
    '"quoted, with comma"',
    "\\",
    "\\N",
    "\\.",
    "\t",
    "\r",
    "\n",
    "\r\n",
    "\u2028\u2029\u0085",
    "\ufeff",
    "%s %(x)s {0} $1",
    "NULL",
    "null",
    "-",
    "-1",
    "0",
    "9" * 40,
    "1e999999",
    "NaN",
    "Infinity",
    "2025-02-30 25:61:61",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-14:00",
    "中文 é ü",
    "[]",
    "{}",
]
hostile_bytes = st.one_of(
    st.sampled_from([t.encode() for t in HOSTILE_TEXT]),
    st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x80abc", "中".encode("gb18030"), b"\x1f\x8b"]),
    st.binary(max_size=16),
    st.text(max_size=24).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(min_value=2_000, max_value=200_000).map(lambda n: b"x" * n),  # very long fields
)
hostile_json = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.sampled_from(["\ud800", "a\udfffb", None, True, False, [], {}, [1, "x"], {"a": None}]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**30, -(10**30), 2**31, 2**63, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.integers(min_value=2_000, max_value=100_000).map(lambda n: "y" * n),
)

INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


def assert_fits(fmt: Format, values: tuple[Any, ...]) -> None:
    """A good row is something its table can hold: the right number of values, each of its
    column's type (a value that does not fit would cost a pass of the loader over the file)."""
    assert len(values) == len(fmt.table.columns), fmt.name
    for (name, pg_type), value in zip(fmt.table.columns, values, strict=True):
        kind = pg_type.split()[0]
        if value is None:
            assert "not null" not in pg_type, f"{fmt.name}: {name} is required, got None"
            continue
        if kind in INT_RANGES:
            low, high = INT_RANGES[kind]
            assert isinstance(value, int) and not isinstance(value, bool), (name, value)
            assert low <= value <= high, f"{fmt.name}: {name}={value} is out of range for {kind}"
        elif kind == "numeric":
            assert isinstance(value, (int, Decimal)), (name, value)
            assert not isinstance(value, Decimal) or (value.is_finite() and abs(value.adjusted()) < 1000), (
                name,
                value,
            )
        elif kind == "timestamptz":
            assert isinstance(value, datetime) and value.tzinfo is not None, (name, value)
        elif kind == "date":
            assert isinstance(value, date), (name, value)
        elif kind == "boolean":
            assert isinstance(value, bool), (name, value)
        elif kind == "text":
            assert isinstance(value, str), (name, value)
        elif isinstance(value, float):
            assert math.isfinite(value), (name, value)


def parse_or_refuse(fmt: Format, path: Path) -> list[Any] | None:
    """Every item of the file (checked), or None when the whole file was refused as a user error."""
    try:
        items = list(fmt.parse(path, context()))
    except UserError as refusal:
        assert str(refusal).strip(), "a refusal must say why"
        return None
    for item in items:
        if isinstance(item, Rejected):
            assert isinstance(item.line, int) and item.line >= 0, item
            assert isinstance(item.reason, str) and item.reason, item
            assert isinstance(item.field, str) and isinstance(item.raw, str), item
        else:
            line, values = item
            assert isinstance(line, int) and line >= 1, item
            assert_fits(fmt, values)
    return items


@cache
def seeds() -> dict[str, bytes]:
    """SEEDS, and for formats added since, a file the synthetic university writes for them."""
    found = dict(SEEDS)
    missing = [name for (_, name), fmt in formats().items() if name not in found and fmt.landing]
    if missing:
        from urm_demo.synth.generator import generate

        with tempfile.TemporaryDirectory() as out:
            generate(Path(out), users=40, days=10, seed=3)
            for (_, name), fmt in formats().items():
                if name in missing:
                    paths = sorted(
                        p for pattern in fmt.landing for p in Path(out).glob(pattern) if p.is_file()
                    )
                    if paths:
                        found[name] = paths[0].read_bytes()[:200_000]
    return found


def _json_leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [path, *(leaf for k, v in node.items() for leaf in _json_leaves(v, (*path, k)))]
    if isinstance(node, list):
        return [path, *(leaf for i, v in enumerate(node) for leaf in _json_leaves(v, (*path, i)))]
    return [path]


def _replaced(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replaced(node[path[0]], path[1:], value)
    return copy


@pytest.mark.parametrize("key", FORMATS, ids=[f"{s}:{n}" for s, n in FORMATS])
@FUZZ
@given(data=st.data())
def test_hostile_values_in_any_field_are_parsed_or_quarantined(
    key: tuple[str, str], tmp_path: Path, data: st.DataObject
) -> None:
    fmt = formats()[key]
    seed = seeds().get(fmt.name)
    if seed is None:
        pytest.skip(f"no seed file for {fmt.name}: only the arbitrary-bytes fuzz covers it")
    assert parse_or_refuse(fmt, _write(tmp_path, fmt, seed)), f"the seed of {fmt.name} must parse"
    try:
        document = json.loads(seed)
    except ValueError:
        document = None
    if isinstance(document, (dict, list)):  # replace one value anywhere in the document
        leaves = _json_leaves(document)
        path = data.draw(st.sampled_from(leaves), label="path")
        value = data.draw(hostile_json, label="value")
        text = json.dumps(_replaced(document, path, value), ensure_ascii=data.draw(st.booleans()))
        content = text.encode("utf-8", "surrogatepass")
    else:  # overwrite a slice of a data line (after the first, which may be a header)
        lines = seed.split(b"\n")
        number = data.draw(st.integers(min_value=1 if len(lines) > 2 else 0, max_value=len(lines) - 1))
        line = lines[number]
        start = data.draw(st.integers(min_value=0, max_value=len(line)), label="start")
        end = data.draw(st.integers(min_value=start, max_value=min(len(line), start + 12)), label="end")
        lines[number] = line[:start] + data.draw(hostile_bytes, label="bytes") + line[end:]
        content = b"\n".join(lines)
    parse_or_refuse(fmt, _write(tmp_path, fmt, content))


@pytest.mark.parametrize("key", FORMATS, ids=[f"{s}:{n}" for s, n in FORMATS])
@FUZZ
@given(content=st.one_of(st.binary(max_size=400), st.lists(hostile_bytes, max_size=8).map(b"\n".join)))
def test_arbitrary_bytes_are_parsed_quarantined_or_refused_in_one_line(
    key: tuple[str, str], tmp_path: Path, content: bytes
) -> None:
    fmt = formats()[key]
    parse_or_refuse(fmt, _write(tmp_path, fmt, content))


def _write(folder: Path, fmt: Format, content: bytes) -> Path:
    path = folder / f"fuzz-{fmt.name}.input"
    path.write_bytes(content)
    return path


@pytest.mark.integration
@pytest.mark.parametrize("key", FORMATS, ids=[f"{s}:{n}" for s, n in FORMATS])
def test_a_nul_in_each_line_of_each_format_is_quarantined_and_the_rest_loads(
    key: tuple[str, str], conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Through the real loader: a NUL byte in the middle of each data line in turn."""
    fmt = formats()[key]
    if fmt.fetch is not None or fmt.name not in seeds():
        pytest.skip(f"{fmt.name} is not loaded from files here")
    seed = seeds()[fmt.name]
    clean = parse_or_refuse(fmt, _write(tmp_path, fmt, seed))
    assert clean, f"the seed of {fmt.name} must parse"
    is_json = seed.lstrip()[:1] in (b"{", b"[")
    lines = seed.split(b"\n")
    for number in range(1, len(lines)):
        if len(lines[number]) < 4:
            continue
        broken = list(lines)
        middle = len(broken[number]) // 2
        broken[number] = broken[number][:middle] + b"\x00" + broken[number][middle:]
        path = _write(tmp_path, fmt, b"\n".join(broken))
        try:
            result = load_file(conn, fmt, path, context(), max_reject_share=1.0)
        except (LoadRejected, UserError):
            continue  # refused whole, in one line (a NUL in a JSON header, say)
        lines_seen = {
            row[0]
            for query in (
                f"select distinct source_line from raw.{fmt.table.name} where batch_id = %s",
                "select distinct source_line from quarantine.rejected_rows where batch_id = %s",
            )
            for row in conn.execute(query, (result.batch_id,))
        }
        if is_json:  # JSON cannot resynchronise: the rest of an array after a bad byte is one reject
            assert lines_seen
        else:  # every line of the file is loaded or quarantined, the broken one included
            assert lines_seen == {item[0] for item in clean}, (number, result)
