"""The five service formats' parsers. Each reads a CSV through `csvinput` (encoding, column
mapping, quarantine text) and turns a record into a row of its landing table.

Vocabularies accept the spellings exports use (English and Chinese, any case, `_`, `-` or a
space between words) and land one canonical value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from ingest.model import ParseContext, ParsedItem, Rejected
from ingest.redaction import redact
from ingest.services import csvinput as c
from ingest.services.comments import features
from ingest.services.tables import FEEDBACK_COMMENTS


def _vocabulary(groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """{spelling: value} with spellings normalised as `csvinput.choice` normalises input."""
    table = {}
    for value, spellings in groups.items():
        for spelling in (value, *spellings):
            key = " ".join(spelling.casefold().replace("_", " ").replace("-", " ").split())
            table[key] = value
    return table


# --- space and seat bookings -----------------------------------------------------------------

BOOKING_STATUSES = _vocabulary(
    {
        "checked_in": (
            "checked-in",
            "checkedin",
            "check in",
            "attended",
            "used",
            "completed",
            "已签到",
            "签到",
            "已使用",
        ),
        "no_show": ("noshow", "missed", "absent", "违约", "未签到", "爽约", "失约"),
        "cancelled": ("canceled", "cancel", "已取消", "取消"),
    }
)
SPACE_TYPES = _vocabulary(
    {
        "room": ("study room", "group study room", "discussion room", "研讨室", "研修室", "房间"),
        "seat": ("desk", "座位", "阅览座位"),
    }
)
BOOKINGS = c.CsvSpec(
    source="spaces",
    fields=(
        "booking_id",
        "person_id",
        "space_id",
        "space_type",
        "space_area",
        "start_time",
        "end_time",
        "status",
        "booked_at",
    ),
    required=("booking_id", "person_id", "space_id", "start_time", "end_time", "status"),
)


def parse_bookings(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    return c.rows(path, ctx, BOOKINGS, bookings_builder(ctx))


def bookings_builder(ctx: ParseContext) -> Callable[[c.Record], tuple[Any, ...]]:
    zone = c.zone_of(ctx)

    def build(record: c.Record) -> tuple[Any, ...]:
        starts = c.moment(record, "start_time", zone, required=True)
        ends = c.moment(record, "end_time", zone, required=True)
        assert starts is not None and ends is not None
        if ends <= starts:
            raise c.BadField("end_time", f"the booking ends ({ends:%Y-%m-%d %H:%M}) before it starts")
        return (
            c.text(record, "booking_id", required=True),
            c.person(record, ctx, required=True),
            c.text(record, "space_id", required=True),
            c.choice(record, "space_type", SPACE_TYPES),
            c.text(record, "space_area"),
            starts,
            ends,
            c.choice(record, "status", BOOKING_STATUSES, required=True),
            c.moment(record, "booked_at", zone),
        )

    return build


# --- training sessions and registrations -----------------------------------------------------

TRAINING = c.CsvSpec(
    source="training",
    fields=(
        "session_id",
        "series",
        "topic",
        "level",
        "session_start",
        "hours",
        "capacity",
        "person_id",
        "registered_at",
        "attended",
    ),
    required=("session_id", "series", "session_start", "person_id"),
)


def parse_training(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    zone = c.zone_of(ctx)

    def build(record: c.Record) -> tuple[Any, ...]:
        level = c.text(record, "level")
        return (
            c.text(record, "session_id", required=True),
            c.text(record, "series", required=True),
            c.text(record, "topic"),
            level.lower() if level else None,
            c.moment(record, "session_start", zone, required=True),
            c.number(record, "hours", low=Decimal("0.1"), high=Decimal(24)),
            c.whole(record, "capacity", low=0, high=100_000),
            c.person(record, ctx),
            c.moment(record, "registered_at", zone),
            c.flag(record, "attended"),
        )

    return c.rows(path, ctx, TRAINING, build)


# --- consultations ---------------------------------------------------------------------------

CHANNELS = _vocabulary(
    {
        "desk": (
            "reference desk",
            "service desk",
            "in person",
            "walk in",
            "总台",
            "咨询台",
            "服务台",
            "现场",
            "到馆",
        ),
        "chat": ("online chat", "live chat", "im", "qq", "在线咨询", "在线", "实时咨询"),
        "email": ("e-mail", "mail", "电子邮件", "邮件", "邮箱"),
        "social_media": ("social", "wechat", "weibo", "微信", "微博", "公众号", "社交媒体"),
        "phone": ("telephone", "tel", "call", "电话"),
    }
)
CONSULTATIONS = c.CsvSpec(
    source="consultations",
    fields=("consultation_id", "channel", "topic", "asked_at", "answered_at", "person_id"),
    required=("consultation_id", "channel", "asked_at"),
)


def parse_consultations(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    zone = c.zone_of(ctx)

    def build(record: c.Record) -> tuple[Any, ...]:
        asked = c.moment(record, "asked_at", zone, required=True)
        answered = c.moment(record, "answered_at", zone)
        assert asked is not None
        if answered is not None and answered < asked:
            raise c.BadField("answered_at", f"answered ({answered:%Y-%m-%d %H:%M}) before it was asked")
        topic = c.text(record, "topic")
        return (
            c.text(record, "consultation_id", required=True),
            c.choice(record, "channel", CHANNELS, required=True),
            topic.lower() if topic else None,
            asked,
            answered,
            c.person(record, ctx),
        )

    return c.rows(path, ctx, CONSULTATIONS, build)


# --- feedback and surveys --------------------------------------------------------------------

QUESTION_TYPES = _vocabulary(
    {
        "rating": ("likert", "1-5", "scale", "satisfaction", "评分", "满意度"),
        "nps": ("recommend", "recommendation", "0-10", "net promoter", "推荐", "推荐度"),
        "comment": ("text", "open", "free text", "意见", "建议", "留言"),
    }
)
SCORE_RANGES = {"rating": (1, 5), "nps": (0, 10)}
SUGGESTION_STATUSES = _vocabulary(
    {
        "accepted": ("adopted", "采纳", "已采纳"),
        "declined": ("rejected", "not adopted", "未采纳", "不采纳"),
        "pending": ("open", "处理中", "待处理", "未处理"),
    }
)
FEEDBACK = c.CsvSpec(
    source="feedback",
    fields=(
        "response_id",
        "survey",
        "person_id",
        "submitted_at",
        "service_area",
        "question",
        "question_type",
        "score",
        "comment",
        "suggestion_status",
    ),
    required=("response_id", "submitted_at", "question", "question_type"),
    free_text_fields=("comment",),
)


def feedback_items(
    path: Path, ctx: ParseContext
) -> Iterator[tuple[int, tuple[Any, ...], str | None] | Rejected]:
    """(line, landing row, redacted comment or None) per answer, or a Rejected: the one pass that
    both the landing rows and the restricted comments come from, so their lines agree."""
    zone = c.zone_of(ctx)
    for item in c.read_records(path, ctx, FEEDBACK):
        if isinstance(item, Rejected):
            yield item
            continue
        record = item
        try:
            question_type = c.choice(record, "question_type", QUESTION_TYPES, required=True)
            assert question_type is not None
            if question_type in SCORE_RANGES:
                low, high = SCORE_RANGES[question_type]
                score = c.whole(record, "score", low=low, high=high)
            elif c.text(record, "score") is not None:
                raise c.BadField("score", "a comment question carries no score; use rating or nps")
            else:
                score = None
            comment = c.text(record, "comment")
            found = features(comment) if comment else None
            area = c.text(record, "service_area")
            row = (
                c.text(record, "response_id", required=True),
                c.text(record, "survey"),
                c.person(record, ctx),
                c.moment(record, "submitted_at", zone, required=True),
                "_".join(area.lower().split()) if area else None,
                c.text(record, "question", required=True),
                question_type,
                score,
                c.choice(record, "suggestion_status", SUGGESTION_STATUSES),
                found.length if found else None,
                found.language if found else None,
                found.topics if found else None,
            )
        except c.BadField as bad:
            raw = c.quarantine_text(record, FEEDBACK, ctx)
            yield Rejected(record.line, record.where(bad.field), str(bad), raw, redacted=True)
            continue
        yield record.line, row, redact(comment) if comment else None


def parse_feedback(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    for item in feedback_items(path, ctx):
        if isinstance(item, Rejected):
            yield item
        else:
            yield item[0], item[1]


def store_redacted_comments(
    conn: psycopg.Connection, batch_id: str, label: str, path: Path, ctx: ParseContext
) -> list[str]:
    """after_load of survey-csv: the redacted comments to restricted.feedback_comments, in the
    load's transaction and batch (the file is read a second time; surveys are small)."""
    columns = ("batch_id", "source_file", "source_line", *FEEDBACK_COMMENTS.column_names)
    copy_sql = f"copy {FEEDBACK_COMMENTS.schema}.{FEEDBACK_COMMENTS.name} ({', '.join(columns)}) from stdin"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for item in feedback_items(path, ctx):
            if isinstance(item, Rejected) or item[2] is None:
                continue
            line, row, comment = item
            copy.write_row((batch_id, label, line, row[0], row[5], row[2], comment))
    return []


# --- volunteering ----------------------------------------------------------------------------

VOLUNTEERING = c.CsvSpec(
    source="volunteering",
    fields=("record_id", "person_id", "activity", "date", "hours"),
    required=("person_id", "activity", "date", "hours"),
)


def parse_volunteering(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    def build(record: c.Record) -> tuple[Any, ...]:
        return (
            c.text(record, "record_id"),
            c.person(record, ctx, required=True),
            c.text(record, "activity", required=True),
            c.day(record, "date", required=True),
            c.number(record, "hours", low=Decimal("0.1"), high=Decimal(24), required=True),
        )

    return c.rows(path, ctx, VOLUNTEERING, build)
