"""What a campus API sync writes and how it loads (format `campus-sync`), and the fetch step of
format `campus-api` that writes it.

A sync file is JSON Lines: a header {"campus_sync": 1, "hub", "resources": {persons: {updated_since,
watermark, records, pages}, ...}}, then one {"resource", "record"} a line. Its person records land in
raw.campus_person_records (the parser); in the same transaction (after_load) their cards go to
raw.campus_cards, the org units, majors and classes to raw.campus_units, and the watermarks to
raw.campus_sync_state: a watermark moves only with the data it covers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.campus.api import (
    RESOURCES,
    ApiContract,
    CampusApiClient,
    CampusCredentials,
    hub_name,
    sync,
)
from ingest.campus.cards import copy_rows, quarantine, write_cards
from ingest.campus.person import (
    Bad,
    Person,
    instant,
    minimised,
    read_person,
    read_tombstone,
    text,
    timezone_of,
)
from ingest.campus.tables import CAMPUS_SYNC_STATE, CAMPUS_UNITS
from ingest.errors import FileRefused, InvalidOption
from ingest.model import Fetched, ParseContext, ParsedItem, Rejected
from ingest.values import parse_instant

UNIT_KINDS = {"org_units": "org_unit", "majors": "major", "classes": "class"}
# The field that names a unit's parent, by kind, in the default contract.
UNIT_PARENT = {
    "org_unit": ("parent_code",),
    "major": ("college_code", "org_unit_code", "parent_code"),
    "class": ("major_code", "college_code", "parent_code"),
}


class SyncFileError(FileRefused):
    """The file is not a campus sync file."""


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, the line's JSON value), or the decoding error in its place."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                yield number, err
                continue
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                yield number, err


def read_header(path: Path) -> dict[str, Any]:
    for number, first in _lines(path):
        if isinstance(first, dict) and "campus_sync" in first:
            if not isinstance(first.get("hub"), str) or not first["hub"]:
                raise SyncFileError(f"{path}: line {number}: the header names no hub")
            return first
        break
    raise SyncFileError(
        f"{path}: line 1: not a campus sync file (expected a header line with campus_sync and hub); "
        "campus API pages saved by hand load with --format campus-json"
    )


def _records(path: Path, ctx: ParseContext) -> Iterator[tuple[int, str, Any] | Rejected]:
    header_seen = False
    for number, item in _lines(path):
        if isinstance(item, json.JSONDecodeError):
            yield Rejected(number, "(json)", f"not valid JSON: {item.msg}", "")
            continue
        if isinstance(item, UnicodeDecodeError):
            yield Rejected(number, "(encoding)", f"not valid UTF-8 at byte {item.start + 1}", "")
            continue
        if not header_seen:
            header_seen = True
            continue
        if not isinstance(item, dict) or item.get("resource") not in RESOURCES:
            yield Rejected(number, "resource", f"expected one of {', '.join(RESOURCES)}", "")
            continue
        yield number, item["resource"], item.get("record")


def _person_record(record: Any, ctx: ParseContext) -> tuple[datetime, bool, Person]:
    if not isinstance(record, dict):
        raise Bad("(record)", f"expected a person object, found {type(record).__name__}")
    try:
        updated_at = parse_instant(record.get("updated_at"))
    except ValueError as err:
        raise Bad("updated_at", str(err)) from None
    deleted = record.get("deleted", False)
    if deleted is None:
        deleted = False
    if not isinstance(deleted, bool):
        raise Bad("deleted", f"expected true or false, found {deleted!r}")
    person = read_tombstone(record, ctx) if deleted else read_person(record, ctx)
    return updated_at, deleted, person


def _persons(path: Path, ctx: ParseContext) -> Iterator[tuple[int, datetime, bool, Person] | Rejected]:
    for item in _records(path, ctx):
        if isinstance(item, Rejected):
            yield item
            continue
        line, resource, record = item
        if resource != "persons":
            continue
        try:
            updated_at, deleted, person = _person_record(record, ctx)
        except Bad as bad:
            yield Rejected(line, bad.field, str(bad), minimised(record, ctx))
            continue
        yield line, updated_at, deleted, person


def parse_campus_sync(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    hub = read_header(path)["hub"]
    for item in _persons(path, ctx):
        if isinstance(item, Rejected):
            yield item
            continue
        line, updated_at, deleted, person = item
        yield line, (hub, updated_at, deleted, *person.identifiers(), *person.attributes(), person.roles)


def _unit(kind: str, record: Any, ctx: ParseContext) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise Bad("(record)", f"expected an object, found {type(record).__name__}")
    code = text(record, "code", required=True)
    name = record.get("name") or record.get("name_en")
    parent = next((text(record, f) for f in UNIT_PARENT[kind] if record.get(f)), None)
    deleted = record.get("deleted") or False
    if not isinstance(deleted, bool):
        raise Bad("deleted", f"expected true or false, found {deleted!r}")
    updated_at = instant(record.get("updated_at"), "updated_at", timezone_of(ctx))
    unit_type = text(record, "type") or text(record, "unit_type")
    return (kind, code, str(name) if name is not None else None, parent, unit_type, updated_at, deleted)


def after_campus_sync(conn: Any, batch_id: str, label: str, path: Path, ctx: ParseContext) -> list[str]:
    """Cards of the landed persons, the units, and the watermarks, in the load's transaction."""
    header = read_header(path)
    hub = header["hub"]
    cards = [
        (person.person_key, card.card_key, card.valid_from, card.valid_to, updated_at)
        for item in _persons(path, ctx)
        if not isinstance(item, Rejected)
        for _, updated_at, _, person in (item,)
        for card in person.cards
    ]
    write_cards(conn, batch_id, label, cards)
    units: list[tuple[Any, ...]] = []
    rejected: list[Rejected] = []
    for item in _records(path, ctx):
        if isinstance(item, Rejected) or item[1] == "persons":
            continue
        line, resource, record = item
        try:
            units.append((line, hub, *_unit(UNIT_KINDS[resource], record, ctx)))
        except Bad as bad:
            rejected.append(
                Rejected(line, bad.field, str(bad), json.dumps(record, ensure_ascii=False)[:2000])
            )
    copy_rows(conn, CAMPUS_UNITS, batch_id, label, units)
    quarantine(conn, batch_id, "campus", "campus-sync", CAMPUS_UNITS.name, label, rejected)
    states = []
    for position, (resource, state) in enumerate(sorted((header.get("resources") or {}).items()), start=1):
        if resource not in RESOURCES or not isinstance(state, dict):
            continue
        since = parse_instant(state["updated_since"]) if state.get("updated_since") else None
        reached = parse_instant(state["watermark"]) if state.get("watermark") else since
        states.append(
            (
                position,
                hub,
                resource,
                since,
                reached,
                int(state.get("records") or 0),
                int(state.get("pages") or 0),
            )
        )
    copy_rows(conn, CAMPUS_SYNC_STATE, batch_id, label, states)
    warnings = [f"{len(rejected)} org unit, major or class records quarantined"] if rejected else []
    return warnings


# --- the fetch step of format campus-api ---------------------------------------------------------


def watermarks(conn: Any, hub: str) -> dict[str, datetime]:
    """The committed watermark of each resource of a hub (none before its first sync)."""
    rows = conn.execute(
        f"select resource, max(watermark) from raw.{CAMPUS_SYNC_STATE.name} where hub = %s group by resource",
        (hub,),
    ).fetchall()
    return {resource: moment for resource, moment in rows if moment is not None}


def prepare_campus_api(conn: Any, base_url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Before the fetch: read the hub's committed watermarks (unless --full-sync). The hub's name
    and contract come from the options, else from URM_CAMPUS_HUB / URM_CAMPUS_API_CONTRACT."""
    prepared = dict(options)
    if not prepared.get("contract") and os.environ.get("URM_CAMPUS_API_CONTRACT"):
        prepared["contract"] = os.environ["URM_CAMPUS_API_CONTRACT"]
    hub = str(options.get("hub") or os.environ.get("URM_CAMPUS_HUB") or hub_name(base_url))
    prepared["hub"] = hub
    prepared["watermarks"] = {} if options.get("full_sync") else watermarks(conn, hub)
    return prepared


def campus_api_fetch(base_url: str, options: Mapping[str, Any], landing: Path) -> Fetched:
    """Sync the campus API into one landing file (nothing when nothing changed), to be loaded
    as campus-sync."""
    hub = str(options.get("hub") or hub_name(base_url))
    resources = tuple(options.get("resource") or RESOURCES)
    unknown = sorted(set(resources) - set(RESOURCES))
    if unknown:
        raise InvalidOption(f"--resource {', '.join(unknown)}: choose from {', '.join(RESOURCES)}")
    contract = ApiContract.from_option(options.get("contract"))
    if options.get("pagination"):
        contract = ApiContract.from_option({**_contract_dict(contract), "pagination": options["pagination"]})
    try:
        page_size = int(options.get("page_size") or 500)
    except ValueError:
        raise InvalidOption(f"--page-size {options.get('page_size')!r} is not a whole number") from None
    client = CampusApiClient(base_url, CampusCredentials.from_env(), contract)
    marks = dict(options.get("watermarks") or {})
    since = options.get("updated_since")
    if since:
        try:
            moment = parse_instant(str(since))
        except ValueError as err:
            raise InvalidOption(f"--updated-since: {err}") from None
        marks = {resource: moment for resource in resources}
    result = sync(
        client, hub=hub, landing_dir=landing, watermarks=marks, resources=resources, page_size=page_size
    )
    paths = [result.path] if result.path else []
    return Fetched(paths, {"timezone": options.get("timezone")}, [result.describe()])


def _contract_dict(contract: ApiContract) -> dict[str, Any]:
    return {name: getattr(contract, name) for name in contract.__dataclass_fields__}
