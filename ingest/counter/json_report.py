"""COUNTER JSON reports (R5 and R5.1) as delivered by SUSHI, including the odd shapes seen in the
wild: the body as a JSON string, a bare exception or a list of them, Celus' `{"body", "response"}`
envelope, header fields at the root, `"Report_Items": null`.

Reports are small (one platform, a few months), so a file is read whole with the stdlib.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ingest.counter import r5_json, r51_json
from ingest.counter.exceptions import (
    CounterException,
    CounterReportError,
    blocks_empty_report,
    failure_for,
    looks_like_exception,
    normalise,
)
from ingest.counter.header import (
    ReportHeader,
    identifiers_as_text,
    normalise_release,
    normalise_report_id,
    parse_created,
    parse_date,
)
from ingest.counter.items import text_or_none
from ingest.model import ParseContext, ParsedItem

HEADER_FIELDS = ("Report_ID", "Release", "Created", "Customer_ID", "Report_Name")


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    """Key lookup that forgives lower-case keys (`report_id`, `end_date`)."""
    if name in mapping:
        return mapping[name]
    lowered = name.lower()
    for key, value in mapping.items():
        if str(key).lower() == lowered:
            return value
    return None


def decode_body(text: str, where: str) -> Any:
    """JSON from a response body or file; a JSON string holding JSON is decoded once more."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        start = " ".join(text.strip().split())[:120]
        raise CounterReportError(
            f"{where}: not JSON, so not a COUNTER report; the provider answered {start!r}. "
            "Check the SUSHI URL and credentials, or pass --format counter-tsv for a TSV file."
        ) from None
    if isinstance(body, str):
        return decode_body(body, where)
    return body


def _exceptions_in(*containers: Any) -> tuple[CounterException, ...]:
    found: list[CounterException] = []
    for container in containers:
        if not isinstance(container, Mapping):
            continue
        for key in ("Exceptions", "Exception"):
            value = _get(container, key)
            if isinstance(value, Mapping):
                value = [value]
            if isinstance(value, list):
                found.extend(normalise(v) for v in value if isinstance(v, Mapping))
    return tuple(found)


def _filters(header: Mapping[str, Any]) -> dict[str, Any]:
    """Report_Filters as a dict in both releases, names in canonical case (`Begin_Date`)."""
    raw = _get(header, "Report_Filters")
    pairs: dict[str, Any] = {}
    if isinstance(raw, list):
        for entry in raw:
            if isinstance(entry, Mapping):
                pairs[str(_get(entry, "Name") or "").lower()] = _get(entry, "Value")
    elif isinstance(raw, Mapping):
        pairs = {str(k).lower(): v for k, v in raw.items()}
    return pairs


def unwrap(body: Any, where: str) -> tuple[Mapping[str, Any], list[Any]]:
    """The report's header and items from any envelope; a body that holds only exceptions
    raises CounterReportError naming them."""
    if isinstance(body, list):
        if body and all(looks_like_exception(e) for e in body):
            raise failure_for(where, tuple(normalise(e) for e in body))
        raise CounterReportError(
            f"{where}: a JSON list, not a COUNTER report (expected an object with Report_Header "
            "and Report_Items)"
        )
    if not isinstance(body, Mapping):
        raise CounterReportError(f"{where}: JSON {type(body).__name__}, not a COUNTER report")
    if "body" in body and "response" in body:  # Celus' stored envelope
        inner = body["body"]
        if inner is None:
            response = body["response"]
            if looks_like_exception(response):
                raise failure_for(where, (normalise(response),))
            raise CounterReportError(f"{where}: the response has no body ({response!r:.200})")
        return unwrap(inner, where)
    if looks_like_exception(body) and _get(body, "Report_Header") is None:
        raise failure_for(where, (normalise(body),))
    header = _get(body, "Report_Header")
    if not isinstance(header, Mapping):
        if any(_get(body, name) is not None for name in HEADER_FIELDS):
            header = body  # header fields written at the root
        else:
            keys = ", ".join(sorted(map(str, body)))[:200]
            raise CounterReportError(
                f"{where}: not a COUNTER report: expected Report_Header and Report_Items, found "
                f"the keys {keys}"
            )
    items = _get(body, "Report_Items")
    return _merge_root(header, body), list(items) if isinstance(items, list) else []


def _merge_root(header: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """Header fields a provider put at the root (next to Report_Header) complete the header."""
    merged = dict(header)
    for name in (*HEADER_FIELDS, "Exception", "Exceptions"):
        if _get(merged, name) is None and _get(body, name) is not None and body is not header:
            merged[name] = _get(body, name)
    return merged


def read_header(
    raw_header: Mapping[str, Any], items: list[Any], ctx: ParseContext | None, where: str
) -> ReportHeader:
    report_id = normalise_report_id(_get(raw_header, "Report_ID"))
    if report_id is None:
        raise CounterReportError(f"{where}: the report header has no Report_ID")
    release = normalise_release(_get(raw_header, "Release"))
    if release is None:
        first = items[0] if items and isinstance(items[0], Mapping) else {}
        release = "5.1" if ("Attribute_Performance" in first or "Items" in first) else "5"
    if release not in ("5", "5.1"):
        raise CounterReportError(f"{where}: COUNTER release {release!r} is not supported (expected 5 or 5.1)")
    filters = _filters(raw_header)
    options = ctx.options if ctx is not None else {}
    customer_id = (
        options.get("customer_id")
        or _get(raw_header, "Customer_ID")
        or identifiers_as_text(_get(raw_header, "Institution_ID"))
    )
    return ReportHeader(
        report_id=report_id,
        release=release,
        customer_id=str(customer_id) if customer_id is not None else None,
        institution_name=text_or_none(_get(raw_header, "Institution_Name")),
        created=parse_created(_get(raw_header, "Created")),
        created_by=text_or_none(_get(raw_header, "Created_By")),
        period_begin=parse_date(filters.get("begin_date")),
        period_end=parse_date(filters.get("end_date")),
        exceptions=_exceptions_in(raw_header),
    )


def read_report(path: Path, ctx: ParseContext | None = None) -> tuple[ReportHeader, list[Any]]:
    """Header and items of a COUNTER JSON file, or CounterReportError saying why there are none."""
    where = str(path)
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    raw_header, items = unwrap(decode_body(text, where), where)
    header = read_header(raw_header, items, ctx, where)
    if not items and blocks_empty_report(header.exceptions):
        raise failure_for(where, header.exceptions)
    return header, items


def parse(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    """counter-json: R5 or R5.1, told apart by the header's Release (or the items' shape)."""
    header, items = read_report(path, ctx)
    module = r51_json if header.release == "5.1" else r5_json
    for position, item in enumerate(items, start=1):
        yield from module.item_rows(header, item, position)
