"""Landing suites: one factory per raw table of the campus and circulation sources.

They guard what arrives from outside (shape, keys, enumerations, ranges, dates, volume, and that
person identifiers really are pseudonyms); dbt tests guard the warehouse's own logic. Each factory
takes `as_of`, the instant "the future" starts, so that a task can pass its data interval's end
instead of reading the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import great_expectations.expectations as gxe
from great_expectations.core import ExpectationSuite
from great_expectations.expectations import Expectation

from ingest.campus.tables import CAMPUS_PEOPLE
from ingest.circulation.tables import FOLIO_LOANS, ILS_ITEMS, KOHA_STATISTICS
from ingest.model import RawTable

# What Pseudonymiser writes: 32 lower-case hex characters. Anything else is a raw identifier
# (or a parser that forgot to pseudonymise) and must not reach the warehouse.
PSEUDONYM_REGEX = r"^[0-9a-f]{32}$"
LOADER_COLUMNS = ("batch_id", "source_file", "source_line")
# No electronic circulation record of interest predates this; earlier dates are typos.
EARLIEST_EVENT = datetime(1990, 1, 1, tzinfo=UTC)
EARLIEST_YEAR = 1950
# Meta flag: the report shows how many values failed, not which.
REDACT = "redact_values"

PERSON_TYPES = ["student", "faculty", "staff"]
DEGREE_LEVELS = ["bachelor", "master", "doctoral"]
ENROLLMENT_STATUSES = ["enrolled", "suspended", "graduated", "withdrawn", "active", "retired"]
# Koha's C4::Stats allowed types (circulation and accounts).
KOHA_EVENT_TYPES = [
    "issue",
    "return",
    "renew",
    "localuse",
    "onsite_checkout",
    "recall",
    "item_found",
    "item_lost",
    "writeoff",
    "payment",
]
ILS_NAMES = ["koha", "folio"]


def _noted(expectation: Expectation, why: str) -> Expectation:
    expectation.notes = why
    return expectation


def _shape_and_volume(table: RawTable) -> list[Expectation]:
    return [
        _noted(
            gxe.ExpectTableColumnsToMatchSet(
                column_set=[*LOADER_COLUMNS, *table.column_names], exact_match=True
            ),
            f"raw.{table.name} must have exactly the columns of ingest's RawTable",
        ),
        _noted(
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            "a load that lands no row is an empty or wrongly parsed export",
        ),
    ]


def _not_null(*columns: str) -> list[Expectation]:
    return [_noted(gxe.ExpectColumnValuesToNotBeNull(column=c), "a required field") for c in columns]


def _pseudonyms(*columns: str) -> list[Expectation]:
    # A failing value may be a real student number: reports must count it, never print it.
    return [
        _noted(
            gxe.ExpectColumnValuesToMatchRegex(column=c, regex=PSEUDONYM_REGEX, meta={REDACT: True}),
            "person identifiers must be pseudonymised at ingest",
        )
        for c in columns
    ]


def _not_in_future(column: str, as_of: datetime | date, earliest: datetime | date) -> Expectation:
    return _noted(
        gxe.ExpectColumnValuesToBeBetween(column=column, min_value=earliest, max_value=as_of),
        f"{column} may not lie in the future nor before {earliest:%Y}",
    )


def _one_of(column: str, values: list[str]) -> Expectation:
    return _noted(
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values),
        f"{column} is an enumeration",
    )


def campus_people_suite(as_of: datetime) -> ExpectationSuite:
    return ExpectationSuite(
        name="landing.campus_people",
        expectations=[
            *_shape_and_volume(CAMPUS_PEOPLE),
            *_not_null("person_key", "person_type", "snapshot_date", "consent_profiling", "consent_ranking"),
            *_pseudonyms("person_key", "card_key", "login_key", "koha_patron_key", "folio_patron_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["batch_id", "person_key"]),
                "a roster lists each person once",
            ),
            _one_of("person_type", PERSON_TYPES),
            _one_of("degree_level", DEGREE_LEVELS),
            _one_of("enrollment_status", ENROLLMENT_STATUSES),
            _not_in_future("snapshot_date", as_of.date(), date(EARLIEST_EVENT.year, 1, 1)),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(
                    column="entry_year", min_value=EARLIEST_YEAR, max_value=as_of.year + 1
                ),
                "entry_year is a calendar year, at most next year's intake",
            ),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(
                    column="expected_graduation_year",
                    min_value=EARLIEST_YEAR,
                    max_value=as_of.year + 15,
                ),
                "expected_graduation_year is a calendar year within a programme's length",
            ),
        ],
    )


def koha_statistics_suite(as_of: datetime) -> ExpectationSuite:
    return ExpectationSuite(
        name="landing.koha_statistics",
        expectations=[
            *_shape_and_volume(KOHA_STATISTICS),
            *_not_null("type"),
            *_pseudonyms("patron_key"),
            _one_of("type", KOHA_EVENT_TYPES),
            # Koha anonymises some events by clearing their datetime: nulls are allowed here.
            _not_in_future("event_at", as_of, EARLIEST_EVENT),
        ],
    )


def folio_loans_suite(as_of: datetime) -> ExpectationSuite:
    return ExpectationSuite(
        name="landing.folio_loans",
        expectations=[
            *_shape_and_volume(FOLIO_LOANS),
            *_not_null("item_id", "action", "loan_at"),
            *_pseudonyms("patron_key", "proxy_patron_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["batch_id", "loan_id"]),
                "an export lists each loan once",
            ),
            _not_in_future("loan_at", as_of, EARLIEST_EVENT),
            # due dates lie in the future by design; returns cannot
            _not_in_future("returned_at", as_of, EARLIEST_EVENT),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(column="renewal_count", min_value=0, max_value=1000),
                "renewal_count is a small whole number",
            ),
        ],
    )


def ils_items_suite(as_of: datetime) -> ExpectationSuite:
    return ExpectationSuite(
        name="landing.ils_items",
        expectations=[
            *_shape_and_volume(ILS_ITEMS),
            *_not_null("ils", "item_id"),
            _one_of("ils", ILS_NAMES),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["batch_id", "ils", "item_id"]),
                "an export lists each item once",
            ),
        ],
    )


LANDING_SUITES: dict[str, Callable[[datetime], ExpectationSuite]] = {
    "campus_people": campus_people_suite,
    "koha_statistics": koha_statistics_suite,
    "folio_loans": folio_loans_suite,
    "ils_items": ils_items_suite,
}


def evergreen_circulations_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.circulation.tables import EVERGREEN_CIRCULATIONS

    return ExpectationSuite(
        name="landing.evergreen_circulations",
        expectations=[
            *_shape_and_volume(EVERGREEN_CIRCULATIONS),
            *_not_null("circ_id", "item_id", "loan_at"),
            *_pseudonyms("patron_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["batch_id", "circ_id"]),
                "an export lists each circulation once",
            ),
            _not_in_future("loan_at", as_of, EARLIEST_EVENT),
            # due dates lie in the future by design; check-ins cannot
            _not_in_future("returned_at", as_of, EARLIEST_EVENT),
            _one_of("renewal_channel", ["desk", "phone", "opac", "auto"]),
        ],
    )


LANDING_SUITES["evergreen_circulations"] = evergreen_circulations_suite
