"""What every COUNTER row shares: the report header, read from JSON (R5, R5.1) or TSV."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ingest.counter.exceptions import CounterException
from ingest.counter.tables import COLUMN_NAMES

ITEM_KINDS = {"TR": "title", "DR": "database", "PR": "platform", "IR": "item"}
# The field that names a report's items, by report family, first; the others as fallbacks (a DR
# item that also carries a Title is still named by its Database).
NAME_FIELDS = {
    "TR": ("Title", "Database", "Item", "Platform"),
    "DR": ("Database", "Title", "Item", "Platform"),
    "PR": ("Platform", "Title", "Database", "Item"),
    "IR": ("Item", "Title", "Database", "Platform"),
}


@dataclass
class ReportHeader:
    report_id: str
    release: str
    customer_id: str | None = None
    institution_name: str | None = None
    created: datetime | None = None
    created_by: str | None = None
    period_begin: date | None = None
    period_end: date | None = None
    exceptions: tuple[CounterException, ...] = field(default_factory=tuple)

    @property
    def item_kind(self) -> str:
        return ITEM_KINDS.get(self.report_id[:2], "item")

    @property
    def name_fields(self) -> tuple[str, ...]:
        return NAME_FIELDS.get(self.report_id[:2], NAME_FIELDS["TR"])

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """A counter_usage row: the header's columns plus the item's `values`."""
        merged = {
            "report_id": self.report_id,
            "release": self.release,
            "item_kind": self.item_kind,
            "customer_id": self.customer_id,
            "institution_name": self.institution_name,
            "created": self.created,
            "created_by": self.created_by,
            "period_begin": self.period_begin,
            "period_end": self.period_end,
            **values,
        }
        return tuple(merged.get(name) for name in COLUMN_NAMES)


def normalise_release(value: Any) -> str | None:
    """'5', 5, '5.0', '5.0.3' -> '5'; '5.1', '5.1.x' -> '5.1'."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.startswith("5.1"):
        return "5.1"
    if re.fullmatch(r"5(\.0(\.\d+)?)?", text):
        return "5"
    return text


def normalise_report_id(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().upper().replace(":", "_")
    return text or None


def parse_created(value: Any) -> datetime | None:
    """The report's creation time. Providers write odd forms (`2020-07-03 02:02:30-0700`); one we
    cannot read is dropped rather than failing the report: it is informative only."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    """`2022-01-01` or `2022-01` (a month, as lower-case filters in the wild write it)."""
    if not value:
        return None
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return date.fromisoformat(text + "-01")
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def identifiers_as_text(value: Any) -> str | None:
    """Institution_ID in any release as `Type:Value|...` (the TSV form), for a stable key."""
    pairs: list[str] = []
    if isinstance(value, list):
        pairs = [f"{v.get('Type')}:{v.get('Value')}" for v in value if isinstance(v, Mapping)]
    elif isinstance(value, Mapping):
        for kind, values in value.items():
            for one in values if isinstance(values, list) else [values]:
                pairs.append(f"{kind}:{one}")
    elif isinstance(value, str) and value.strip():
        pairs = [p.strip() for p in value.split(";") if p.strip()]
    return "|".join(pairs) or None
