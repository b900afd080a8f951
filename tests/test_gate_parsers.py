"""Unit tests of the gate parsers: turnstile swipes (CSV, JSONL, the Chinese export, GB18030, a
vendor's header through --columns) and people counters (cumulative readings of the real gateCounts
samples, the three interval layouts, EPL's polled totals)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.gate.counters import parse_counter_cumulative, parse_counter_interval
from ingest.gate.tables import GATE_COUNTER_INTERVALS, GATE_COUNTER_READINGS, GATE_PASSAGES
from ingest.gate.textfile import GateFileError, file_period, parse_day, parse_time
from ingest.gate.turnstile import parse_turnstile_csv, parse_turnstile_jsonl
from ingest.model import RawTable
from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY
from tests.helpers import context, split, write

SHANGHAI = ZoneInfo("Asia/Shanghai")
card = Pseudonymiser(TEST_KEY).pseudonym


def rows(table: RawTable, good: list[tuple[int, tuple[Any, ...]]]) -> list[dict[str, Any]]:
    return [dict(zip(table.column_names, values, strict=True)) for _, values in good]


# -- turnstiles ------------------------------------------------------------------------------------

ENGLISH = """card_number,gate,direction,passed_at,result
2100000001,MAIN-G1,in,2025-09-03 08:01:02,granted
2100000001,MAIN-G2,OUT,2025-09-03 10:15,ok
2100000002,MAIN-G1,1,2025-09-03T09:00:00+08:00,denied
2100000002,MAIN-G1,sideways,2025-09-03 09:00:00,granted
,MAIN-G1,in,2025-09-03 09:01:00,denied
,MAIN-G1,in,2025-09-03 09:02:00,granted
2100000003,MAIN-G1,0,2025-09-31 09:00:00,fail
2100000003,MAIN-G1,in,2025-09-03 09:00:00
"""


def test_english_header_lands_pseudonyms_and_instants(tmp_path: Path) -> None:
    path = write(tmp_path / "swipes-2025-09-03.csv", ENGLISH)
    good, bad = split(parse_turnstile_csv(path, context()))
    landed = rows(GATE_PASSAGES, good)
    assert [(r["gate"], r["direction"], r["result"]) for r in landed] == [
        ("MAIN-G1", "in", "granted"),
        ("MAIN-G2", "out", "granted"),
        ("MAIN-G1", "in", "denied"),
        ("MAIN-G1", "in", "denied"),
    ]
    assert landed[0]["card_key"] == card("card", "2100000001") and landed[3]["card_key"] is None
    assert landed[0]["passed_at"] == datetime(2025, 9, 3, 0, 1, 2, tzinfo=UTC)
    assert landed[1]["passed_at"] == datetime(2025, 9, 3, 2, 15, tzinfo=UTC)  # without seconds
    assert landed[2]["passed_at"] == datetime(2025, 9, 3, 1, 0, tzinfo=UTC)  # ISO with offset
    # the file's period comes from its name: the local day 2025-09-03
    assert landed[0]["period_start"] == datetime(2025, 9, 3, tzinfo=SHANGHAI)
    assert landed[0]["period_end"] - landed[0]["period_start"] == timedelta(days=1)
    assert [(r.line, r.field) for r in bad] == [
        (5, "direction"),
        (7, "card_number"),
        (8, "passed_at"),
        (9, "(line)"),
    ]
    for rejected in bad:  # no card number in clear in the quarantine
        assert "21000000" not in rejected.raw
    assert card("card", "2100000002") in bad[0].raw


CHINESE = """卡号,姓名,通道,方向,时间,结果
2100000001,王小明,MED-G1,进,2025/09/03 08:01:02,通过
2100000001,王小明,MED-G1,出,2025/09/03 11:30:00,通过
2100000009,李四,MED-G1,进,2025/09/03 12:00:00,拒绝
2100000009,李四,MED-G1,上,2025/09/03 12:00:05,拒绝
"""


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "utf-8-sig"])
def test_chinese_export_drops_the_name_in_either_encoding(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "med.csv", CHINESE.encode(encoding))
    good, bad = split(parse_turnstile_csv(path, context()))
    landed = rows(GATE_PASSAGES, good)
    assert [(r["direction"], r["result"]) for r in landed] == [
        ("in", "granted"),
        ("out", "granted"),
        ("in", "denied"),
    ]
    assert landed[0]["period_start"] is None  # no date in the name, no period
    assert [(r.line, r.field) for r in bad] == [(5, "direction")]
    everything = json.dumps([list(map(str, v)) for _, v in good], ensure_ascii=False) + bad[0].raw
    for secret in ("王小明", "李四", "2100000001", "2100000009"):
        assert secret not in everything


def test_a_line_in_the_other_encoding_is_quarantined_without_its_text(tmp_path: Path) -> None:
    lines = [CHINESE.splitlines()[0].encode("utf-8")] + [
        line.encode("utf-8") for line in CHINESE.splitlines()[1:3]
    ]
    lines.append("2100000005,张三,MED-G1,进,2025/09/03 13:00:00,通过".encode("gb18030"))
    path = write(tmp_path / "mixed.csv", b"\n".join(lines) + b"\n")
    good, bad = split(parse_turnstile_csv(path, context()))
    assert len(good) == 2
    assert [(r.line, r.field) for r in bad] == [(4, "(encoding)")]
    assert "张三" not in bad[0].raw and "2100000005" not in bad[0].raw


def test_vendor_header_through_columns_option(tmp_path: Path) -> None:
    text = "CardNo,Holder,Door,InOut,Time,Status\n2100000001,Ann,N1,IN,2025-09-03 08:00:00,OK\n"
    path = write(tmp_path / "vendor.csv", text)
    with pytest.raises(GateFileError, match="--columns"):
        list(parse_turnstile_csv(path, context()))
    options = {"columns": "card_number=CardNo,gate=Door,direction=InOut,passed_at=Time,result=Status"}
    good, bad = split(parse_turnstile_csv(path, context(**options)))
    assert bad == [] and rows(GATE_PASSAGES, good)[0]["gate"] == "N1"
    assert "Ann" not in repr(good)


def test_jsonl_same_fields_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        {"card_number": "2100000001", "gate": "S24-G1", "direction": "in", "passed_at": "2025-09-03 23:10:00",
         "result": "granted", "name": "王小明"},
        {"card_number": 2100000001, "gate": "S24-G1", "direction": 0, "passed_at": "2025-09-04 01:20:00",
         "result": "granted"},
        {"卡号": "2100000002", "通道": "S24-G1", "方向": "进", "时间": "2025-09-04 02:00", "结果": "通过"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + '\n{"card_number": \n[1, 2]\n'
    path = write(tmp_path / "study-2025-09.jsonl", text)
    good, bad = split(parse_turnstile_jsonl(path, context()))
    landed = rows(GATE_PASSAGES, good)
    assert [r["direction"] for r in landed] == ["in", "out", "in"]
    assert landed[1]["card_key"] == card("card", "2100000001")
    assert landed[0]["period_end"] == datetime(2025, 10, 1, tzinfo=SHANGHAI)  # a month in the name
    assert [(r.line, r.field) for r in bad] == [(4, "(json)"), (5, "(json)")]
    assert "王小明" not in repr(good)


def test_unknown_header_names_no_data(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "2100000001,王小明,MED-G1,进,2025/09/03 08:01:02,通过\n")
    with pytest.raises(GateFileError) as err:
        list(parse_turnstile_csv(path, context()))
    assert "2100000001" not in str(err.value) and "x.csv" in str(err.value)


@settings(max_examples=60, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    seconds=st.booleans(),
    separator=st.sampled_from(["-", "/"]),
    offset_minutes=st.one_of(st.none(), st.integers(min_value=-12 * 60, max_value=14 * 60)),
)
def test_times_parse_back_to_the_instant_written(
    moment: datetime, seconds: bool, separator: str, offset_minutes: int | None
) -> None:
    moment = moment.replace(microsecond=0, second=moment.second if seconds else 0)
    text = moment.strftime(f"%Y{separator}%m{separator}%d %H:%M" + (":%S" if seconds else ""))
    if offset_minutes is None:
        assert parse_time(text, SHANGHAI) == moment.replace(tzinfo=SHANGHAI)
    else:
        zone = timezone(timedelta(minutes=offset_minutes))
        sign = "+" if offset_minutes >= 0 else "-"
        text += f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
        assert parse_time(text, SHANGHAI) == moment.replace(tzinfo=zone)


def test_file_period_from_name_or_option(tmp_path: Path) -> None:
    assert file_period(Path("swipes-20250903.csv"), SHANGHAI)[0] == datetime(2025, 9, 3, tzinfo=SHANGHAI)
    start, end = file_period(Path("gate-2025-12.csv"), SHANGHAI)
    assert (start.date(), end.date()) == (date(2025, 12, 1), date(2026, 1, 1))
    assert file_period(Path("gate-2025-13.csv"), SHANGHAI) is None
    assert file_period(Path("north.csv"), SHANGHAI, "2025-09")[0].date() == date(2025, 9, 1)
    assert file_period(Path("swipes-2025-09-03.csv"), SHANGHAI, "none") is None


# -- cumulative counters ---------------------------------------------------------------------------


def test_shared_gatecounts_sample_parses_every_day(samples: Path) -> None:
    path = samples / "gate" / "gateCounts" / "sampleGateCount.csv"
    good, bad = split(parse_counter_cumulative(path, context(counter_max="999999")))
    assert bad == []
    landed = rows(GATE_COUNTER_READINGS, good)
    assert len(landed) == 333 and landed[0]["reading_date"] == date(2021, 9, 1)
    assert landed[-1]["reading"] == 852352  # no final newline
    statuses = {
        r["reading_date"]: (r["reading_status"], r["reading_text"]) for r in landed if r["reading"] is None
    }
    assert statuses[date(2021, 9, 12)] == ("closed", "Gate Closed")
    assert statuses[date(2021, 9, 8)] == ("missing", "NA")
    assert statuses[date(2021, 10, 10)] == ("broken", "Gate broken")
    assert len(statuses) == 11
    assert {r["counter_id"] for r in landed} == {"sampleGateCount"}
    assert {r["counter_max"] for r in landed} == {999999}


def test_peer_gatecounts_inputs_parse(samples: Path) -> None:
    folder = samples / "peer" / "gate" / "gateCounts"
    good, bad = split(parse_counter_cumulative(folder / "gatecounts_test2_input.csv", context(counter="t2")))
    assert bad == [] and len(good) == 333
    readings = {r["reading_date"]: r["reading"] for r in rows(GATE_COUNTER_READINGS, good)}
    assert readings[date(2022, 7, 2)] == 200000  # written by R as 2e+05
    assert readings[date(2022, 1, 1)] == 82  # dd-mm-YYYY, day first


def test_cumulative_bad_lines_are_quarantined(tmp_path: Path) -> None:
    text = "\r\n".join(
        [
            "dates,counts",
            "01-Sep-21,9816",
            "02-Sep-21,98x6",
            "31-Sep-21,9900",
            "03-Sep-21,-4",
            "04-Sep-21,1000001",
        ]
    )
    path = write(tmp_path / "north.csv", text)
    good, bad = split(parse_counter_cumulative(path, context(counter_max="999999", bidirectional="true")))
    assert [(r.line, r.field) for r in bad] == [(3, "count"), (4, "date"), (5, "count"), (6, "count")]
    assert "Gate broken" in bad[0].reason and "maximum" in bad[3].reason
    assert rows(GATE_COUNTER_READINGS, good)[0]["bidirectional"] is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2022-01-31", date(2022, 1, 31)), ("31-Jan-22", date(2022, 1, 31)), ("31-01-2022", date(2022, 1, 31)),
     ("31/01/2022", date(2022, 1, 31)), ("1-Sep-2021", date(2021, 9, 1))],
)  # fmt: skip
def test_counter_days(text: str, expected: date) -> None:
    assert parse_day(text) == expected


# -- interval counters -----------------------------------------------------------------------------

TWO_BLOCK = """Device Name,MED-C1
Serial No,DS-2CD6825G0-0042
Time Zone,UTC

RuleName,In,Out,StartTime,EndTime
Entrance,12,3,2025-09-03T00:00:00Z,2025-09-03T01:00:00Z
Entrance,7,9,2025-09-03 01:00:00,2025-09-03 02:00:00
Entrance,x,9,2025-09-03 02:00:00,2025-09-03 03:00:00
Entrance,1,1,2025-09-03 04:00:00,2025-09-03 03:00:00
"""


def test_two_block_layout_reads_the_device_and_utc(tmp_path: Path) -> None:
    path = write(tmp_path / "med-2025-09-03.csv", TWO_BLOCK)
    good, bad = split(parse_counter_interval(path, context()))
    landed = rows(GATE_COUNTER_INTERVALS, good)
    assert [(r["counter_id"], r["channel"], r["count_in"], r["count_out"]) for r in landed] == [
        ("MED-C1", "Entrance", 12, 3),
        ("MED-C1", "Entrance", 7, 9),
    ]
    assert landed[1]["interval_start"] == datetime(2025, 9, 3, 1, tzinfo=UTC)  # naive times are UTC here
    assert [(r.line, r.field) for r in bad] == [(8, "In"), (9, "EndTime")]


SUM_COLUMNS = """RecordID,DeviceID,Date,Time,Door1_IN,Door1_OUT,_SUM_IN,_SUM_OUT
4294967294,S24-C1,2025-09-03,23:00,4,1,4,1
4294967295,S24-C1,2025-09-04,00:00,2,3,2,3
0,S24-C1,2025-09-04,01:00,0,1,0,1
1,S24-C1,2025-09-04,02:00,0,0,-1,0
"""


def test_sum_columns_layout_is_local_and_record_ids_wrap(tmp_path: Path) -> None:
    path = write(tmp_path / "study.csv", SUM_COLUMNS)
    good, bad = split(parse_counter_interval(path, context()))
    landed = rows(GATE_COUNTER_INTERVALS, good)
    assert [r["record_id"] for r in landed] == [4294967294, 4294967295, 0]
    assert {r["counter_id"] for r in landed} == {"S24-C1"}
    assert landed[1]["interval_start"] == datetime(2025, 9, 4, tzinfo=SHANGHAI)
    assert landed[1]["interval_end"] - landed[1]["interval_start"] == timedelta(hours=1)
    assert [(r.line, r.field) for r in bad] == [(5, "_SUM_IN")]
    good, _ = split(parse_counter_interval(path, context(interval_minutes=15, counter="X")))
    first = rows(GATE_COUNTER_INTERVALS, good)[0]
    assert (first["counter_id"], first["interval_end"] - first["interval_start"]) == (
        "X",
        timedelta(minutes=15),
    )


def test_epl_polled_totals(samples: Path) -> None:
    path = samples / "peer" / "gate" / "epl" / "epl_lands_WMC_2014.csv"
    good, bad = split(parse_counter_interval(path, context()))
    landed = rows(GATE_COUNTER_INTERVALS, good)
    assert bad == [] and len(landed) == 29
    failed = [r for r in landed if r["interval_status"] == "failed"]
    assert [(r["record_id"], r["count_in"], r["interval_end"].date()) for r in failed] == [
        (10379, None, date(2014, 4, 24))
    ]
    assert {r["layout"] for r in landed} == {"polled-totals"} and {r["counter_id"] for r in landed} == {"WMC"}


def test_interval_file_without_a_table_header(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", "just some text\n")
    with pytest.raises(GateFileError, match="RuleName"):
        list(parse_counter_interval(path, context()))
