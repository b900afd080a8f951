"""End to end, campus: the demo syncs the synthetic university's campus data through the HTTP
connector (the local hub speaks the campus API contract), and the marts are checked against the
hub's change feed and the Koha files it was generated with: loans count for the major of their
time, loans on a replaced card and on its predecessor resolve to the same person, deleted people
leave the roster but keep their history, VIPs are flagged. A second sync against the same
warehouse asks only for what changed since the committed watermark."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.e2e
pseudonym = Pseudonymiser(TEST_KEY).pseudonym
LOCAL = ZoneInfo("Asia/Shanghai")
VIP_ROLES = {"principal_investigator", "academic_leader", "department_head"}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def feed(demo_run: dict) -> dict[str, list[dict]]:
    """The hub's change feed, by person, in time order."""
    by_person: dict[str, list[dict]] = defaultdict(list)
    with open(demo_run["sources"] / "campus_hub" / "persons.jsonl", encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            by_person[record["person_id"]].append(record)
    for records in by_person.values():
        records.sort(key=lambda r: instant(r["updated_at"]))
    return dict(by_person)


@pytest.fixture(scope="module")
def issues(demo_run: dict) -> list[dict]:
    rows = []
    for path in sorted((demo_run["sources"] / "circulation" / "koha").glob("statistics-*.csv")):
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        rows += [r for r in csv.DictReader(io.StringIO(text)) if r["type"] == "issue"]
    for row in rows:
        row["loaned_at"] = datetime.strptime(row["datetime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=LOCAL)
    return rows


@pytest.fixture(scope="module")
def warehouse(demo_run: dict) -> psycopg.Connection:
    with psycopg.connect(demo_run["url"], autocommit=True) as conn:
        yield conn


def state_at(records: list[dict], moment: datetime) -> dict:
    """The person's record valid at `moment` (the first one for earlier moments)."""
    live = [r for r in records if not r.get("deleted")]
    valid = [r for r in live if instant(r["updated_at"]) <= moment]
    return valid[-1] if valid else live[0]


def test_the_demo_synced_through_the_connector(warehouse: psycopg.Connection, feed: dict) -> None:
    records = sum(len(r) for r in feed.values())
    landed = warehouse.execute("select count(*) from raw.campus_person_records").fetchone()[0]
    assert landed == records
    formats = {
        f for (f,) in warehouse.execute("select distinct format from raw.load_log where source = 'campus'")
    }
    assert formats == {"campus-sync"}, "the demo loads the API, not the roster pages"
    newest = max(instant(r["updated_at"]) for rs in feed.values() for r in rs)
    hub, mark = warehouse.execute(
        "select hub, max(watermark) from raw.campus_sync_state where resource = 'persons' group by hub"
    ).fetchone()
    assert (hub, mark) == ("synthetic-university", newest)


def test_a_second_sync_asks_only_for_what_changed(
    demo_run: dict, feed: dict, warehouse: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urm_demo.campus import DEMO_HUB, hub_records
    from urm_demo.campus_server import CampusServer

    from ingest.campus.sync_file import campus_api_fetch, prepare_campus_api

    records = hub_records(demo_run["sources"])
    leaving = next(p for p, rs in sorted(feed.items()) if not rs[-1].get("deleted"))
    records["persons"].append({"person_id": leaving, "deleted": True, "updated_at": "2030-01-01T00:00:00Z"})
    with CampusServer(records) as hub:
        monkeypatch.setenv("URM_CAMPUS_CLIENT_ID", hub.client_id)
        monkeypatch.setenv("URM_CAMPUS_CLIENT_SECRET", hub.client_secret)
        options = prepare_campus_api(warehouse, hub.base_url, {"hub": DEMO_HUB, "page_size": 500})
        fetched = campus_api_fetch(hub.base_url, options, tmp_path)
        asked = hub.asked("persons")
    newest = max(instant(r["updated_at"]) for rs in feed.values() for r in rs)
    assert [r.params.get("updated_since") for r in asked] == [newest.strftime("%Y-%m-%dT%H:%M:%SZ")]
    (path,) = fetched.paths
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    assert lines == [{"resource": "persons", "record": records["persons"][-1]}]


def test_deleted_people_leave_the_roster_and_keep_their_history(
    warehouse: psycopg.Connection, feed: dict
) -> None:
    deleted = {p: instant(rs[-1]["updated_at"]) for p, rs in feed.items() if rs[-1].get("deleted")}
    assert deleted
    roster = {k for (k,) in warehouse.execute("select user_key from marts.dim_user")}
    assert roster == {pseudonym("person", p) for p, rs in feed.items() if not rs[-1].get("deleted")}
    for person, left_at in deleted.items():
        rows = warehouse.execute(
            "select valid_to, is_current from marts.dim_user_history where user_key = %s order by valid_from",
            (pseudonym("person", person),),
        ).fetchall()
        assert rows and rows[-1] == (left_at, False)


def test_loans_count_for_the_major_of_their_time(
    warehouse: psycopg.Connection, feed: dict, issues: list[dict]
) -> None:
    changed = {
        p: rs
        for p, rs in feed.items()
        if len({(r.get("major") or {}).get("code") for r in rs if not r.get("deleted")}) > 1
    }
    borrower = {rs[0]["library"]["koha_borrowernumber"]: p for p, rs in changed.items()}
    both_sides = 0
    for person, records in changed.items():
        loans = [r for r in issues if borrower.get(r["borrowernumber"]) == person]
        majors = set()
        for loan in loans:
            expected = state_at(records, loan["loaned_at"])["major"]["code"]
            found = warehouse.execute(
                "select user_key, major_code from marts.fct_loans where item_id = %s and loaned_at = %s",
                (loan["itemnumber"], loan["loaned_at"]),
            ).fetchone()
            assert found == (pseudonym("person", person), expected), (person, loan["datetime"])
            majors.add(expected)
        both_sides += len(majors) > 1
    assert both_sides >= 1, "some student borrowed both before and after changing major"


def test_loans_on_a_replaced_card_resolve_to_the_same_person(
    warehouse: psycopg.Connection, feed: dict, issues: list[dict]
) -> None:
    card_owner = {}
    for person, records in feed.items():
        cards = records[-1].get("cards") or []
        if len(cards) > 1:
            for position, card in enumerate(cards):
                card_owner[card["card_number"]] = (person, position)
    used: dict[str, set[int]] = defaultdict(set)
    for loan in issues:
        if loan["cardnumber"] not in card_owner:
            continue
        person, position = card_owner[loan["cardnumber"]]
        used[person].add(position)
        # the card alone resolves to its holder at the time of the loan (not only the patron id)
        by_card = warehouse.execute(
            "select user_key from intermediate.int_identity_links where identifier_kind = 'card' "
            "and identifier_key = %s and (valid_from is null or valid_from <= %s) "
            "and (valid_to is null or %s < valid_to)",
            (pseudonym("card", loan["cardnumber"]), loan["loaned_at"], loan["loaned_at"]),
        ).fetchall()
        assert by_card == [(pseudonym("person", person),)], loan["datetime"]
        fact = warehouse.execute(
            "select user_key from marts.fct_loans where item_id = %s and loaned_at = %s",
            (loan["itemnumber"], loan["loaned_at"]),
        ).fetchone()
        assert fact == (pseudonym("person", person),)
    assert any(positions == {0, 1} for positions in used.values()), "loans on an old and a new card"


def test_vip_readers_are_flagged(warehouse: psycopg.Connection, feed: dict) -> None:
    expected = {
        pseudonym("person", p)
        for p, rs in feed.items()
        if not rs[-1].get("deleted") and VIP_ROLES & set(rs[-1].get("roles") or [])
    }
    assert expected
    flagged = {k for (k,) in warehouse.execute("select user_key from marts.dim_user where is_vip")}
    assert flagged == expected


def test_identity_resolution_is_reported_per_source_and_month(warehouse: psycopg.Connection) -> None:
    rows = warehouse.execute(
        "select source, month, identifiers, unresolved from marts.identity_resolution_monthly"
    ).fetchall()
    sources = {r[0] for r in rows}
    assert {"circulation_koha", "ezproxy"} <= sources
    koha = [r for r in rows if r[0] == "circulation_koha"]
    # every borrower and card of the synthetic library is on its campus roster, at the right time
    assert koha and all(r[2] > 0 and r[3] == 0 for r in koha)
