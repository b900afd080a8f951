"""The campus landing suites on a real PostgreSQL: a clean sync passes; unique identifiers, valid
enumerations, plausible years, org units that exist and card periods that do not overlap for one
person are each caught, readably, without printing an identifier."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from expectations import validate_landing
from ingest.campus.tables import CAMPUS_CARDS, CAMPUS_PERSON_RECORDS, CAMPUS_UNITS, FOLIO_USERS
from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY
from tests.test_expectations import land

pytestmark = pytest.mark.integration
AS_OF = datetime(2025, 12, 1, tzinfo=UTC)
pseudonym = Pseudonymiser(TEST_KEY).pseudonym


def person(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "hub": "h",
        "updated_at": datetime(2025, 9, 1, tzinfo=UTC),
        "deleted": False,
        "person_key": pseudonym("person", f"S{n}"),
        "card_key": pseudonym("card", f"C{n}"),
        "person_type": "student",
        "college_code": "CS",
        "major_code": "CS01",
        "degree_level": "bachelor",
        "entry_year": 2023,
        "expected_graduation_year": 2027,
        "enrollment_status": "enrolled",
        "consent_profiling": True,
        "consent_ranking": False,
        **fields,
    }


def card(n: int, number: str, start: datetime, end: datetime | None = None) -> dict[str, Any]:
    return {
        "person_key": pseudonym("person", f"S{n}"),
        "card_key": pseudonym("card", number),
        "valid_from": start,
        "valid_to": end,
        "observed_at": datetime(2025, 9, 1, tzinfo=UTC),
    }


def land_with(conn: psycopg.Connection, people: list[dict], cards: list[dict]) -> str:
    """Person records, their cards (same batch, as after_load writes them) and the hub's units."""
    batch = land(conn, CAMPUS_PERSON_RECORDS, people)
    conn.execute(CAMPUS_CARDS.ddl())
    for line, row in enumerate(cards, start=1):
        conn.execute(
            "insert into raw.campus_cards (batch_id, source_file, source_line, person_key, card_key, "
            "valid_from, valid_to, observed_at) values (%s, 'sync', %s, %s, %s, %s, %s, %s)",
            (
                batch,
                line,
                row["person_key"],
                row["card_key"],
                row["valid_from"],
                row["valid_to"],
                row["observed_at"],
            ),
        )
    return batch


@pytest.fixture
def units(conn: psycopg.Connection) -> None:
    land(
        conn,
        CAMPUS_UNITS,
        [
            {"hub": "h", "kind": "org_unit", "code": "CS", "deleted": False},
            {"hub": "h", "kind": "major", "code": "CS01", "parent_code": "CS", "deleted": False},
        ],
    )


SEPT = datetime(2023, 9, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 10, tzinfo=UTC)


def test_a_clean_sync_passes(conn: psycopg.Connection, warehouse_url: str, units: None) -> None:
    batch = land_with(
        conn,
        [
            person(1),
            person(2),
            {"hub": "h", "updated_at": AS_OF, "deleted": True, "person_key": pseudonym("person", "S3")},
        ],
        [card(1, "OLD", SEPT, APRIL), card(1, "C1", APRIL), card(2, "C2", SEPT)],
    )
    users = land(
        conn, FOLIO_USERS, [{"patron_key": pseudonym("patron", "u1"), "card_key": pseudonym("card", "C1")}]
    )
    report = validate_landing(
        warehouse_url, ["campus_person_records", "folio_users"], [batch, users], as_of=AS_OF
    )
    assert report.success, report.summary()


def test_each_campus_rule_is_caught(conn: psycopg.Connection, warehouse_url: str, units: None) -> None:
    batch = land_with(
        conn,
        [
            person(1),
            person(1),  # the same record twice in one sync
            person(2, college_code="XX", person_type="alien"),  # no such org unit, no such type
            person(3, entry_year=2026, expected_graduation_year=2022),  # graduates before entering
            person(4, person_type=None),  # a live record without a type
            person(5, major_code="ZZ99", class_code=None),
        ],
        [
            card(1, "A", SEPT, None),
            card(1, "B", APRIL, None),  # two cards valid at once for one person
            card(2, "A", SEPT, None),  # card A given to two people at once
        ],
    )
    report = validate_landing(warehouse_url, ["campus_person_records"], [batch], as_of=AS_OF)
    failed = sorted(f.why for f in report.failures)
    assert failed == sorted(
        [
            "a record repeated across pages of a sync lands once",
            "person_type is an enumeration",
            "college_code names a college or office the campus API lists",
            "major_code names a major the campus API lists",
            "a student graduates no earlier than they enter",
            "a live person record has a type and consent flags (only tombstones lack them)",
            "the cards one person record lists have validity periods that do not overlap",
            "a card belongs to one person at a time",
        ]
    )
    summary = report.summary()
    for n in range(1, 6):
        assert pseudonym("person", f"S{n}") not in summary
