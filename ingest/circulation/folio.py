"""FOLIO loans (`folio-json`) and items (`folio-items-json`), as mod-circulation-storage and
mod-inventory-storage return them: a page {"loans": [...]} / {"items": [...]}, a bare array, or a
single record; loan history pages ({"loansHistory": [{"loan": ...}]}) too. Only itemId,
loanDate and action are required of a loan (userId is absent on anonymised loans); timestamps
mix `Z`, `.000Z` and numeric offsets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.jsonrecords import iter_records
from ingest.model import ParseContext, ParsedItem, Rejected
from ingest.values import parse_instant


class _Bad(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _required_text(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(field, f"{field} is required (a FOLIO loan needs itemId, loanDate and action)")
    return value.strip()


def _optional_text(record: dict[str, Any], field: str) -> str | None:
    """A text field (an id, a name); a number is taken as its text, anything else is refused."""
    value = record.get(field) if isinstance(record, dict) else None
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad(field, f"expected text, found {type(value).__name__}")
    return str(value)


def _instant(record: dict[str, Any], field: str, *, required: bool = False):
    value = record.get(field)
    if value in (None, ""):
        if required:
            raise _Bad(field, f"{field} is required")
        return None
    try:
        return parse_instant(value)
    except ValueError as err:
        raise _Bad(field, str(err)) from None


def _loan(record: Any, ctx: ParseContext) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise _Bad("(record)", f"expected a loan object, found {type(record).__name__}")
    if isinstance(record.get("loan"), dict) and "loanDate" not in record:
        record = record["loan"]  # a loans-history entry wraps the loan as it was then
    pseudonym = ctx.pseudonymiser.pseudonym
    status: dict[str, Any] = record["status"] if isinstance(record.get("status"), dict) else {}
    renewals = record.get("renewalCount")
    if renewals is not None and (
        isinstance(renewals, bool) or not isinstance(renewals, int) or not 0 <= renewals < 2**31
    ):
        raise _Bad("renewalCount", f"expected a whole number >= 0, found {renewals!r:.40}")
    return (
        _optional_text(record, "id"),
        pseudonym("patron", _optional_text(record, "userId")),
        pseudonym("patron", _optional_text(record, "proxyUserId")),
        _required_text(record, "itemId"),
        _required_text(record, "action"),
        _optional_text(status, "name"),
        _optional_text(record, "itemStatus"),
        _instant(record, "loanDate", required=True),
        _instant(record, "dueDate"),
        _instant(record, "returnDate"),
        renewals,
        _optional_text(record, "checkoutServicePointId"),
        _optional_text(record, "itemEffectiveLocationIdAtCheckOut"),
    )


def _item(record: Any, ctx: ParseContext) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise _Bad("(record)", f"expected an item object, found {type(record).__name__}")
    components = record.get("effectiveCallNumberComponents")
    call_number = (
        _optional_text(components, "callNumber") if isinstance(components, dict) else None
    ) or _optional_text(record, "itemLevelCallNumber")
    material = record.get("materialType") or {}
    location = record.get("effectiveLocation") or {}
    return (
        "folio",
        _required_text(record, "id"),
        _optional_text(record, "barcode"),
        call_number,
        _optional_text(material, "name") if isinstance(material, dict) else None,
        _optional_text(location, "name") if isinstance(location, dict) else None,
    )


def _parse(path: Path, ctx: ParseContext, keys: tuple[str, ...], build) -> Iterator[ParsedItem]:
    for line, record in iter_records(path, keys):
        if isinstance(record, json.JSONDecodeError):
            yield Rejected(line, "(json)", f"not valid JSON from here on: {record.msg}", "")
            continue
        try:
            yield line, build(record, ctx)
        except _Bad as bad:
            yield Rejected(line, bad.field, str(bad), json.dumps(record, ensure_ascii=False)[:2000])


def parse_folio_loans(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    return _parse(path, ctx, ("loans", "loansHistory"), _loan)


def parse_folio_items(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    return _parse(path, ctx, ("items",), _item)
