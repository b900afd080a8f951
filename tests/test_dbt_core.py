"""The warehouse core (staging, identity, loans) and user_persona, on a hand-made small library.

Raw rows are written with SQL (the parsers have their own tests); dbt builds the models and runs
their tests and unit tests; the marts are then compared with values worked out by hand below.
Both ILSs are loaded at once, and the roster, Koha events, FOLIO loans and items each arrive in two
overlapping loads, so the latest-load and deduplication rules are exercised too.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
import psycopg
import pytest
from hypothesis import given, settings
from psycopg import sql
from psycopg.rows import dict_row

from ingest.campus.tables import CAMPUS_PEOPLE
from ingest.circulation.tables import FOLIO_LOANS, ILS_ITEMS, KOHA_STATISTICS
from ingest.model import RawTable
from tests.conftest import empty_landing
from urm.platform.dbt import run_dbt

pytestmark = pytest.mark.integration

PERSONA_WINDOW_DAYS = 365
LIBRARY_TZ = "Asia/Shanghai"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class RawWriter:
    """Writes raw rows as the loader does: batch id, file name, line numbers, a load log row."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def load(
        self, table: RawTable, rows: Sequence[Mapping[str, Any]], *, loaded_at: str, file: str
    ) -> uuid.UUID:
        batch_id = uuid.uuid4()
        columns = ["batch_id", "source_file", "source_line", *table.column_names]
        statement = sql.SQL("insert into raw.{} ({}) values ({})").format(
            sql.Identifier(table.name),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        with self.conn.cursor() as cur:
            cur.executemany(
                statement,
                [
                    (batch_id, file, line, *(row.get(name) for name in table.column_names))
                    for line, row in enumerate(rows, start=1)
                ],
            )
        self.conn.execute(
            "insert into raw.load_log (batch_id, source, format, target_table, source_file, "
            "checksum, rows_loaded, rows_quarantined, started_at, finished_at, status) "
            "values (%s, 'test', 'test', %s, %s, %s, %s, 0, %s, %s, 'loaded')",
            (batch_id, table.name, file, uuid.uuid4().hex, len(rows), ts(loaded_at), ts(loaded_at)),
        )
        return batch_id


def person(key: str, person_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "person_key": f"person-{key}",
        "person_type": person_type,
        "snapshot_date": date(2024, 10, 15),
        "consent_profiling": True,
        "consent_ranking": False,
        **fields,
    }


def student(key: str, degree: str, entry: int, graduation: int, **fields: Any) -> dict[str, Any]:
    return person(
        key,
        "student",
        degree_level=degree,
        entry_year=entry,
        expected_graduation_year=graduation,
        enrollment_status="enrolled",
        **fields,
    )


def koha(at: str, event_type: str, item: str, patron: str | None) -> dict[str, Any]:
    return {
        "event_at": ts(at),
        "type": event_type,
        "itemnumber": item,
        "patron_key": patron,
        "branch": "MAIN",
        "value": 0,
    }


def write_small_library(raw: RawWriter) -> None:
    # An older snapshot, then the current one's file loaded twice under the same name: the second
    # (corrected) load replaces the first, so the ghost of the first load and the old snapshot's
    # college must not show.
    raw.load(
        CAMPUS_PEOPLE,
        [
            student(
                "alice",
                "bachelor",
                2024,
                2028,
                college_name="History",
                snapshot_date=date(2024, 9, 1),
            )
        ],
        loaded_at="2024-09-02T00:00:00",
        file="roster-0901.json",
    )
    raw.load(
        CAMPUS_PEOPLE,
        [student("alice", "bachelor", 2024, 2028), person("ghost", "staff")],
        loaded_at="2024-10-16T00:00:00",
        file="roster-1015.json",
    )
    raw.load(
        CAMPUS_PEOPLE,
        [
            student(
                "alice",
                "bachelor",
                2024,
                2028,
                college_name="Physics",
                major_name="Optics",
                koha_patron_key="k-alice",
                folio_patron_key="f-alice",
                card_key="c-alice",
            ),
            student("bob", "bachelor", 2021, 2025, college_code="LAW", koha_patron_key="k-bob"),
            person("carol", "faculty", consent_profiling=False, koha_patron_key="k-carol"),
        ],
        loaded_at="2024-10-17T00:00:00",
        file="roster-1015.json",
    )
    # the snapshot's second page (the campus API pages its roster): its people count too
    raw.load(
        CAMPUS_PEOPLE,
        [
            student("dave", "master", 2024, 2027),
            # one Koha patron id given to two people: their loans cannot be attributed
            student("erin", "bachelor", 2023, 2027, koha_patron_key="k-shared"),
            student("frank", "bachelor", 2022, 2026, koha_patron_key="k-shared"),
        ],
        loaded_at="2024-10-17T00:01:00",
        file="roster-1015-page-2.json",
    )

    items = [
        {"ils": "koha", "item_id": "1", "call_number": "I247.5/123"},
        {"ils": "koha", "item_id": "2", "call_number": "tp311.13"},
        {"ils": "koha", "item_id": "3", "call_number": "Z228"},
        {"ils": "koha", "item_id": "4", "call_number": "L123"},  # L is not a CLC class
        {"ils": "koha", "item_id": "5", "call_number": None},
        {"ils": "folio", "item_id": "fi-1", "call_number": "K825.6"},
    ]
    raw.load(ILS_ITEMS, items, loaded_at="2025-01-01T00:00:00", file="items-1.csv")
    # item 3 was reclassified; the newer record wins
    raw.load(
        ILS_ITEMS,
        [{"ils": "koha", "item_id": "3", "call_number": "O13"}],
        loaded_at="2025-03-01T00:00:00",
        file="items-2.csv",
    )

    raw.load(
        KOHA_STATISTICS,
        [
            koha("2024-01-15T09:00:00", "issue", "3", "k-bob"),  # before the persona window
            koha("2024-01-16T09:00:00", "return", "3", "k-bob"),
            koha("2025-01-10T10:00:00", "issue", "1", "k-alice"),
            koha("2025-01-20T10:00:00", "renew", "1", "k-alice"),
            koha("2025-02-01T10:00:00", "return", "1", "k-alice"),
            koha("2025-02-05T09:00:00", "issue", "2", "k-alice"),
        ],
        loaded_at="2025-02-10T00:00:00",
        file="statistics-1.csv",
    )
    raw.load(
        KOHA_STATISTICS,
        [
            # overlap with the previous export
            koha("2025-02-01T10:00:00", "return", "1", "k-alice"),
            koha("2025-02-05T09:00:00", "issue", "2", "k-alice"),
            koha("2025-02-06T11:00:00", "issue", "3", "k-bob"),
            koha("2025-03-01T11:00:00", "return", "3", "k-bob"),
            koha("2025-03-02T08:00:00", "issue", "4", "k-carol"),
            koha("2025-03-03T08:00:00", "issue", "5", None),
            # 01:30 on 5 March in the library's time zone
            koha("2025-03-04T17:30:00", "issue", "1", "k-shared"),
            koha("2025-03-05T08:00:00", "localuse", "2", "k-alice"),
        ],
        loaded_at="2025-03-06T00:00:00",
        file="statistics-2.csv",
    )

    open_l1 = {
        "loan_id": "L1",
        "patron_key": "f-alice",
        "item_id": "fi-1",
        "action": "checkedout",
        "status_name": "Open",
        "loan_at": ts("2025-03-10T12:00:00"),
        "due_at": ts("2025-04-10T12:00:00"),
        "renewal_count": None,
    }
    raw.load(FOLIO_LOANS, [open_l1], loaded_at="2025-03-11T00:00:00", file="loans-1.json")
    raw.load(
        FOLIO_LOANS,
        [
            {
                **open_l1,
                "action": "checkedin",
                "status_name": "Closed",
                "renewal_count": 1,
                "returned_at": ts("2025-03-20T15:00:00"),
            },
            {
                "loan_id": "L2",
                "patron_key": None,
                "item_id": "fi-2",
                "action": "checkedout",
                "status_name": "Open",
                "loan_at": ts("2025-03-15T08:00:00"),
            },
        ],
        loaded_at="2025-03-21T00:00:00",
        file="loans-2.json",
    )


def ensure_landing_tables(conn: psycopg.Connection) -> None:
    for table in (CAMPUS_PEOPLE, FOLIO_LOANS, KOHA_STATISTICS, ILS_ITEMS):
        conn.execute(table.ddl())


def rows_by(conn: psycopg.Connection, query: str, key: str) -> dict[Any, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return {row[key]: row for row in cur.execute(query).fetchall()}


@pytest.fixture(scope="module")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a target folder of our own: other dbt runs may be going on at the same time
    return tmp_path_factory.mktemp("dbt")


@pytest.fixture(scope="module")
def built_warehouse(warehouse_url: str, dbt_target: Path) -> Iterator[str]:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        ensure_landing_tables(conn)
        # every landing table: the campus API's records, cards, EZproxy rows... of other tests too
        empty_landing(conn)
        write_small_library(RawWriter(conn))
    work = dbt_target
    result = run_dbt(
        "build",
        "--select",
        "+user_persona",
        "+fct_loans",
        "+int_identity_links",
        "+dim_user_history",
        # only tests whose every model is built here (other marts' relationships to dim_user are not)
        "--indirect-selection",
        "cautious",
        "--vars",
        json.dumps({"persona_window_days": PERSONA_WINDOW_DAYS, "library_timezone": LIBRARY_TZ}),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    )
    assert "Completed successfully" in result.stdout
    yield warehouse_url


@pytest.fixture
def mart(built_warehouse: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(built_warehouse, autocommit=True) as conn:
        conn.execute("set time zone 'UTC'")
        yield conn


def test_dim_user_is_the_latest_load_of_the_latest_snapshot(mart: psycopg.Connection) -> None:
    users = rows_by(mart, "select * from marts.dim_user", "user_key")
    assert sorted(users) == [f"person-{n}" for n in ("alice", "bob", "carol", "dave", "erin", "frank")]
    alice = users["person-alice"]
    assert (alice["college_name"], alice["user_group"], alice["year_of_study"]) == (
        "Physics",
        "freshman",
        1,
    )
    assert users["person-bob"]["user_group"] == "graduating"
    assert users["person-dave"]["user_group"] == "postgraduate"
    assert users["person-carol"]["user_group"] == "faculty"
    assert users["person-carol"]["consent_profiling"] is False


def test_dim_user_holds_no_identifier_but_the_user_key(mart: psycopg.Connection) -> None:
    columns = {
        name
        for (name,) in mart.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'dim_user'"
        )
    }
    assert not columns & {"card_key", "login_key", "koha_patron_key", "folio_patron_key"}


def test_identity_links_drop_identifiers_shared_by_two_people(mart: psycopg.Connection) -> None:
    links = mart.execute(
        "select identifier_kind, identifier_key, user_key from intermediate.int_identity_links "
        "where user_key in ('person-alice', 'person-erin') order by 1, 2"
    ).fetchall()
    assert links == [
        ("card", "c-alice", "person-alice"),
        ("patron", "f-alice", "person-alice"),
        ("patron", "k-alice", "person-alice"),
        ("person", "person-alice", "person-alice"),
        ("person", "person-erin", "person-erin"),
    ]


def test_fct_loans_pairs_deduplicates_and_resolves_users(mart: psycopg.Connection) -> None:
    loans = mart.execute(
        "select ils, item_id, user_key, subject_class, loaned_at, returned_at, due_at, renewals, "
        "loan_date from marts.fct_loans order by loaned_at"
    ).fetchall()
    expected = [
        ("koha", "3", "person-bob", "O", "2024-01-15T09:00", "2024-01-16T09:00", None, 0),
        ("koha", "1", "person-alice", "I", "2025-01-10T10:00", "2025-02-01T10:00", None, 1),
        ("koha", "2", "person-alice", "T", "2025-02-05T09:00", None, None, 0),
        ("koha", "3", "person-bob", "O", "2025-02-06T11:00", "2025-03-01T11:00", None, 0),
        # opted-out users keep their loans in the fact table
        ("koha", "4", "person-carol", None, "2025-03-02T08:00", None, None, 0),
        ("koha", "5", None, None, "2025-03-03T08:00", None, None, 0),
        ("koha", "1", None, "I", "2025-03-04T17:30", None, None, 0),
        (
            "folio",
            "fi-1",
            "person-alice",
            "K",
            "2025-03-10T12:00",
            "2025-03-20T15:00",
            "2025-04-10T12:00",
            1,
        ),
        ("folio", "fi-2", None, None, "2025-03-15T08:00", None, None, 0),
    ]

    def at(text: str | None) -> datetime | None:
        return ts(text) if text else None

    assert loans == [
        (
            ils,
            item,
            user,
            cls,
            at(lo),
            at(ret),
            at(due),
            ren,
            ts(lo).astimezone(ZoneInfo(LIBRARY_TZ)).date(),
        )
        for ils, item, user, cls, lo, ret, due, ren in expected
    ]


def test_user_persona_counts_the_window_for_consenting_users(mart: psycopg.Connection) -> None:
    personas = rows_by(mart, "select * from marts.user_persona", "user_key")
    # carol opted out; ghost is not in the current roster
    assert sorted(personas) == [f"person-{n}" for n in ("alice", "bob", "dave", "erin", "frank")]
    summary = {
        key: (
            p["user_group"],
            p["loans_in_window"],
            p["distinct_subject_classes"],
            p["last_activity_date"],
        )
        for key, p in personas.items()
    }
    assert summary == {
        "person-alice": ("freshman", 3, 3, date(2025, 3, 20)),
        # bob's loan of January 2024 is older than 365 days before the newest loan (2025-03-15)
        "person-bob": ("graduating", 1, 1, date(2025, 3, 1)),
        "person-dave": ("postgraduate", 0, 0, None),
        "person-erin": ("lower_undergraduate", 0, 0, None),
        "person-frank": ("upper_undergraduate", 0, 0, None),
    }
    assert personas["person-alice"]["college"] == "Physics"
    assert personas["person-bob"]["college"] == "LAW"


def test_marts_contract_types(mart: psycopg.Connection) -> None:
    types = dict(
        mart.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fct_loans'"
        ).fetchall()
    )
    assert types["loaned_at"] == "timestamp with time zone"
    assert types["loan_date"] == "date"
    assert types["renewals"] == "integer"


def test_models_are_documented() -> None:
    """Every model of ours, in every folder, has a description and every column listed is
    described; mart columns are typed (contracts). The folders are found, not listed."""
    import yaml

    root = Path(__file__).resolve().parents[1] / "dbt_project" / "models"
    folders = sorted({p.parent for p in root.rglob("*.sql")})
    assert len(folders) >= 10
    for folder in folders:
        area = folder.relative_to(root).as_posix()
        sql_models = {p.stem for p in folder.glob("*.sql")}
        documented: dict[str, dict[str, Any]] = {}
        for yml in folder.glob("_*__models.yml"):
            for model in yaml.safe_load(yml.read_text())["models"]:
                documented[model["name"]] = model
        assert sql_models == set(documented), area
        for name, model in documented.items():
            assert model.get("description"), name
            for column in model.get("columns", []):
                assert column.get("description"), f"{name}.{column['name']}"
                if area.startswith("marts"):
                    assert column.get("data_type"), f"{name}.{column['name']}"
            if area.startswith("marts"):
                assert model.get("columns"), f"{name}: a mart lists every column"


# -- Koha pairing, property-based: the model's SQL against a plain replay of each item's history --

SAME_TIME_ORDER = {"return": 0, "issue": 1, "onsite_checkout": 1, "renew": 2}
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

koha_events = st.lists(
    st.tuples(
        st.sampled_from(["1", "2"]),
        st.sampled_from(["issue", "onsite_checkout", "return", "renew", "localuse"]),
        st.one_of(st.none(), st.integers(min_value=0, max_value=8)),  # minutes: ties are common
        st.sampled_from([None, "p1", "p2"]),
    ),
    max_size=14,
)


def replay_loans(events: list[tuple[str, str, str, datetime | None, str | None]]) -> set[tuple]:
    """Walk each item's events in order: an issue opens a loan, the first return closes it."""
    placed = [e for e in events if e[3] is not None and e[2] in SAME_TIME_ORDER]
    placed.sort(key=lambda e: (e[1], e[3], SAME_TIME_ORDER[e[2]], e[0]))
    loans: dict[str, dict[str, Any]] = {}
    current: dict[str, dict[str, Any] | None] = {}
    for key, item, event_type, at, patron in placed:
        loan = current.get(item)
        if event_type in ("issue", "onsite_checkout"):
            loan = {"item": item, "patron": patron, "at": at, "returned": None, "renewals": 0}
            loans[hashlib.md5(f"koha|{key}".encode()).hexdigest()] = loan
            current[item] = loan
        elif loan is not None and loan["returned"] is None:
            if event_type == "return":
                loan["returned"] = at
            else:
                loan["renewals"] += 1
    return {(k, v["item"], v["patron"], v["at"], v["returned"], v["renewals"]) for k, v in loans.items()}


@pytest.fixture(scope="module")
def pairing_sql(built_warehouse: str, dbt_target: Path) -> Iterator[tuple[psycopg.Connection, str]]:
    compiled = next((dbt_target / "target" / "compiled").rglob("int_koha_loans_paired_from_events.sql"))
    query = re.sub(
        r'"[^"]+"\."intermediate"\."int_koha_events_deduplicated"',
        "pg_temp.koha_events",
        compiled.read_text(),
    )
    assert "pg_temp.koha_events" in query
    with psycopg.connect(built_warehouse, autocommit=True) as conn:
        conn.execute(
            "create temporary table koha_events (event_key text, item_id text, "
            "patron_key text, event_type text, event_at timestamptz, card_key text)"
        )
        yield conn, query


@settings(max_examples=150, deadline=None)
@given(generated=koha_events)
def test_koha_pairing_matches_a_replay_of_each_item(
    pairing_sql: tuple[psycopg.Connection, str], generated: list[tuple]
) -> None:
    conn, query = pairing_sql
    events = [
        (
            f"e{n:03d}",
            item,
            event_type,
            None if minute is None else EPOCH + timedelta(minutes=minute),
            patron,
        )
        for n, (item, event_type, minute, patron) in enumerate(generated)
    ]
    conn.execute("truncate koha_events")
    if events:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into koha_events values (%s, %s, %s, %s, %s)",
                [(k, i, p, t, at) for k, i, t, at, p in events],
            )
    rows = conn.execute(
        f"select loan_key, item_id, patron_key, loaned_at, returned_at, renewals from ({query}) q"
    ).fetchall()
    assert set(rows) == replay_loans(events)
    assert len(rows) == len(set(rows))
