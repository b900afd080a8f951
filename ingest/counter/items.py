"""Converters shared by the JSON and TSV readers. Each raises ValueError with a usable reason."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

# Item_ID types -> counter_usage columns (R5 writes Type/Value pairs, R5.1 an object).
IDENTIFIER_COLUMNS = {
    "doi": "doi",
    "isbn": "isbn",
    "print_issn": "print_issn",
    "online_issn": "online_issn",
    "proprietary": "proprietary_id",
    "proprietary_id": "proprietary_id",
    "uri": "uri",
}


def identifier_values(item_id: Any) -> dict[str, str]:
    """Item_ID (a list of {Type, Value}, an object, or null) as counter_usage columns."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(item_id, list):
        pairs = [
            (str(e.get("Type") or e.get("type") or ""), e.get("Value", e.get("value")))
            for e in item_id
            if isinstance(e, Mapping)
        ]
    elif isinstance(item_id, Mapping):
        pairs = list(item_id.items())
    found: dict[str, str] = {}
    for kind, value in pairs:
        column = IDENTIFIER_COLUMNS.get(kind.strip().lower())
        if column and value not in (None, "") and column not in found:
            found[column] = str(value).strip()
    return found


def parse_count(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number of uses, found {value!r}")
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and value.is_integer():
        count = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value.strip())
    else:
        raise ValueError(f"expected a whole number of uses, found {value!r}")
    if count < 0:
        raise ValueError(f"expected a count of zero or more, found {count}")
    if count >= 2**63:
        raise ValueError(f"expected a count that fits a bigint, found {count}")
    return count


def parse_yop(value: Any) -> int | None:
    """Year of publication: `2012`, `0001` (unknown) or `9999` (articles in press)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not re.fullmatch(r"\d{1,4}", text):
        raise ValueError(f"expected a year of publication like 2012 (0001 unknown), found {text!r}")
    return int(text)


def month_of(value: Any) -> date:
    """`2022-01` (R5.1) or `2022-01-01` (R5 Begin_Date) as the first day of the month."""
    text = str(value or "").strip()
    match = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", text)
    if not match:
        raise ValueError(f"expected a month like 2022-01, found {text!r}")
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
    try:
        parsed = date(year, month, day)
    except ValueError:
        raise ValueError(f"expected a real date, found {text!r}") from None
    if day != 1:
        raise ValueError(f"expected a period starting on the first of a month, found {text!r}")
    return parsed


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def snippet(value: Any, limit: int = 2000) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)[:limit]
