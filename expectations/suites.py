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

from ingest.campus.tables import CAMPUS_PEOPLE, CAMPUS_PERSON_RECORDS, FOLIO_USERS
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
            *_plausible_years(),
            *_units_exist(same_hub=False),
            *_cards_of_batch(),
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


# --- campus data (roster snapshots, the campus API's records, FOLIO users) ------------------------
# Checks that span rows or tables are SQL (UnexpectedRowsExpectation): {batch} is the batch(es)
# under validation; the cards and units a sync wrote carry the same batch id as its person records.
# GX aliases {batch} itself unless the query has a join; queries that need their own alias for it
# therefore join (and alias it), the others name no alias.
MAX_PROGRAMME_YEARS = 12


def _unexpected(query: str, why: str) -> Expectation:
    return _noted(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query), why)


def _plausible_years() -> list[Expectation]:
    return [
        _noted(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="expected_graduation_year",
                column_B="entry_year",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
            "a student graduates no earlier than they enter",
        ),
        _unexpected(
            f"select * from {{batch}} where expected_graduation_year - entry_year > {MAX_PROGRAMME_YEARS}",
            f"no programme lasts more than {MAX_PROGRAMME_YEARS} years",
        ),
    ]


def _cards_of_batch() -> list[Expectation]:
    # {batch} selects the person rows under validation; their batch ids select the cards.
    batches = "(select distinct batch_rows.batch_id from {batch} as batch_rows)"
    return [
        _unexpected(
            "select one.person_key from raw.campus_cards as one join raw.campus_cards as other "
            "on one.batch_id = other.batch_id and one.person_key = other.person_key "
            "and one.observed_at is not distinct from other.observed_at "
            "and one.card_key <> other.card_key "
            "and tstzrange(one.valid_from, one.valid_to) && tstzrange(other.valid_from, other.valid_to) "
            f"where one.batch_id in {batches}",
            "the cards one person record lists have validity periods that do not overlap",
        ),
        _unexpected(
            "select one.card_key from raw.campus_cards as one join raw.campus_cards as other "
            "on one.batch_id = other.batch_id and one.card_key = other.card_key "
            "and one.person_key <> other.person_key "
            "and tstzrange(one.valid_from, one.valid_to) && tstzrange(other.valid_from, other.valid_to) "
            f"where one.batch_id in {batches}",
            "a card belongs to one person at a time",
        ),
        _unexpected(
            f"select cards.card_key from raw.campus_cards as cards join {batches} as batches "
            "on batches.batch_id = cards.batch_id "
            "where cards.valid_to is not null and cards.valid_from is not null "
            "and cards.valid_to <= cards.valid_from",
            "a card's validity ends after it begins",
        ),
    ]


def _units_exist(same_hub: bool) -> list[Expectation]:
    """Codes a person row names exist among the units the campus API listed (checked when the
    hub has listed units of that kind: roster pages alone bring none)."""
    checks = []
    for column, kind, label in (
        ("college_code", "org_unit", "college or office"),
        ("major_code", "major", "major"),
        ("class_code", "class", "class"),
    ):
        hub = " and {alias}.hub = b.hub" if same_hub else ""
        checks.append(
            _unexpected(
                f"select b.{column} from {{batch}} as b left join raw.campus_units as u "
                f"on u.kind = '{kind}' and u.code = b.{column}{hub.format(alias='u')} "
                f"where b.{column} is not null and u.code is null and exists "
                f"(select 1 from raw.campus_units as k where k.kind = '{kind}'{hub.format(alias='k')})",
                f"{column} names a {label} the campus API lists",
            )
        )
    return checks


def campus_person_records_suite(as_of: datetime) -> ExpectationSuite:
    return ExpectationSuite(
        name="landing.campus_person_records",
        expectations=[
            *_shape_and_volume(CAMPUS_PERSON_RECORDS),
            *_not_null("hub", "updated_at", "deleted", "person_key"),
            *_pseudonyms("person_key", "card_key", "login_key", "koha_patron_key", "folio_patron_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(
                    column_list=["batch_id", "person_key", "updated_at"], meta={REDACT: True}
                ),
                "a record repeated across pages of a sync lands once",
            ),
            _unexpected(
                "select person_key from {batch} where not deleted and "
                "(person_type is null or consent_profiling is null or consent_ranking is null)",
                "a live person record has a type and consent flags (only tombstones lack them)",
            ),
            _one_of("person_type", PERSON_TYPES),
            _one_of("degree_level", DEGREE_LEVELS),
            _one_of("enrollment_status", ENROLLMENT_STATUSES),
            _not_in_future("updated_at", as_of, EARLIEST_EVENT),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(
                    column="entry_year", min_value=EARLIEST_YEAR, max_value=as_of.year + 1
                ),
                "entry_year is a calendar year, at most next year's intake",
            ),
            *_plausible_years(),
            *_units_exist(same_hub=True),
            *_cards_of_batch(),
        ],
    )


def folio_users_suite(as_of: datetime) -> ExpectationSuite:
    return ExpectationSuite(
        name="landing.folio_users",
        expectations=[
            *_shape_and_volume(FOLIO_USERS),
            *_not_null("patron_key"),
            *_pseudonyms("patron_key", "card_key", "login_key", "person_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(
                    column_list=["batch_id", "patron_key"], meta={REDACT: True}
                ),
                "an export lists each user once",
            ),
            _not_in_future("updated_at", as_of, EARLIEST_EVENT),
        ],
    )


LANDING_SUITES: dict[str, Callable[[datetime], ExpectationSuite]] = {
    "campus_people": campus_people_suite,
    "koha_statistics": koha_statistics_suite,
    "folio_loans": folio_loans_suite,
    "ils_items": ils_items_suite,
}
LANDING_SUITES["campus_person_records"] = campus_person_records_suite
LANDING_SUITES["folio_users"] = folio_users_suite


# -- the entrance gates ----------------------------------------------------------------------------

GATE_DIRECTIONS = ["in", "out"]
GATE_RESULTS = ["granted", "denied"]
COUNTER_READING_STATUSES = ["ok", "missing", "broken", "closed"]
COUNTER_LAYOUTS = ["two-block", "sum-columns", "polled-totals"]
# A cumulative counter shows at most 7 digits in practice; a reading beyond this is a misparse.
PLAUSIBLE_READING = 10**9
# No door lets 100,000 people through in one interval (a day, for polled totals).
PLAUSIBLE_INTERVAL_COUNT = 100_000


def known_gates() -> list[str]:
    """The turnstiles of the gate_devices seed: swipes at any other gate belong to no site."""
    import csv
    from pathlib import Path

    seed = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "gate_devices.csv"
    with open(seed, newline="", encoding="utf-8") as handle:
        return sorted(r["device_id"] for r in csv.DictReader(handle) if r["device_kind"] == "turnstile")


def _no_rows(query: str, why: str) -> Expectation:
    return _noted(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query, meta={REDACT: True}), why)


def gate_passages_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.gate.tables import GATE_PASSAGES

    return ExpectationSuite(
        name="landing.gate_passages",
        expectations=[
            *_shape_and_volume(GATE_PASSAGES),
            *_not_null("gate", "direction", "result", "passed_at"),
            *_pseudonyms("card_key"),
            _one_of("direction", GATE_DIRECTIONS),
            _one_of("result", GATE_RESULTS),
            _noted(
                gxe.ExpectColumnValuesToBeInSet(column="gate", value_set=known_gates()),
                "every turnstile must be in the gate_devices seed, or its swipes belong to no site",
            ),
            _not_in_future("passed_at", as_of, EARLIEST_EVENT),
            _no_rows(
                "select * from {batch} where period_start is not null "
                "and (passed_at < period_start or passed_at >= period_end)",
                "a swipe outside the day or month its file covers: a wrong clock or a misnamed file",
            ),
        ],
    )


def gate_counter_readings_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.gate.tables import GATE_COUNTER_READINGS

    return ExpectationSuite(
        name="landing.gate_counter_readings",
        expectations=[
            *_shape_and_volume(GATE_COUNTER_READINGS),
            *_not_null("counter_id", "reading_date", "reading_status"),
            _one_of("reading_status", COUNTER_READING_STATUSES),
            _not_in_future("reading_date", as_of.date(), date(EARLIEST_EVENT.year, 1, 1)),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(column="reading", min_value=0, max_value=PLAUSIBLE_READING),
                "a cumulative reading is a count a counter can show",
            ),
            _no_rows(
                "select * from {batch} where counter_max is not null and reading > counter_max",
                "a reading above the counter's maximum",
            ),
        ],
    )


def gate_counter_intervals_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.gate.tables import GATE_COUNTER_INTERVALS

    return ExpectationSuite(
        name="landing.gate_counter_intervals",
        expectations=[
            *_shape_and_volume(GATE_COUNTER_INTERVALS),
            *_not_null("counter_id", "layout", "interval_end", "interval_status"),
            _one_of("layout", COUNTER_LAYOUTS),
            _one_of("interval_status", ["ok", "failed"]),
            _not_in_future("interval_end", as_of, EARLIEST_EVENT),
            *(
                _noted(
                    gxe.ExpectColumnValuesToBeBetween(
                        column=c, min_value=0, max_value=PLAUSIBLE_INTERVAL_COUNT
                    ),
                    "a count of people through a door in one interval",
                )
                for c in ("count_in", "count_out")
            ),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(column="record_id", min_value=0, max_value=4294967295),
                "device record ids are unsigned 32-bit numbers that wrap",
            ),
            _no_rows(
                "select * from {batch} where interval_start is not null and interval_end <= interval_start",
                "an interval that ends before it starts",
            ),
        ],
    )


LANDING_SUITES.update(
    {
        "gate_passages": gate_passages_suite,
        "gate_counter_readings": gate_counter_readings_suite,
        "gate_counter_intervals": gate_counter_intervals_suite,
    }
)


# --- the library's services (ingest.services) -----------------------------------------------
# Each factory imports its table itself: the block stays one appended piece of this file.

BOOKING_STATUSES = ["checked_in", "no_show", "cancelled"]
SPACE_TYPES = ["room", "seat"]
CONSULTATION_CHANNELS = ["desk", "chat", "email", "social_media", "phone"]
QUESTION_TYPES = ["rating", "nps", "comment"]
SUGGESTION_STATUSES = ["accepted", "declined", "pending"]
COMMENT_LANGUAGES = ["zh", "en", "mixed", "other"]


def _later_than(later: str, earlier: str, *, or_equal: bool = False) -> Expectation:
    return _noted(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=later, column_B=earlier, or_equal=or_equal, ignore_row_if="either_value_is_missing"
        ),
        f"{later} comes after {earlier}",
    )


def space_bookings_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.services.tables import SPACE_BOOKINGS

    return ExpectationSuite(
        name="landing.space_bookings",
        expectations=[
            *_shape_and_volume(SPACE_BOOKINGS),
            *_not_null("booking_id", "person_key", "space_id", "starts_at", "ends_at", "status"),
            *_pseudonyms("person_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["batch_id", "booking_id"]),
                "an export lists each booking once",
            ),
            _one_of("status", BOOKING_STATUSES),
            _one_of("space_type", SPACE_TYPES),
            _later_than("ends_at", "starts_at"),
            # a booking is made before it is used; bookings themselves may lie ahead
            _not_in_future("booked_at", as_of, EARLIEST_EVENT),
        ],
    )


def training_registrations_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.services.tables import TRAINING_REGISTRATIONS

    return ExpectationSuite(
        name="landing.training_registrations",
        expectations=[
            *_shape_and_volume(TRAINING_REGISTRATIONS),
            *_not_null("session_id", "series", "session_start"),
            *_pseudonyms("person_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["batch_id", "session_id", "person_key"]),
                "an export lists each registration once",
            ),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(column="hours", min_value=0.1, max_value=24),
                "a session lasts between minutes and a day",
            ),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(column="capacity", min_value=0, max_value=100_000),
                "capacity is a head count",
            ),
            _not_in_future("registered_at", as_of, EARLIEST_EVENT),
        ],
    )


def consultations_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.services.tables import CONSULTATIONS

    return ExpectationSuite(
        name="landing.consultations",
        expectations=[
            *_shape_and_volume(CONSULTATIONS),
            *_not_null("consultation_id", "channel", "asked_at"),
            *_pseudonyms("person_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["batch_id", "consultation_id"]),
                "an export lists each question once",
            ),
            _one_of("channel", CONSULTATION_CHANNELS),
            _not_in_future("asked_at", as_of, EARLIEST_EVENT),
            _not_in_future("answered_at", as_of, EARLIEST_EVENT),
            _later_than("answered_at", "asked_at", or_equal=True),
        ],
    )


def feedback_responses_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.services.tables import FEEDBACK_RESPONSES

    return ExpectationSuite(
        name="landing.feedback_responses",
        expectations=[
            *_shape_and_volume(FEEDBACK_RESPONSES),
            *_not_null("response_id", "submitted_at", "question", "question_type"),
            *_pseudonyms("person_key"),
            _noted(
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["batch_id", "response_id", "question"]),
                "a response answers each question once",
            ),
            _one_of("question_type", QUESTION_TYPES),
            _one_of("suggestion_status", SUGGESTION_STATUSES),
            _one_of("comment_language", COMMENT_LANGUAGES),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=10),
                "ratings are 1-5, recommendation scores 0-10",
            ),
            _not_in_future("submitted_at", as_of, EARLIEST_EVENT),
        ],
    )


def volunteer_hours_suite(as_of: datetime) -> ExpectationSuite:
    from ingest.services.tables import VOLUNTEER_HOURS

    return ExpectationSuite(
        name="landing.volunteer_hours",
        expectations=[
            *_shape_and_volume(VOLUNTEER_HOURS),
            *_not_null("person_key", "activity", "activity_date", "hours"),
            *_pseudonyms("person_key"),
            _noted(
                gxe.ExpectColumnValuesToBeBetween(column="hours", min_value=0.1, max_value=24),
                "hours of one day's volunteering",
            ),
            _not_in_future("activity_date", as_of.date(), date(EARLIEST_EVENT.year, 1, 1)),
        ],
    )


LANDING_SUITES.update(
    {
        "space_bookings": space_bookings_suite,
        "training_registrations": training_registrations_suite,
        "consultations": consultations_suite,
        "feedback_responses": feedback_responses_suite,
        "volunteer_hours": volunteer_hours_suite,
    }
)


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
