"""The service formats' parsers (bookings, training, consultations, survey, volunteering), their
shared CSV reading (encodings, column mapping, multi-line records, quarantine text) and the
redaction of free text."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from ingest.errors import InvalidOption
from ingest.model import RawTable, Rejected
from ingest.redaction import find_identifiers, redact
from ingest.registry import get_format
from ingest.services import parsers
from ingest.services.comments import features, language_of, topics_of
from ingest.services.tables import (
    CONSULTATIONS,
    FEEDBACK_RESPONSES,
    SPACE_BOOKINGS,
    TRAINING_REGISTRATIONS,
    VOLUNTEER_HOURS,
)
from tests.helpers import context, split, write

CTX = context()
PSEUDONYM = CTX.pseudonymiser.pseudonym


def rows_of(table: RawTable, good: list) -> list[dict]:
    return [dict(zip(table.column_names, values, strict=True)) for _, values in good]


# --- redaction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请联系我 13812345678 谢谢", "请联系我 [PHONE] 谢谢"),
        ("电话138-1234-5678或+86 139 1234 5678", "电话[PHONE]或[PHONE]"),
        ("座机(0571) 8888 6666，或010-62751234", "座机[PHONE]，或[PHONE]"),
        ("mail me: zhang.san@stu.example.edu.cn!", "mail me: [EMAIL]!"),
        ("邮箱s2025000123@stu.example.edu.cn收", "邮箱[EMAIL]收"),
        ("身份证11010119990307123X丢了", "身份证[ID_NUMBER]丢了"),
        ("old id 110101990307123 here", "old id [ID_NUMBER] here"),
        ("我的学号是S2025000123，借不了书", "我的学号是[PERSON_NUMBER]，借不了书"),
        ("student no. 2021110123 cannot log in", "student no. [PERSON_NUMBER] cannot log in"),
        ("UK +44 20 7946 0958 please", "UK [PHONE] please"),
    ],
)
def test_redact_replaces_identifiers_with_tokens(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_keeps_ordinary_words_and_small_numbers() -> None:
    text = "3楼的空调太冷了，room 301 is cold after 9 pm; 2025年9月 wifi 很慢"
    assert redact(text) == text


_chinese = st.text(alphabet="图书馆座位太少了希望延长开放时间谢谢", max_size=12)
_english = st.text(alphabet="abcdefghij ,.", max_size=12)


@st.composite
def _identifier(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["mobile", "email", "id", "student"]))
    if kind == "mobile":
        body = f"1{draw(st.sampled_from('3456789'))}{draw(st.integers(0, 10**9 - 1)):09d}"
        sep = draw(st.sampled_from(["", "-", " "]))
        return body[:3] + sep + body[3:7] + sep + body[7:]
    if kind == "email":
        user = draw(st.from_regex(r"[a-z][a-z0-9.]{1,10}[a-z0-9]", fullmatch=True))
        return f"{user}@{draw(st.sampled_from(['qq.com', 'stu.example.edu.cn', '163.com']))}"
    if kind == "id":
        year = draw(st.integers(1950, 2010))
        region, sequence = draw(st.integers(110000, 659999)), draw(st.integers(0, 999))
        birthday = f"{year}{draw(st.integers(1, 12)):02d}{draw(st.integers(1, 28)):02d}"
        return f"{region}{birthday}{sequence:03d}{draw(st.sampled_from('0123456789X'))}"
    return f"{draw(st.sampled_from(['S', 'T', 'E', '']))}{draw(st.integers(10**7, 10**10))}"


@settings(max_examples=300, deadline=None)
@given(before=st.one_of(_chinese, _english), identifier=_identifier(), after=st.one_of(_chinese, _english))
def test_no_identifier_survives_redaction_whatever_surrounds_it(
    before: str, identifier: str, after: str
) -> None:
    redacted = redact(before + identifier + after)
    digits = re.sub(r"\D", "", identifier)
    assert identifier not in redacted
    if digits:  # the text around it has no digits: any digit left would be the identifier's
        assert digits[-6:] not in re.sub(r"\D", "", redacted)
    assert find_identifiers(before + identifier + after)


# --- comment features --------------------------------------------------------------------------


def test_comment_language_and_topics() -> None:
    assert language_of("自习室座位太少，希望增加") == "zh"
    assert language_of("The wifi on the 3rd floor is too slow") == "en"
    assert language_of("希望图书馆 can open longer on weekends please") == "mixed"
    assert language_of("13812345678") == "other"
    assert topics_of("自习室座位太少, wifi 也慢") == ["it_network", "space"]
    assert topics_of("The librarians were very helpful with the CNKI database") == [
        "e_resources",
        "staff_service",
    ]
    assert topics_of("一切都好") == []
    found = features("  很好 ")
    assert (found.length, found.language, found.topics) == (2, "zh", None)


# --- space bookings ----------------------------------------------------------------------------

BOOKINGS_CSV = (
    "booking_id,person_id,space_id,space_type,space_area,start_time,end_time,status,booked_at\n"
    "B1,S2025000123,R-301,room,3F group rooms,2025-09-15 14:00:00,2025-09-15 16:00:00,checked_in,"
    "2025-09-14 20:01:00\n"
    "B2,S2025000124,S-2A-017,座位,2F reading room A,2025/9/15 8:00,2025/9/15 12:00,违约,\n"
    "B3,S2025000125,R-302,room,3F group rooms,2025-09-15T10:00:00+08:00,2025-09-15T12:00:00+08:00,"
    "Cancelled,\n"
    "B4,S2025000126,R-303,room,3F group rooms,2025-09-15 10:00:00,2025-09-15 09:00:00,checked_in,\n"
    "B5,S2025000127,R-303,room,3F group rooms,2025-09-15 10:00:00,2025-09-15 11:00:00,booked,\n"
)


def test_bookings_parse_statuses_spellings_and_local_times(tmp_path: Path) -> None:
    good, bad = split(parsers.parse_bookings(write(tmp_path / "b.csv", BOOKINGS_CSV), CTX))
    rows = rows_of(SPACE_BOOKINGS, good)
    assert [r["status"] for r in rows] == ["checked_in", "no_show", "cancelled"]
    assert [r["space_type"] for r in rows] == ["room", "seat", "room"]
    assert rows[0]["person_key"] == PSEUDONYM("person", "S2025000123")
    assert rows[0]["starts_at"] == datetime(2025, 9, 15, 6, tzinfo=UTC)
    assert rows[1]["starts_at"] == datetime(2025, 9, 15, 0, tzinfo=UTC)
    assert rows[1]["booked_at"] is None
    assert [(r.line, r.field) for r in bad] == [(5, "end_time"), (6, "status")]
    # the quarantine keeps the row to repair it, with the person as a pseudonym only
    assert "S2025000126" not in bad[0].raw
    assert PSEUDONYM("person", "S2025000126") in bad[0].raw
    assert "checked_in, no_show" in bad[1].reason


def test_a_gb18030_export_with_its_own_headers_reads_through_a_mapping(tmp_path: Path) -> None:
    text = (
        "预约号,学号,姓名,座位号,区域,开始时间,结束时间,状态\n"
        "9001,S2025000123,张三,S-2A-017,二楼A区,2025-09-15 08:00,2025-09-15 12:00,已签到\n"
        "9002,S2025000124,李四,S-2A-018,二楼A区,2025-09-15 08:00,2025-09-15 12:00,未签到\n"
    )
    path = write(tmp_path / "seats.csv", text.encode("gb18030"))
    mapping = {
        "booking_id": "预约号",
        "person_id": "学号",
        "space_id": "座位号",
        "space_area": "区域",
        "start_time": "开始时间",
        "end_time": "结束时间",
        "status": "状态",
    }
    for columns in (
        mapping,
        json.dumps(mapping, ensure_ascii=False),
        ",".join(f"{k}={v}" for k, v in mapping.items()),
        str(write(tmp_path / "columns.json", json.dumps(mapping, ensure_ascii=False))),
    ):
        good, bad = split(parsers.parse_bookings(path, context(columns=columns)))
        rows = rows_of(SPACE_BOOKINGS, good)
        assert not bad
        assert [(r["booking_id"], r["status"], r["space_area"]) for r in rows] == [
            ("9001", "checked_in", "二楼A区"),
            ("9002", "no_show", "二楼A区"),
        ]
    # names are not read: the column is not asked for, so it never leaves the file
    assert "张三" not in repr(good)


def test_a_missing_column_says_how_to_map_it(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.csv", "id,who,start,end,state\n1,S1,2025-09-01 08:00,2025-09-01 09:00,no_show\n"
    )
    with pytest.raises(InvalidOption, match=r"lacks booking_id, person_id.*--columns.*URM_SPACES_COLUMNS"):
        list(parsers.parse_bookings(path, CTX))
    with pytest.raises(InvalidOption, match="names no field of spaces: seat"):
        list(parsers.parse_bookings(path, context(columns="seat=座位号")))
    with pytest.raises(InvalidOption, match="is not field=Header"):
        list(parsers.parse_bookings(path, context(columns="person_id")))


def test_a_line_in_the_other_encoding_is_quarantined_alone(tmp_path: Path) -> None:
    head = "booking_id,person_id,space_id,space_type,space_area,start_time,end_time,status,booked_at\n"
    line = "B{n},S20250001{n},R-30{n},room,{area},2025-09-15 14:00,2025-09-15 16:00,checked_in,\n"
    data = (
        head.encode()
        + line.format(n=1, area="三楼").encode("utf-8")
        + line.format(n=2, area="三楼").encode("gb18030")
        + line.format(n=3, area="三楼").encode("utf-8")
    )
    good, bad = split(parsers.parse_bookings(write(tmp_path / "mixed.csv", data), CTX))
    assert [r["booking_id"] for r in rows_of(SPACE_BOOKINGS, good)] == ["B1", "B3"]
    assert [(r.line, r.field, r.raw) for r in bad] == [(3, "(encoding)", "")]


# --- training ----------------------------------------------------------------------------------


def test_training_rows_carry_their_session_and_attendance(tmp_path: Path) -> None:
    text = (
        "session_id,series,topic,level,session_start,hours,capacity,person_id,registered_at,attended\n"
        "T1,数据库检索,CNKI,Beginner,2025-09-10 14:00,1.5,40,S2025000123,2025-09-01 10:00,是\n"
        "T1,数据库检索,CNKI,Beginner,2025-09-10 14:00,1.5,40,S2025000124,2025-09-02 10:00,no\n"
        "T1,数据库检索,CNKI,Beginner,2025-09-10 14:00,1.5,40,S2025000125,,\n"
        "T2,文献管理,EndNote,intermediate,2025-09-12 14:00,2,30,,,\n"
        "T3,文献管理,EndNote,intermediate,2025-09-12 14:00,2,30,S2025000126,,maybe\n"
    )
    good, bad = split(parsers.parse_training(write(tmp_path / "t.csv", text), CTX))
    rows = rows_of(TRAINING_REGISTRATIONS, good)
    assert [(r["session_id"], r["attended"]) for r in rows] == [
        ("T1", True),
        ("T1", False),
        ("T1", None),
        ("T2", None),
    ]
    assert rows[0]["level"] == "beginner" and rows[0]["hours"] == Decimal("1.5") and rows[0]["capacity"] == 40
    assert rows[3]["person_key"] is None  # a session nobody registered for
    assert [(r.line, r.field) for r in bad] == [(6, "attended")]


# --- consultations -----------------------------------------------------------------------------


def test_consultation_channels_in_any_spelling(tmp_path: Path) -> None:
    text = (
        "consultation_id,channel,topic,asked_at,answered_at,person_id\n"
        "Q1,总台,Borrowing,2025-09-03 10:00,2025-09-03 10:04,S2025000123\n"
        "Q2,E-mail,database access,2025-09-03 10:00,2025-09-04 09:00,\n"
        "Q3,微信,,2025-09-03 22:00,,\n"
        "Q4,Live Chat,x,2025-09-03 10:00,2025-09-03 10:01,T2010001\n"
        "Q5,phone,x,2025-09-03 10:00,2025-09-03 09:00,\n"
        "Q6,fax,x,2025-09-03 10:00,,\n"
    )
    good, bad = split(parsers.parse_consultations(write(tmp_path / "q.csv", text), CTX))
    rows = rows_of(CONSULTATIONS, good)
    assert [r["channel"] for r in rows] == ["desk", "email", "social_media", "chat"]
    assert rows[2]["answered_at"] is None and rows[1]["person_key"] is None
    assert rows[1]["topic"] == "database access"
    assert [(r.line, r.field) for r in bad] == [(6, "answered_at"), (7, "channel")]


# --- feedback ----------------------------------------------------------------------------------

SURVEY_CSV = (
    "response_id,survey,person_id,submitted_at,service_area,question,question_type,score,comment,suggestion_status\n"
    "R1,2025 autumn,S2025000123,2025-09-20 10:00,spaces,Q1,rating,4,,\n"
    "R1,2025 autumn,S2025000123,2025-09-20 10:00,overall,Q9,nps,9,,\n"
    'R1,2025 autumn,S2025000123,2025-09-20 10:00,spaces,Q10,comment,,"自习室座位太少,\n'
    '请联系我 13812345678 或 zhang.san@qq.com",accepted\n'
    'R2,2025 autumn,,2025-09-21 11:00,Overall,Q10,comment,,"The wifi is slow, my ID is 11010119990307123X",\n'
    "R3,2025 autumn,S2025000124,2025-09-21 11:00,spaces,Q1,rating,7,,\n"
    'R4,2025 autumn,S2025000125,2025-09-21 11:00,spaces,Q10,comment,3,"my number S2025000125",\n'
)


def test_survey_rows_keep_derived_fields_and_never_the_comment(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", SURVEY_CSV)
    good, bad = split(parsers.parse_feedback(path, CTX))
    rows = rows_of(FEEDBACK_RESPONSES, good)
    assert [(r["question_type"], r["score"]) for r in rows] == [
        ("rating", 4),
        ("nps", 9),
        ("comment", None),
        ("comment", None),
    ]
    comment = rows[2]
    assert comment["suggestion_status"] == "accepted"
    assert (comment["comment_language"], comment["comment_topics"]) == ("zh", "space")
    assert comment["comment_length"] == len("自习室座位太少,\n请联系我 13812345678 或 zhang.san@qq.com")
    assert rows[3]["service_area"] == "overall" and rows[3]["person_key"] is None
    assert rows[3]["comment_topics"] == "it_network"
    landed = repr(rows)
    for secret in (
        "13812345678",
        "zhang.san",
        "座位太少",
        "wifi is slow",
        "11010119990307123X",
        "S2025000123",
    ):
        assert secret not in landed
    # a multi-line comment is one record: the next record's line numbers follow the file's lines
    assert [line for line, _ in good] == [2, 3, 4, 6]
    assert [(r.line, r.field) for r in bad] == [(7, "score"), (8, "score")]
    # quarantine withholds the comment and pseudonymises the person
    assert "S2025000125" not in bad[1].raw and "withheld" in bad[1].raw


def test_redacted_comments_come_from_the_same_pass_as_the_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", SURVEY_CSV)
    comments = [
        (line, row[0], text)
        for line, row, text in (i for i in parsers.feedback_items(path, CTX) if not isinstance(i, Rejected))
        if text
    ]
    assert comments == [
        (4, "R1", "自习室座位太少,\n请联系我 [PHONE] 或 [EMAIL]"),
        (6, "R2", "The wifi is slow, my ID is [ID_NUMBER]"),
    ]


# --- volunteering ------------------------------------------------------------------------------


def test_volunteer_hours(tmp_path: Path) -> None:
    text = (
        "record_id,person_id,activity,date,hours\n"
        "V1,S2025000123,图书整架,2025-09-06,3\n"
        ",S2025000124,新生导览,2025/9/7,2.5\n"
        "V3,S2025000125,图书整架,2025-09-06,30\n"
        "V4,,图书整架,2025-09-06,2\n"
    )
    good, bad = split(parsers.parse_volunteering(write(tmp_path / "v.csv", text), CTX))
    rows = rows_of(VOLUNTEER_HOURS, good)
    assert [(r["record_id"], r["activity_date"], r["hours"]) for r in rows] == [
        ("V1", date(2025, 9, 6), Decimal(3)),
        (None, date(2025, 9, 7), Decimal("2.5")),
    ]
    assert [(r.line, r.field) for r in bad] == [(4, "hours"), (5, "person_id")]


def test_the_five_sources_are_registered_with_their_landing_patterns() -> None:
    expected = {
        ("spaces", "bookings-csv"): "services/spaces/**/*.csv",
        ("training", "training-csv"): "services/training/**/*.csv",
        ("consultations", "consultations-csv"): "services/consultations/**/*.csv",
        ("feedback", "survey-csv"): "services/feedback/**/*.csv",
        ("volunteering", "volunteer-csv"): "services/volunteering/**/*.csv",
    }
    for (source, name), pattern in expected.items():
        fmt = get_format(source, name)
        assert fmt.landing == (pattern,)
        assert fmt.identifier_fields == ("person_id",)
        assert fmt.option("columns") is not None
    assert get_format("feedback", "survey-csv").extra_tables[0].schema == "restricted"


def test_a_stray_quote_costs_its_own_line_only(tmp_path: Path) -> None:
    text = (
        "consultation_id,channel,topic,asked_at,answered_at,person_id\n"
        'Q1,desk,5" screen,2025-09-03 10:00,,\n'
        'Q2,desk,"broken"quote,2025-09-03 10:00,,\n'
        "Q3,desk,x,2025-09-03 10:00,,\n"
    )
    good, bad = split(parsers.parse_consultations(write(tmp_path / "q.csv", text), CTX))
    assert [r["consultation_id"] for r in rows_of(CONSULTATIONS, good)] == ["Q1", "Q3"]
    assert rows_of(CONSULTATIONS, good)[0]["topic"] == '5" screen'
    assert [(r.line, r.field) for r in bad] == [(3, "(line)")]
