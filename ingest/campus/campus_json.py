"""Campus roster pages as the campus data platform's API returns them (format `campus-json`).

A page: {"page", "page_size", "total", "next", "snapshot_date", "data": [PERSON, ...]}. Names,
e-mail, phone and national id numbers are read past and never land (data minimisation); the
person id and the library identifiers land only as pseudonyms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ingest.errors import FileRefused
from ingest.jsonrecords import iter_records, page_header
from ingest.model import ParseContext, ParsedItem, Rejected
from ingest.values import optional_int, parse_date

PERSON_TYPES = {"student", "faculty", "staff"}
DEGREE_LEVELS = {"bachelor", "master", "doctoral"}
ENROLLMENT_STATUSES = {"enrolled", "suspended", "graduated", "withdrawn", "active", "retired"}


class _Bad(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _text(record: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Bad(field, f"{field} is required")
        return None
    if not isinstance(value, (str, int)):
        raise _Bad(field, f"expected text, found {type(value).__name__}")
    return str(value).strip()


def _choice(record: dict[str, Any], field: str, allowed: set[str], *, required: bool = False) -> str | None:
    value = _text(record, field, required=required)
    if value is None:
        return None
    value = value.lower()
    if value not in allowed:
        raise _Bad(field, f"expected one of {', '.join(sorted(allowed))}, found {value!r}")
    return value


def _code_and_name(record: dict[str, Any], field: str) -> tuple[str | None, str | None]:
    value = record.get(field)
    if value is None:
        return None, None
    if isinstance(value, str):
        return value.strip() or None, None
    if not isinstance(value, dict):
        raise _Bad(field, f"expected an object with code and name, found {type(value).__name__}")
    code = value.get("code")
    if not code or not isinstance(code, (str, int)):
        raise _Bad(f"{field}.code", "code is required (as text) when the object is present")
    name = value.get("name") or value.get("name_en")
    if name is not None and not isinstance(name, (str, int)):
        raise _Bad(f"{field}.name", f"expected text, found {type(name).__name__}")
    return str(code).strip(), str(name) if name is not None else None


def _flag(consent: dict[str, Any], name: str, default: bool) -> bool:
    value = consent.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _Bad(f"consent.{name}", f"expected true or false, found {value!r}")
    return value


def _person(record: Any, snapshot: date, ctx: ParseContext) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise _Bad("(record)", f"expected a person object, found {type(record).__name__}")
    pseudonym = ctx.pseudonymiser.pseudonym
    person_id = _text(record, "person_id", required=True)
    person_type = _choice(record, "person_type", PERSON_TYPES, required=True)
    college_code, college_name = _code_and_name(record, "college")
    major_code, major_name = _code_and_name(record, "major")
    library = record.get("library") or {}
    if not isinstance(library, dict):
        raise _Bad("library", "expected an object with card_number, login, ...")
    consent = record.get("consent") or {}
    if not isinstance(consent, dict):
        raise _Bad("consent", "expected an object with profiling and ranking flags")
    try:
        entry_year = optional_int(record.get("entry_year"), low=1950, high=2100)
    except ValueError as err:
        raise _Bad("entry_year", str(err)) from None
    try:
        graduation_year = optional_int(record.get("expected_graduation_year"), low=1950, high=2110)
    except ValueError as err:
        raise _Bad("expected_graduation_year", str(err)) from None
    return (
        snapshot,
        pseudonym("person", person_id),
        pseudonym("card", _text(library, "card_number")),
        pseudonym("login", _text(library, "login")),
        pseudonym("patron", _text(library, "koha_borrowernumber")),
        pseudonym("patron", _text(library, "folio_user_id")),
        person_type,
        college_code,
        college_name,
        major_code,
        major_name,
        _text(record, "class"),
        _choice(record, "degree_level", DEGREE_LEVELS),
        entry_year,
        graduation_year,
        _choice(record, "enrollment_status", ENROLLMENT_STATUSES),
        # Profiling is opt-out (absent = not opted out); rankings are opt-in (absent = no).
        _flag(consent, "profiling", True),
        _flag(consent, "ranking", False),
    )


def parse_campus_json(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    header = page_header(path)
    snapshot_text = ctx.options.get("snapshot_date") or header.get("snapshot_date")
    if snapshot_text is None:
        raise FileRefused(f"{path}: no snapshot_date in the page header; pass --snapshot-date YYYY-MM-DD")
    try:
        snapshot = parse_date(str(snapshot_text))
    except ValueError as err:
        raise FileRefused(f"{path}: snapshot_date: {err}; pass --snapshot-date YYYY-MM-DD") from None
    for line, record in iter_records(path, ("data",)):
        if isinstance(record, json.JSONDecodeError):
            yield Rejected(line, "(json)", f"not valid JSON from here on: {record.msg}", "")
            continue
        try:
            yield line, _person(record, snapshot, ctx)
        except _Bad as bad:
            yield Rejected(line, bad.field, str(bad), _minimised(record))


def _minimised(record: Any) -> str:
    """The raw record for the quarantine, without the direct identifiers it must never keep."""
    if not isinstance(record, dict):
        return json.dumps(record, ensure_ascii=False)[:2000]
    kept = {k: v for k, v in record.items() if k not in {"name", "email", "phone", "national_id", "library"}}
    return json.dumps(kept, ensure_ascii=False)[:2000]
