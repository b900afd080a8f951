"""COUNTER R5 (5.0.x) JSON items: `Performance[{Period, Instance[{Metric_Type, Count}]}]`."""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from typing import Any

from ingest.counter.header import ReportHeader
from ingest.counter.items import (
    identifier_values,
    month_of,
    parse_count,
    parse_yop,
    snippet,
    text_or_none,
)
from ingest.model import ParsedItem, Rejected


def _name(item: Mapping[str, Any], fields: tuple[str, ...]) -> str | None:
    for name in fields:
        if text_or_none(item.get(name)):
            return text_or_none(item.get(name))
    return None


def item_rows(header: ReportHeader, item: Any, position: int) -> Iterator[ParsedItem]:
    """Rows of one Report_Item; `position` (1-based) stands in for the line number."""
    if not isinstance(item, Mapping):
        yield Rejected(position, "Report_Items", "expected a report item object", snippet(item))
        return
    try:
        yop = parse_yop(item.get("YOP"))
    except ValueError as err:
        yield Rejected(position, "YOP", str(err), snippet(item))
        return
    parent = item.get("Item_Parent") if isinstance(item.get("Item_Parent"), Mapping) else {}
    values: dict[str, Any] = {
        "platform": text_or_none(item.get("Platform")),
        "publisher": text_or_none(item.get("Publisher")),
        "item_name": _name(item, header.name_fields),
        "parent_title": text_or_none(parent.get("Item_Name")) if parent else None,
        "data_type": text_or_none(item.get("Data_Type")),
        "section_type": text_or_none(item.get("Section_Type")),
        "yop": yop,
        "access_type": text_or_none(item.get("Access_Type")),
        "access_method": text_or_none(item.get("Access_Method")),
        **identifier_values(item.get("Item_ID")),
    }
    performance = item.get("Performance")
    if performance is None:
        return  # no usage reported for the item: no rows (as celus-nigiri reads it)
    if not isinstance(performance, list):
        yield Rejected(position, "Performance", "expected a list of monthly performances", snippet(item))
        return
    for period_entry in performance:
        period = period_entry.get("Period") if isinstance(period_entry, Mapping) else None
        if not isinstance(period, Mapping):
            yield Rejected(
                position, "Period", "expected a Period with Begin_Date and End_Date", snippet(period_entry)
            )
            continue
        try:
            month = month_of(period.get("Begin_Date"))
            last_day = calendar.monthrange(month.year, month.month)[1]
            end = str(period.get("End_Date") or "")
            if end and end[:10] != month.replace(day=last_day).isoformat():
                raise ValueError(
                    f"expected one calendar month, found {period.get('Begin_Date')} to {end}; "
                    "harvest with granularity Month"
                )
        except ValueError as err:
            yield Rejected(position, "Period", str(err), snippet(period_entry))
            continue
        instances = period_entry.get("Instance") or []
        if not isinstance(instances, list):
            yield Rejected(position, "Instance", "expected a list of Instances", snippet(period_entry))
            continue
        for instance in instances:
            if not isinstance(instance, Mapping) or not text_or_none(instance.get("Metric_Type")):
                yield Rejected(
                    position, "Metric_Type", "expected an Instance with a Metric_Type", snippet(instance)
                )
                continue
            try:
                count = parse_count(instance.get("Count"))
            except ValueError as err:
                yield Rejected(position, "Count", str(err), snippet(instance))
                continue
            row = {
                **values,
                "metric_type": text_or_none(instance["Metric_Type"]),
                "month": month,
                "count": count,
            }
            yield position, header.row(row)
