"""Campus roster pages as the campus data platform's API returns them (format `campus-json`).

A page: {"page", "page_size", "total", "next", "snapshot_date", "data": [PERSON, ...]} (see
ingest.campus.person for a person). A page is a snapshot: the people it lists as of its
snapshot_date. Names, e-mail, phone and national id numbers are read past and never land (data
minimisation); the person id and the library identifiers land only as pseudonyms. Cards listed
with validity periods go to raw.campus_cards in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.campus.cards import write_cards
from ingest.campus.person import Bad, Person, minimised, read_person
from ingest.errors import FileRefused
from ingest.jsonrecords import iter_records, page_header
from ingest.model import ParseContext, ParsedItem, Rejected
from ingest.values import parse_date


def snapshot_row(snapshot: Any, person: Person) -> tuple[Any, ...]:
    return (snapshot, *person.identifiers(), *person.attributes(), person.roles)


def _people(path: Path, ctx: ParseContext) -> Iterator[tuple[int, Person] | Rejected]:
    for line, record in iter_records(path, ("data",)):
        if isinstance(record, json.JSONDecodeError):
            yield Rejected(line, "(json)", f"not valid JSON from here on: {record.msg}", "")
            continue
        try:
            yield line, read_person(record, ctx)
        except Bad as bad:
            yield Rejected(line, bad.field, str(bad), minimised(record, ctx))


def parse_campus_json(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    header = page_header(path)
    snapshot_text = ctx.options.get("snapshot_date") or header.get("snapshot_date")
    if snapshot_text is None:
        raise FileRefused(f"{path}: no snapshot_date in the page header; pass --snapshot-date YYYY-MM-DD")
    try:
        snapshot = parse_date(str(snapshot_text))
    except ValueError as err:
        raise FileRefused(f"{path}: snapshot_date: {err}; pass --snapshot-date YYYY-MM-DD") from None
    for item in _people(path, ctx):
        if isinstance(item, Rejected):
            yield item
        else:
            yield item[0], snapshot_row(snapshot, item[1])


def campus_json_cards(conn: Any, batch_id: str, label: str, path: Path, ctx: ParseContext) -> list[str]:
    """after_load: the cards the page's (landed) people list, with their validity periods."""
    rows = [
        (person.person_key, card.card_key, card.valid_from, card.valid_to, None)
        for item in _people(path, ctx)
        if not isinstance(item, Rejected)
        for person in (item[1],)
        for card in person.cards
    ]
    write_cards(conn, batch_id, label, rows)
    return []
