"""COUNTER R5.1 JSON items: `Attribute_Performance[{attributes..., Performance: {Metric:
{"YYYY-MM": n}}}]`; IR nests `Items[]` under their parent title."""

from __future__ import annotations

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


def item_rows(header: ReportHeader, item: Any, position: int) -> Iterator[ParsedItem]:
    if not isinstance(item, Mapping):
        yield Rejected(position, "Report_Items", "expected a report item object", snippet(item))
        return
    children = item.get("Items")
    if isinstance(children, list):  # IR: a parent (maybe absent) and its items
        parent_title = text_or_none(item.get("Title"))
        for child in children:
            if not isinstance(child, Mapping):
                yield Rejected(position, "Items", "expected an item object", snippet(child))
                continue
            yield from _rows(header, child, position, parent_title)
        return
    yield from _rows(header, item, position, None)


def _rows(
    header: ReportHeader, item: Mapping[str, Any], position: int, parent_title: str | None
) -> Iterator[ParsedItem]:
    name = next((text_or_none(item.get(f)) for f in header.name_fields if text_or_none(item.get(f))), None)
    values: dict[str, Any] = {
        "platform": text_or_none(item.get("Platform")),
        "publisher": text_or_none(item.get("Publisher")),
        "item_name": name,
        "parent_title": parent_title,
        **identifier_values(item.get("Item_ID")),
    }
    attribute_performance = item.get("Attribute_Performance")
    if not isinstance(attribute_performance, list):
        yield Rejected(
            position, "Attribute_Performance", "expected a list of attribute performances", snippet(item)
        )
        return
    for entry in attribute_performance:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("Performance"), Mapping):
            yield Rejected(position, "Performance", "expected a Performance object", snippet(entry))
            continue
        try:
            yop = parse_yop(entry.get("YOP"))
        except ValueError as err:
            yield Rejected(position, "YOP", str(err), snippet(entry))
            continue
        attributes = {
            "data_type": text_or_none(entry.get("Data_Type")),
            "section_type": text_or_none(entry.get("Section_Type")),
            "yop": yop,
            "access_type": text_or_none(entry.get("Access_Type")),
            "access_method": text_or_none(entry.get("Access_Method")),
        }
        for metric, months in entry["Performance"].items():
            if not isinstance(months, Mapping):
                yield Rejected(
                    position, metric, 'expected {"YYYY-MM": count} for the metric', snippet(months)
                )
                continue
            for month_text, raw_count in months.items():
                try:
                    month = month_of(month_text)
                    count = parse_count(raw_count)
                except ValueError as err:
                    yield Rejected(position, metric, str(err), snippet({month_text: raw_count}))
                    continue
                row = {
                    **values,
                    **attributes,
                    "metric_type": str(metric).strip(),
                    "month": month,
                    "count": count,
                }
                yield position, header.row(row)
