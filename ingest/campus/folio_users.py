"""FOLIO users as mod-users returns them (format `folio-users`): a page {"users": [...],
"totalRecords"}, a bare array, or one user.

A user links identifiers the library's other systems use: the FOLIO user id (the patron on FOLIO
loans), the card barcode, the login (username) and, in externalSystemId, the campus person id.
All four land as pseudonyms; `personal` (names, e-mail, phones, addresses, birth date) is read
past. Only `id` is required.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ingest.campus.person import Bad, text, timezone_of
from ingest.jsonrecords import iter_records
from ingest.model import ParseContext, ParsedItem, Rejected
from ingest.values import parse_instant

NEVER_KEPT = {"personal", "id", "barcode", "username", "externalSystemId", "customFields"}


def _day(record: dict[str, Any], field: str) -> date | None:
    value = record.get(field)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Bad(field, f"expected a date, found {value!r}")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise Bad(field, f"expected a date like 2025-09-01, found {value!r}") from None


def _user(record: Any, ctx: ParseContext) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise Bad("(record)", f"expected a user object, found {type(record).__name__}")
    pseudonym = ctx.pseudonymiser.pseudonym
    patron = pseudonym("patron", text(record, "id", required=True))
    if patron is None:
        raise Bad("id", "id is required")
    active = record.get("active")
    if active is not None and not isinstance(active, bool):
        raise Bad("active", f"expected true or false, found {active!r}")
    metadata = record.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    updated_text = metadata.get("updatedDate") or record.get("updatedDate")
    try:
        updated_at = parse_instant(updated_text, local_zone=timezone_of(ctx)) if updated_text else None
    except ValueError as err:
        raise Bad("metadata.updatedDate", str(err)) from None
    return (
        patron,
        pseudonym("card", text(record, "barcode")),
        pseudonym("login", text(record, "username")),
        pseudonym("person", text(record, "externalSystemId")),
        text(record, "type"),
        text(record, "patronGroup"),
        active,
        _day(record, "enrollmentDate"),
        _day(record, "expirationDate"),
        updated_at,
    )


def parse_folio_users(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    for line, record in iter_records(path, ("users",)):
        if isinstance(record, json.JSONDecodeError):
            yield Rejected(line, "(json)", f"not valid JSON from here on: {record.msg}", "")
            continue
        try:
            yield line, _user(record, ctx)
        except Bad as bad:
            kept = (
                {k: v for k, v in record.items() if k not in NEVER_KEPT} if isinstance(record, dict) else {}
            )
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                kept["patron_key"] = ctx.pseudonymiser.pseudonym("patron", record["id"])
            yield Rejected(
                line, bad.field, str(bad), json.dumps(kept, ensure_ascii=False, default=str)[:2000]
            )
