"""Who is who in a campus roster page, for the identity vault (ingest.privacy.identity): each
person's campus id and library identifiers, as written in the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.jsonrecords import iter_records, page_header
from ingest.model import ParseContext
from ingest.privacy.identity import RosterIdentity
from ingest.values import parse_date


def roster_identities(path: Path, ctx: ParseContext) -> Iterator[RosterIdentity]:
    snapshot_text = ctx.options.get("snapshot_date") or page_header(path).get("snapshot_date")
    try:
        seen = parse_date(str(snapshot_text)) if snapshot_text else None
    except ValueError:
        seen = None
    for _, record in iter_records(path, ("data",)):
        if not isinstance(record, dict) or not isinstance(record.get("person_id"), str | int):
            continue
        found = record.get("library")
        library: dict[str, Any] = found if isinstance(found, dict) else {}
        yield RosterIdentity(
            person_id=str(record["person_id"]).strip(),
            identifiers=(
                ("card", _text(library, "card_number")),
                ("login", _text(library, "login")),
                ("patron", _text(library, "koha_borrowernumber")),
                ("patron", _text(library, "folio_user_id")),
            ),
            seen=seen,
        )


def _text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def sync_identities(path: Path, ctx: ParseContext) -> Iterator[RosterIdentity]:
    """The same for a campus API sync file (format campus-sync): each person record's id, its
    library identifiers and every card it lists; tombstones carry none."""
    import json

    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if not isinstance(item, dict) or item.get("resource") != "persons":
                continue
            record = item.get("record")
            if not isinstance(record, dict) or record.get("deleted"):
                continue
            if not isinstance(record.get("person_id"), str | int):
                continue
            found = record.get("library")
            library: dict[str, Any] = found if isinstance(found, dict) else {}
            cards = [c for c in record.get("cards") or [] if isinstance(c, dict)]
            try:
                seen = parse_date(str(record.get("updated_at"))[:10]) if record.get("updated_at") else None
            except ValueError:
                seen = None
            yield RosterIdentity(
                person_id=str(record["person_id"]).strip(),
                identifiers=(
                    ("card", _text(library, "card_number")),
                    *(("card", _text(card, "card_number")) for card in cards),
                    ("login", _text(library, "login")),
                    ("patron", _text(library, "koha_borrowernumber")),
                    ("patron", _text(library, "folio_user_id")),
                ),
                seen=seen,
            )
