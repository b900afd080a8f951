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
    if renewals is not None and (isinstance(renewals, bool) or not isinstance(renewals, int) or renewals < 0):
        raise _Bad("renewalCount", f"expected a whole number >= 0, found {renewals!r}")
    return (
        record.get("id"),
        pseudonym("patron", record.get("userId")),
        pseudonym("patron", record.get("proxyUserId")),
        _required_text(record, "itemId"),
        _required_text(record, "action"),
        status.get("name"),
        record.get("itemStatus"),
        _instant(record, "loanDate", required=True),
        _instant(record, "dueDate"),
        _instant(record, "returnDate"),
        renewals,
        record.get("checkoutServicePointId"),
        record.get("itemEffectiveLocationIdAtCheckOut"),
    )


def _item(record: Any, ctx: ParseContext) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise _Bad("(record)", f"expected an item object, found {type(record).__name__}")
    call_number = (record.get("effectiveCallNumberComponents") or {}).get("callNumber") or record.get(
        "itemLevelCallNumber"
    )
    material = record.get("materialType") or {}
    location = record.get("effectiveLocation") or {}
    return (
        "folio",
        _required_text(record, "id"),
        record.get("barcode"),
        call_number,
        material.get("name") if isinstance(material, dict) else None,
        location.get("name") if isinstance(location, dict) else None,
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
