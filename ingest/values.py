"""Small, strict converters shared by the parsers. Each raises ValueError with a user-facing reason."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo


def parse_instant(value: object, *, local_zone: ZoneInfo | None = None) -> datetime:
    """An ISO-8601 timestamp as an aware datetime. `Z`, fractions and `+0000`/`+00:00` offsets are
    accepted; a naive one takes `local_zone` (error when none is given)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an ISO-8601 timestamp, found nothing")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected an ISO-8601 timestamp like 2025-09-01T08:15:00Z, found {text!r}"
        ) from None
    if parsed.tzinfo is None:
        if local_zone is None:
            raise ValueError(f"timestamp {text!r} has no time-zone offset")
        parsed = parsed.replace(tzinfo=local_zone)
    return parsed.astimezone(UTC)


def parse_local_datetime(text: str, zone: ZoneInfo) -> datetime:
    """`YYYY-MM-DD HH:MM:SS` (Koha, MySQL) in the library's local time, as an aware datetime."""
    try:
        parsed = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValueError(f"expected a date and time like 2025-09-01 08:15:00, found {text!r}") from None
    return parsed.replace(tzinfo=zone)


def parse_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError(f"expected a date like 2025-09-01, found {value!r}")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ValueError(f"expected a date like 2025-09-01, found {value!r}") from None


def parse_decimal(text: str) -> Decimal | None:
    if not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"expected a number, found {text!r}") from None


def optional_int(value: object, *, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a whole number, found {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, found {value!r}") from None
    if not low <= number <= high:
        raise ValueError(f"expected a number between {low} and {high}, found {number}")
    return number
