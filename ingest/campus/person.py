"""One campus person record, read the same way whatever brings it (roster pages, the campus API's
change records): typed, checked, pseudonymised, and minimised for the quarantine.

A record is the campus API's person: person_id, person_type, college / major ({code, name} or a
code), class, degree_level, entry_year, expected_graduation_year, enrollment_status, library
{card_number, login, koha_borrowernumber, folio_user_id}, consent {profiling, ranking}, and
optionally roles (["principal_investigator", ...]), cards ([{card_number, valid_from, valid_to}]),
updated_at and deleted. Names, e-mail, phone and national id numbers are read past.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.model import ParseContext
from ingest.values import optional_int, parse_instant

PERSON_TYPES = {"student", "faculty", "staff"}
DEGREE_LEVELS = {"bachelor", "master", "doctoral"}
ENROLLMENT_STATUSES = {"enrolled", "suspended", "graduated", "withdrawn", "active", "retired"}
DEFAULT_TIMEZONE = "Asia/Shanghai"
# Never kept, not even in the quarantine's raw text.
DIRECT_IDENTIFIERS = {"name", "email", "phone", "national_id", "library", "cards", "person_id"}
_ROLE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Bad(ValueError):
    """A field of the record that cannot be used: the quarantine's field and reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def text(record: Mapping[str, Any], field: str, *, required: bool = False) -> str | None:
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Bad(field, f"{field} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Bad(field, f"expected text, found {type(value).__name__}")
    return str(value).strip()


def choice(record: Mapping[str, Any], field: str, allowed: set[str], *, required: bool = False) -> str | None:
    value = text(record, field, required=required)
    if value is None:
        return None
    value = value.lower()
    if value not in allowed:
        raise Bad(field, f"expected one of {', '.join(sorted(allowed))}, found {value!r}")
    return value


def code_and_name(record: Mapping[str, Any], field: str) -> tuple[str | None, str | None]:
    value = record.get(field)
    if value is None:
        return None, None
    if isinstance(value, str):
        return value.strip() or None, None
    if not isinstance(value, dict):
        raise Bad(field, f"expected an object with code and name, found {type(value).__name__}")
    code = value.get("code")
    if not code:
        raise Bad(f"{field}.code", "code is required when the object is present")
    name = value.get("name") or value.get("name_en")
    if name is not None and not isinstance(name, str):
        raise Bad(f"{field}.name", f"expected text, found {type(name).__name__}")
    if isinstance(code, dict | list):
        raise Bad(f"{field}.code", f"expected text, found {type(code).__name__}")
    return str(code).strip(), name


def flag(consent: Mapping[str, Any], name: str, default: bool) -> bool:
    value = consent.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Bad(f"consent.{name}", f"expected true or false, found {value!r}")
    return value


def roles(record: Mapping[str, Any]) -> list[str] | None:
    """Role names, lower case with underscores, sorted and unique; None when the record has none."""
    value = record.get("roles")
    if value is None:
        return None
    if not isinstance(value, list):
        raise Bad("roles", f"expected a list of role names, found {type(value).__name__}")
    found = set()
    for position, role in enumerate(value):
        if isinstance(role, dict):
            role = role.get("role") or role.get("code") or role.get("name")
        if not isinstance(role, str) or not role.strip():
            raise Bad(f"roles[{position}]", f"expected a role name, found {role!r}")
        name = re.sub(r"[\s\-]+", "_", role.strip().lower())
        if not _ROLE.match(name):
            raise Bad(
                f"roles[{position}]", f"expected a role name like principal_investigator, found {role!r}"
            )
        found.add(name)
    return sorted(found)


def instant(value: Any, field: str, zone: ZoneInfo, *, end_of_day: bool = False) -> datetime | None:
    """An ISO-8601 instant, or a plain date: its start in `zone` (the start of the next day when
    `end_of_day`, so that an inclusive end date becomes an exclusive instant)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Bad(field, f"expected an ISO-8601 date or timestamp, found {value!r}")
    stripped = value.strip()
    if len(stripped) == 10:
        try:
            day = date.fromisoformat(stripped)
        except ValueError:
            raise Bad(field, f"expected a date like 2025-09-01, found {value!r}") from None
        if end_of_day:
            day += timedelta(days=1)
        return datetime.combine(day, time(), zone).astimezone(UTC)
    try:
        return parse_instant(stripped, local_zone=zone)
    except ValueError as err:
        raise Bad(field, str(err)) from None


@dataclass(frozen=True)
class Card:
    card_key: str
    valid_from: datetime | None
    valid_to: datetime | None


def cards(record: Mapping[str, Any], ctx: ParseContext, zone: ZoneInfo) -> list[Card]:
    value = record.get("cards")
    if value is None:
        return []
    if not isinstance(value, list):
        raise Bad("cards", f"expected a list of cards, found {type(value).__name__}")
    found = []
    for position, card in enumerate(value):
        where = f"cards[{position}]"
        if not isinstance(card, dict):
            raise Bad(where, f"expected a card object, found {type(card).__name__}")
        number = text(card, "card_number")
        if number is None:
            raise Bad(f"{where}.card_number", "card_number is required")
        valid_from = instant(card.get("valid_from"), f"{where}.valid_from", zone)
        valid_to = instant(card.get("valid_to"), f"{where}.valid_to", zone, end_of_day=True)
        if valid_from and valid_to and valid_to <= valid_from:
            raise Bad(f"{where}.valid_to", "valid_to is not after valid_from")
        key = ctx.pseudonymiser.pseudonym("card", number)
        assert key is not None
        found.append(Card(key, valid_from, valid_to))
    return found


@dataclass(frozen=True)
class Person:
    """A person record, typed and pseudonymised, in the column order both landing tables share."""

    person_key: str
    card_key: str | None
    login_key: str | None
    koha_patron_key: str | None
    folio_patron_key: str | None
    person_type: str | None
    college_code: str | None
    college_name: str | None
    major_code: str | None
    major_name: str | None
    class_code: str | None
    degree_level: str | None
    entry_year: int | None
    expected_graduation_year: int | None
    enrollment_status: str | None
    consent_profiling: bool | None
    consent_ranking: bool | None
    roles: list[str] | None
    cards: tuple[Card, ...] = ()

    def identifiers(self) -> tuple[Any, ...]:
        return (self.person_key, self.card_key, self.login_key, self.koha_patron_key, self.folio_patron_key)

    def attributes(self) -> tuple[Any, ...]:
        return (
            self.person_type,
            self.college_code,
            self.college_name,
            self.major_code,
            self.major_name,
            self.class_code,
            self.degree_level,
            self.entry_year,
            self.expected_graduation_year,
            self.enrollment_status,
            self.consent_profiling,
            self.consent_ranking,
        )


def timezone_of(ctx: ParseContext) -> ZoneInfo:
    return ZoneInfo(str(ctx.options.get("timezone") or DEFAULT_TIMEZONE))


def read_person(record: Any, ctx: ParseContext) -> Person:
    """The person in `record`, or Bad naming the field that cannot be used."""
    if not isinstance(record, dict):
        raise Bad("(record)", f"expected a person object, found {type(record).__name__}")
    pseudonym = ctx.pseudonymiser.pseudonym
    person_key = pseudonym("person", text(record, "person_id", required=True))
    if person_key is None:
        raise Bad("person_id", "person_id is required")
    person_type = choice(record, "person_type", PERSON_TYPES, required=True)
    college_code, college_name = code_and_name(record, "college")
    major_code, major_name = code_and_name(record, "major")
    library = record.get("library") or {}
    if not isinstance(library, dict):
        raise Bad("library", "expected an object with card_number, login, ...")
    consent = record.get("consent") or {}
    if not isinstance(consent, dict):
        raise Bad("consent", "expected an object with profiling and ranking flags")
    try:
        entry_year = optional_int(record.get("entry_year"), low=1950, high=2100)
    except ValueError as err:
        raise Bad("entry_year", str(err)) from None
    try:
        graduation_year = optional_int(record.get("expected_graduation_year"), low=1950, high=2110)
    except ValueError as err:
        raise Bad("expected_graduation_year", str(err)) from None
    return Person(
        person_key=person_key,
        card_key=pseudonym("card", text(library, "card_number")),
        login_key=pseudonym("login", text(library, "login")),
        koha_patron_key=pseudonym("patron", text(library, "koha_borrowernumber")),
        folio_patron_key=pseudonym("patron", text(library, "folio_user_id")),
        person_type=person_type,
        college_code=college_code,
        college_name=college_name,
        major_code=major_code,
        major_name=major_name,
        class_code=text(record, "class"),
        degree_level=choice(record, "degree_level", DEGREE_LEVELS),
        entry_year=entry_year,
        expected_graduation_year=graduation_year,
        enrollment_status=choice(record, "enrollment_status", ENROLLMENT_STATUSES),
        # Profiling is opt-out (absent = not opted out); rankings are opt-in (absent = no).
        consent_profiling=flag(consent, "profiling", True),
        consent_ranking=flag(consent, "ranking", False),
        roles=roles(record),
        cards=tuple(cards(record, ctx, timezone_of(ctx))),
    )


def read_tombstone(record: Mapping[str, Any], ctx: ParseContext) -> Person:
    person_key = ctx.pseudonymiser.pseudonym("person", text(record, "person_id", required=True))
    if person_key is None:
        raise Bad("person_id", "person_id is required")
    return Person(person_key, *([None] * 17))  # type: ignore[arg-type]


def minimised(record: Any, ctx: ParseContext) -> str:
    """The raw record for the quarantine, without the direct identifiers it must never keep; the
    person id comes back as its pseudonym (person_key), so that a repair can find the person."""
    if not isinstance(record, dict):
        return "(not an object)" if record is not None else ""
    kept: dict[str, Any] = {}
    person_id = record.get("person_id")
    if isinstance(person_id, (str, int)) and not isinstance(person_id, bool):
        kept["person_key"] = ctx.pseudonymiser.pseudonym("person", str(person_id))
    kept.update({k: v for k, v in record.items() if k not in DIRECT_IDENTIFIERS})
    return json.dumps(kept, ensure_ascii=False, default=str)[:2000]
