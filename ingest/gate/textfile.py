"""What the gate formats share: reading CSV exports line by line in UTF-8 or GB18030, local times,
options, and the period a file's name says it covers."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.circulation.koha import detect_encoding
from ingest.errors import InvalidOption, UserError

DEFAULT_TIMEZONE = "Asia/Shanghai"


class GateFileError(UserError, ValueError):
    """A gate export the parser cannot read at all (an unknown header, a wrong encoding)."""


class BadField(ValueError):
    """One field of one line is unusable: the line goes to quarantine with this reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True)
class Line:
    """A physical line of a CSV export: its number, its fields, or why it could not be split."""

    number: int
    fields: list[str] | None
    problem: str | None = None  # set when fields is None
    problem_field: str = "(line)"


def csv_lines(path: Path, encoding_option: str | None = "auto") -> Iterator[Line]:
    """Every non-blank line of `path` as CSV fields, in the file's encoding (auto-detected per
    file: UTF-8, UTF-8 with BOM or GB18030). A line that does not decode or split is yielded with
    its problem, so that it costs that line only."""
    decode_as = decoding(path, encoding_option)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = split_line(number, raw, decode_as)
            if line is not None:
                yield line


def decoding(path: Path, encoding_option: str | None = "auto") -> str:
    """The codec csv_lines decodes each line of `path` with (a BOM is cut from line 1 apart)."""
    encoding = detect_encoding(path, str(encoding_option or "auto"))
    return "utf-8" if encoding == "utf-8-sig" else encoding


def split_line(number: int, raw: bytes, decode_as: str) -> Line | None:
    """Physical line `number` (bytes, with or without its line end) as csv_lines yields it; None
    for a blank line."""
    raw = raw.rstrip(b"\r\n")
    if number == 1:
        raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode(decode_as)
    except UnicodeDecodeError as err:
        other = "GB18030" if decode_as.startswith("utf") else "UTF-8"
        return Line(
            number,
            None,
            f"not valid {decode_as} at byte {err.start + 1} (the file was read as {decode_as}; "
            f"this line may have been written as {other})",
            "(encoding)",
        )
    return text_line(number, text)


def text_line(number: int, text: str) -> Line | None:
    """A decoded line (without its line end) split as CSV; None when blank."""
    if not text.strip():
        return None
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as err:
        return Line(number, None, f"malformed CSV: {err} (a stray quote?)")
    return Line(number, fields)


def zone_option(options: Mapping[str, Any]) -> ZoneInfo:
    name = str(options.get("timezone") or DEFAULT_TIMEZONE)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidOption(f"--timezone {name!r} is not a time zone name such as Asia/Shanghai") from None


def bool_option(options: Mapping[str, Any], name: str) -> bool | None:
    value = options.get(name)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off"):
        return False
    raise InvalidOption(f"--{name.replace('_', '-')} {value!r}: expected true or false")


def int_option(options: Mapping[str, Any], name: str, *, low: int = 1) -> int | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidOption(f"--{name.replace('_', '-')} {value!r}: expected a whole number") from None
    if number < low:
        raise InvalidOption(f"--{name.replace('_', '-')} {number}: expected at least {low}")
    return number


_LOCAL_TIME = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(text: str, zone: ZoneInfo | None) -> datetime:
    """`YYYY-MM-DD HH:MM[:SS]` (also with `/` or `T`) in the zone given, or with an offset / `Z`
    (ISO 8601). `zone=None` reads a time without offset as UTC."""
    match = _LOCAL_TIME.match(text.strip())
    if not match:
        raise ValueError(
            f"expected a time like 2025-09-01 08:15:00 or 2025-09-01T08:15:00+08:00, found {text!r}"
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError as err:
        raise ValueError(f"{text!r} is not a real date and time ({err})") from None
    if offset is None:
        return moment.replace(tzinfo=zone or UTC)
    if offset == "Z":
        return moment.replace(tzinfo=UTC)
    return datetime.fromisoformat(f"{moment.isoformat()}{offset[:3]}:{offset[-2:]}")


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DATE_PATTERNS = (
    (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"), ("y", "m", "d")),
    (re.compile(r"^(\d{1,2})[-/. ]([A-Za-z]{3})[A-Za-z]*[-/. ](\d{2}|\d{4})$"), ("d", "b", "y")),
    (re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})$"), ("d", "m", "y")),
)


def parse_day(text: str) -> date:
    """A calendar day as counter exports write it: `2022-01-31`, `31-Jan-22`, `31-Jan-2022`,
    `31-01-2022` or `31/01/2022` (day first, as gateCounts and most non-US exports)."""
    cleaned = text.strip().strip('"')
    for pattern, order in _DATE_PATTERNS:
        match = pattern.match(cleaned)
        if not match:
            continue
        parts = dict(zip(order, match.groups(), strict=True))
        month = _MONTHS.get(parts["b"].lower()) if "b" in parts else int(parts["m"])
        year = int(parts["y"])
        year += 2000 if year < 100 else 0
        try:
            if month is None:
                raise ValueError(f"unknown month {parts['b']!r}")
            return date(year, month, int(parts["d"]))
        except ValueError as err:
            raise ValueError(f"{text!r} is not a real date ({err})") from None
    raise ValueError(f"expected a date like 2022-01-31, 31-Jan-22 or 31-01-2022, found {text!r}")


_PERIOD_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})(?:-?(\d{2}))?(?!\d)")


def file_period(path: Path, zone: ZoneInfo, option: str | None = None) -> tuple[datetime, datetime] | None:
    """[start, end) of the day or month a file covers, in local time: from the `period` option
    (`YYYY-MM` or `YYYY-MM-DD`) or from a date in the file's name (swipes-2025-09-03.csv,
    gate-202509.csv). None when neither says, or when the option is `none`."""
    text = (option or "").strip()
    if text.lower() == "none":
        return None
    match = _PERIOD_IN_NAME.fullmatch(text) if text else _PERIOD_IN_NAME.search(path.stem)
    if text and not match:
        raise InvalidOption(f"--period {text!r}: expected YYYY-MM or YYYY-MM-DD (or none)")
    if not match:
        return None
    year, month, day = int(match[1]), int(match[2]), match[3]
    try:
        if day is not None:
            first = date(year, month, int(day))
            last = first + timedelta(days=1)
        else:
            first = date(year, month, 1)
            last = date(year + (month == 12), month % 12 + 1, 1)
    except ValueError:
        if text:
            raise InvalidOption(f"--period {text!r} is not a real day or month") from None
        return None  # digits in a name that are not a date: no period
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    end = datetime(last.year, last.month, last.day, tzinfo=zone)
    return start, end


def column_map(option: str | None, fields: tuple[str, ...]) -> dict[str, str]:
    """`--columns card_number=CardNo,gate=Door,...` as {field: header}; unknown fields refused."""
    mapping: dict[str, str] = {}
    for part in (option or "").split(","):
        if not part.strip():
            continue
        field, sep, header = part.partition("=")
        field, header = field.strip().lower(), header.strip()
        if not sep or not header or field not in fields:
            raise InvalidOption(
                f"--columns {option!r}: expected FIELD=HEADER pairs separated by commas, FIELD one of "
                f"{', '.join(fields)}"
            )
        mapping[field] = header
    return mapping
