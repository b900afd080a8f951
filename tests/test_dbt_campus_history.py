"""Campus history and identity resolution in the warehouse, on crafted raw rows: a change of major
between two loans, a lost card replaced (loans on the old and the new card, and one on the old
card after its replacement), a person deleted by the campus API, a VIP, a suspension between two
e-resource sessions, an identifier of nobody. dbt builds the models (their tests included); the
marts are compared with values worked out by hand below."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from ingest.campus.tables import CAMPUS_CARDS, CAMPUS_PEOPLE, CAMPUS_PERSON_RECORDS, FOLIO_USERS
from ingest.circulation.tables import FOLIO_LOANS, ILS_ITEMS, KOHA_STATISTICS
from ingest.ezproxy.tables import EZPROXY_REQUESTS
from tests.conftest import empty_landing
from tests.test_dbt_core import RawWriter, ts
from urm.platform.dbt import run_dbt

pytestmark = pytest.mark.integration
TABLES = (
    CAMPUS_PEOPLE,
    CAMPUS_PERSON_RECORDS,
    CAMPUS_CARDS,
    FOLIO_USERS,
    KOHA_STATISTICS,
    FOLIO_LOANS,
    ILS_ITEMS,
    EZPROXY_REQUESTS,
)


def api_record(key: str, at: str, **fields: Any) -> dict[str, Any]:
    return {
        "hub": "h",
        "updated_at": ts(at),
        "deleted": False,
        "person_key": f"person-{key}",
        "consent_profiling": True,
        "consent_ranking": False,
        **fields,
    }


def student(key: str, at: str, **fields: Any) -> dict[str, Any]:
    defaults = {
        "person_type": "student",
        "college_code": "CS",
        "degree_level": "bachelor",
        "entry_year": 2023,
        "expected_graduation_year": 2027,
        "enrollment_status": "enrolled",
    }
    return api_record(key, at, **{**defaults, **fields})


def issue(at: str, item: str, *, patron: str | None = None, card: str | None = None) -> dict[str, Any]:
    return {"event_at": ts(at), "type": "issue", "itemnumber": item, "patron_key": patron, "card_key": card}


def request(at: str, login: str) -> dict[str, Any]:
    return {
        "requested_at": ts(at),
        "login_key": login,
        "method": "GET",
        "site_host": "www.sciencedirect.com",
        "url_path": "/science/article/pii/1",
        "http_status": 200,
    }


def write_campus_history(raw: RawWriter) -> None:
    # First sync: everyone as they were in August 2024.
    raw.load(
        CAMPUS_PERSON_RECORDS,
        [
            # ann borrows with her card only (the export names no patron id)
            student("ann", "2024-08-20T00:00:00", major_code="M1", card_key="c-ann-1", login_key="l-ann"),
            api_record(
                "bob",
                "2024-08-01T00:00:00",
                person_type="staff",
                college_code="LIB",
                enrollment_status="active",
                koha_patron_key="k-bob",
                roles=["principal_investigator"],
            ),
            student("cat", "2024-08-01T00:00:00", major_code="M3", class_code="CS2023-1", login_key="l-cat"),
        ],
        loaded_at="2024-08-21T00:00:00",
        file="sync-1.jsonl",
    )
    raw.load(
        CAMPUS_CARDS,
        [{"person_key": "person-ann", "card_key": "c-ann-1", "valid_from": ts("2023-09-01T00:00:00")}],
        loaded_at="2024-08-21T00:00:00",
        file="sync-1.jsonl",
    )
    # Later syncs: ann changes major, then loses her card; cat is suspended and changes class; bob
    # leaves the hub. The second sync's records are delivered twice (two overlapping syncs).
    later = [
        student(
            "cat",
            "2025-02-01T00:00:00",
            major_code="M3",
            class_code="CS2023-2",
            login_key="l-cat",
            enrollment_status="suspended",
        ),
        student("ann", "2025-03-01T00:00:00", major_code="M2", card_key="c-ann-1", login_key="l-ann"),
    ]
    raw.load(CAMPUS_PERSON_RECORDS, later, loaded_at="2025-03-02T00:00:00", file="sync-2.jsonl")
    raw.load(CAMPUS_PERSON_RECORDS, later, loaded_at="2025-03-03T00:00:00", file="sync-3.jsonl")
    raw.load(
        CAMPUS_PERSON_RECORDS,
        [
            student("ann", "2025-04-10T00:00:00", major_code="M2", card_key="c-ann-2", login_key="l-ann"),
            {
                "hub": "h",
                "updated_at": ts("2025-06-01T00:00:00"),
                "deleted": True,
                "person_key": "person-bob",
            },
        ],
        loaded_at="2025-06-02T00:00:00",
        file="sync-4.jsonl",
    )
    raw.load(
        CAMPUS_CARDS,
        [
            {
                "person_key": "person-ann",
                "card_key": "c-ann-1",
                "valid_from": ts("2023-09-01T00:00:00"),
                "valid_to": ts("2025-04-10T00:00:00"),
                "observed_at": ts("2025-04-10T00:00:00"),
            },
            {
                "person_key": "person-ann",
                "card_key": "c-ann-2",
                "valid_from": ts("2025-04-10T00:00:00"),
                "observed_at": ts("2025-04-10T00:00:00"),
            },
        ],
        loaded_at="2025-06-02T00:00:00",
        file="sync-4.jsonl",
    )
    raw.load(
        KOHA_STATISTICS,
        [
            issue("2024-10-10T02:00:00", "1", card="c-ann-1"),  # first year of her major M1
            issue("2025-01-10T02:00:00", "2", patron="k-bob"),
            issue("2025-03-15T02:00:00", "3", card="c-ann-1"),  # after the change of major
            issue("2025-05-01T02:00:00", "4", card="c-ann-1"),  # the lost card, after its replacement
            issue("2025-05-02T02:00:00", "5", patron="k-ghost"),  # nobody's
            issue("2025-09-15T02:00:00", "6", card="c-ann-2"),  # the new card, the next academic year
        ],
        loaded_at="2025-09-16T00:00:00",
        file="statistics.csv",
    )
    raw.load(
        EZPROXY_REQUESTS,
        [request("2025-01-15T02:00:00", "l-cat"), request("2025-02-10T02:00:00", "l-cat")],
        loaded_at="2025-02-11T00:00:00",
        file="ezproxy.log",
    )


@pytest.fixture(scope="module")
def history(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("dbt-campus")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(table.ddl())
        empty_landing(conn)
        write_campus_history(RawWriter(conn))
    result = run_dbt(
        "build",
        "--select",
        "+fct_loans",
        "+fct_eresource_sessions",
        "+dim_user",
        "+dim_user_history",
        "+identity_resolution_monthly",
        "--indirect-selection",
        "cautious",
        "--vars",
        json.dumps({"library_timezone": "Asia/Shanghai"}),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    )
    assert "Completed successfully" in result.stdout
    yield warehouse_url


@pytest.fixture
def mart(history: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(history, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("set time zone 'UTC'")
        yield conn


def test_loans_count_for_the_major_and_group_of_their_time_and_cards_resolve(
    mart: psycopg.Connection,
) -> None:
    loans = mart.execute(
        "select item_id, user_key, user_type, user_group, college_code, major_code "
        "from marts.fct_loans order by loaned_at"
    ).fetchall()
    assert [tuple(loan.values()) for loan in loans] == [
        ("1", "person-ann", "student", "lower_undergraduate", "CS", "M1"),
        ("2", "person-bob", "staff", "staff", "LIB", None),
        ("3", "person-ann", "student", "lower_undergraduate", "CS", "M2"),
        # a lost card used after its replacement resolves to nobody, and is counted below
        ("4", None, None, None, None, None),
        ("5", None, None, None, None, None),
        # the replacement card is the same person; a new academic year, a new group
        ("6", "person-ann", "student", "upper_undergraduate", "CS", "M2"),
    ]


def test_sessions_carry_the_class_of_their_time(mart: psycopg.Connection) -> None:
    sessions = mart.execute(
        "select user_key, user_group, major_code, class_code from marts.fct_eresource_sessions "
        "order by started_at"
    ).fetchall()
    assert [tuple(s.values()) for s in sessions] == [
        ("person-cat", "lower_undergraduate", "M3", "CS2023-1"),
        ("person-cat", "lower_undergraduate", "M3", "CS2023-2"),
    ]


def test_the_deleted_person_leaves_the_roster_but_keeps_a_history(mart: psycopg.Connection) -> None:
    users = {u["user_key"]: u for u in mart.execute("select * from marts.dim_user").fetchall()}
    assert sorted(users) == ["person-ann", "person-cat"]
    assert users["person-ann"]["major_code"] == "M2" and users["person-ann"]["is_vip"] is False
    assert users["person-ann"]["roster_date"] == date(2025, 6, 1)  # the newest change of anyone
    assert users["person-cat"]["enrollment_status"] == "suspended"
    bob = mart.execute("select * from marts.dim_user_history where user_key = 'person-bob'").fetchall()
    assert len(bob) == 1
    assert (bob[0]["is_vip"], bob[0]["is_current"], bob[0]["valid_to"]) == (
        True,
        False,
        datetime(2025, 6, 1, tzinfo=UTC),
    )


def test_history_periods_follow_changes_and_academic_years(mart: psycopg.Connection) -> None:
    rows = mart.execute(
        "select user_group, year_of_study, major_code, valid_from, valid_to, is_current "
        "from marts.dim_user_history where user_key = 'person-ann' order by valid_from"
    ).fetchall()
    september_2024 = datetime(2024, 8, 31, 16, tzinfo=UTC)  # 1 September, midnight in Shanghai
    assert [tuple(r.values()) for r in rows] == [
        ("freshman", 1, "M1", datetime(2024, 8, 20, tzinfo=UTC), september_2024, False),
        ("lower_undergraduate", 2, "M1", september_2024, datetime(2025, 3, 1, tzinfo=UTC), False),
        # the new card (4-10) changes nothing a mart shows: one row
        ("lower_undergraduate", 2, "M2", datetime(2025, 3, 1, tzinfo=UTC), None, True),
    ]


def test_identity_links_carry_card_validity(mart: psycopg.Connection) -> None:
    links = mart.execute(
        "select identifier_key, valid_from, valid_to from intermediate.int_identity_links "
        "where identifier_kind = 'card' and user_key = 'person-ann' order by identifier_key"
    ).fetchall()
    assert [tuple(r.values()) for r in links] == [
        ("c-ann-1", None, datetime(2025, 4, 10, tzinfo=UTC)),
        ("c-ann-2", datetime(2025, 4, 10, tzinfo=UTC), None),
    ]


def test_unresolved_identifiers_are_counted_per_source_and_month(mart: psycopg.Connection) -> None:
    rows = mart.execute("select * from marts.identity_resolution_monthly order by source, month").fetchall()
    assert [tuple(r.values()) for r in rows] == [
        ("circulation_koha", date(2024, 10, 1), 1, 0, Decimal("0.0000")),
        ("circulation_koha", date(2025, 1, 1), 1, 0, Decimal("0.0000")),
        ("circulation_koha", date(2025, 3, 1), 1, 0, Decimal("0.0000")),
        ("circulation_koha", date(2025, 5, 1), 2, 2, Decimal("1.0000")),
        ("circulation_koha", date(2025, 9, 1), 1, 0, Decimal("0.0000")),
        ("ezproxy", date(2025, 1, 1), 1, 0, Decimal("0.0000")),
        ("ezproxy", date(2025, 2, 1), 1, 0, Decimal("0.0000")),
    ]
