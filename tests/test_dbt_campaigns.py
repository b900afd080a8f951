"""Reading lists, recommendations and campaigns on a hand-made small library (k = 3).

Raw rows are written with SQL, dbt builds the marts, then two campaigns run on a constructed
segment: the users' responses (loans in the campaign period) are written before the build, chosen
from the arms the pure assignment function gives, so that one campaign has a known lift and the
other none. Opted-out users are tried everywhere: in the segment, in the recommendations, in the
export of a treated group that lists them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from ingest.campus.tables import CAMPUS_PEOPLE
from ingest.circulation.tables import ILS_ITEMS, KOHA_STATISTICS
from tests.conftest import TEST_KEY, empty_landing
from tests.test_dbt_core import RawWriter, koha
from tests.test_dbt_personas import dbt, student
from urm.campaigns.assignment import arm_of
from urm.campaigns.run import run_campaign

pytestmark = pytest.mark.integration

K = 3
LIFT_SEGMENT = [f"a{n:02d}" for n in range(40)]  # Optics freshmen: the campaign with a lift
FLAT_SEGMENT = [f"b{n:02d}" for n in range(40)]  # Acoustics freshmen: the campaign without one
LAW = [f"l{n}" for n in range(8)]  # upper-year law students: reading lists and recommendations
OPTED_OUT = ["oa", "ob", "ol"]  # an Optics and an Acoustics freshman, a law student
CAMPAIGN = """
name: {name}
purpose: A test campaign.
segment:
  - {{column: user_group, op: eq, value: freshman}}
  - {{column: major, op: eq, value: {major}}}
  - {{column: stage, op: eq, value: potential}}
action: {{export: test_email_list}}
period: {{start: 2025-10-13, end: 2025-11-09}}
goal: first_loan
control_share: 0.5
"""
CONTRACT = """
consumer: test_email_list
version: 1
purpose: Test outreach.
legal_basis: Test.
owner: Tests
level: individual
sources: [user_persona]
columns: [user_key, user_group, major]
reidentification: {allowed: true, identifier: student_number}
format: csv
destination: email
schedule: on_demand
"""


def roster() -> list[dict[str, Any]]:
    people = [
        *(student(k, "Physics", "Optics", "PH2025-1", "bachelor", 2025) for k in LIFT_SEGMENT),
        *(student(k, "Physics", "Acoustics", "PH2025-2", "bachelor", 2025) for k in FLAT_SEGMENT),
        *(student(k, "Law", "Civil law", "LA2022-1", "bachelor", 2022) for k in LAW),
        student("oa", "Physics", "Optics", "PH2025-1", "bachelor", 2025, consent_profiling=False),
        student("ob", "Physics", "Acoustics", "PH2025-2", "bachelor", 2025, consent_profiling=False),
        student("ol", "Law", "Civil law", "LA2022-1", "bachelor", 2022, consent_profiling=False),
    ]
    codes = {"Optics": "OPT", "Acoustics": "ACO", "Civil law": "CIV"}
    for person in people:
        person["major_code"] = codes[person["major_name"]]
        person["college_code"] = person["college_name"][:3].upper()
    return people


def arms(name: str, keys: list[str]) -> dict[str, list[str]]:
    split: dict[str, list[str]] = {"treated": [], "control": []}
    for key in keys:
        split[arm_of(name, f"person-{key}", 0.5)].append(key)
    return split


def responders() -> dict[str, set[str]]:
    """Who borrows in the campaign period: 3/4 of the treated and 1/4 of the control group in the
    lift campaign; half of each group in the flat one (the same share, as near as integers go)."""
    lift, flat = arms("lift_test", LIFT_SEGMENT), arms("flat_test", FLAT_SEGMENT)
    chosen = {
        "lift_test": set(lift["treated"][: round(0.75 * len(lift["treated"]))])
        | set(lift["control"][: round(0.25 * len(lift["control"]))]),
        "flat_test": set(flat["treated"][: len(flat["treated"]) // 2])
        | set(flat["control"][: len(flat["control"]) // 2]),
    }
    return chosen


def circulation() -> list[dict[str, Any]]:
    events: list[dict] = []
    # law students' reading in the spring: item 1 by six distinct readers, item 2 by two,
    # item 3 by three readers, one of whom borrows it five times (loans do not rank, readers do)
    for n, key in enumerate(LAW[:6]):
        events.append(koha(f"2025-04-{10 + n:02d}T02:00:00", "issue", "1", f"k-{key}"))
    for key in LAW[:2]:
        events.append(koha("2025-05-02T02:00:00", "issue", "2", f"k-{key}"))
    for n in range(5):
        events.append(koha(f"2025-05-{10 + n:02d}T02:00:00", "issue", "3", "k-l6"))
    for key in ("l5", "l7"):
        events.append(koha("2025-05-20T02:00:00", "issue", "3", f"k-{key}"))
    events.append(koha("2025-04-01T02:00:00", "issue", "1", "k-ol"))  # opted out: still counted
    # the campaigns' period: the chosen freshmen borrow their first book
    for n, key in enumerate(sorted(set().union(*responders().values()))):
        events.append(koha(f"2025-10-{14 + n % 14:02d}T02:00:00", "issue", "4", f"k-{key}"))
    events.sort(key=lambda e: e["event_at"])
    return events


@pytest.fixture(scope="module")
def built(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    target = tmp_path_factory.mktemp("dbt-campaigns")
    folder = tmp_path_factory.mktemp("campaign-files")
    (folder / "campaigns").mkdir()
    (folder / "contracts").mkdir()
    (folder / "contracts" / "test_email_list.yml").write_text(CONTRACT)
    for name, major in (("lift_test", "Optics"), ("flat_test", "Acoustics")):
        (folder / "campaigns" / f"{name}.yml").write_text(CAMPAIGN.format(name=name, major=major))
    small = CAMPAIGN.format(name="small_test", major="Civil law").replace(
        "{column: stage, op: eq, value: potential}", "{column: loans_in_window, op: ge, value: 2}"
    )
    (folder / "campaigns" / "small_test.yml").write_text(
        small.replace("value: freshman", "value: graduating")
    )
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for table in (CAMPUS_PEOPLE, KOHA_STATISTICS, ILS_ITEMS):
            conn.execute(table.ddl())
        empty_landing(conn)
        raw = RawWriter(conn)
        people = roster()
        raw.load(CAMPUS_PEOPLE, people, loaded_at="2025-10-16T00:00:00", file="people-0001.json")
        raw.load(
            ILS_ITEMS,
            [{"ils": "koha", "item_id": str(n), "call_number": f"D9{n}/1"} for n in range(1, 5)],
            loaded_at="2025-10-16T00:00:00",
            file="items.csv",
        )
        raw.load(KOHA_STATISTICS, circulation(), loaded_at="2025-11-10T00:00:00", file="statistics.csv")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into restricted.identity (identifier_kind, identifier, identifier_key, person_key) "
                "values ('person', %s, %s, %s)",
                [(f"S2025{n:06d}", p["person_key"], p["person_key"]) for n, p in enumerate(people)],
            )
    selection = [
        "+user_persona",
        "+user_lifecycle_monthly",
        "+reading_list_by_group",
        "+reading_recommendations",
    ]
    result = dbt(
        "build", "--select", *selection, "+campaign_results", target=target, variables={"k_anonymity": K}
    )
    assert "Completed successfully" in result.stdout
    yield {"url": warehouse_url, "target": target, "folder": folder}


@pytest.fixture
def mart(built: dict[str, Any]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(built["url"], autocommit=True, row_factory=dict_row) as conn:
        yield conn


def _run(built: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch, **kw: Any):
    monkeypatch.setenv("URM_EXPORT_DIR", str(built["folder"] / "exports"))
    return run_campaign(
        name,
        url=built["url"],
        campaigns_folder=built["folder"] / "campaigns",
        contracts_folder=built["folder"] / "contracts",
        key=TEST_KEY,
        **kw,
    )


@pytest.fixture(scope="module")
def results(built: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("lift_test", "flat_test"):
            _run(built, name, patch)
        _run(built, "small_test", patch, export=False)
    result = dbt(
        "build", "--select", "campaign_results", target=built["target"], variables={"k_anonymity": K}
    )
    assert "Completed successfully" in result.stdout
    with psycopg.connect(built["url"], autocommit=True, row_factory=dict_row) as conn:
        return {r["campaign"]: r for r in conn.execute("select * from marts.campaign_results").fetchall()}


def test_reading_lists_rank_by_distinct_borrowers_and_leave_out_items_of_fewer_than_k(
    mart: psycopg.Connection,
) -> None:
    rows = mart.execute(
        "select list_rank, item_id, borrowing_users, loans from marts.reading_list_by_group "
        "where list_level = 'major' and list_group = 'CIV' order by list_rank"
    ).fetchall()
    # item 1: seven readers (the opted-out one counts); item 3: three readers, seven loans; item 2
    # (two readers) is left out
    assert [(r["item_id"], r["borrowing_users"], r["loans"]) for r in rows] == [("1", 7, 7), ("3", 3, 7)]
    assert [r["list_rank"] for r in rows] == [1, 2]
    groups = {r["list_level"] for r in mart.execute("select list_level from marts.reading_list_by_group")}
    assert groups == {"major", "college", "user_group"}


def test_recommendations_explain_themselves_and_skip_opted_out_users_and_what_was_read(
    mart: psycopg.Connection,
) -> None:
    rows = mart.execute(
        "select * from exports.reading_recommendations order by user_key, recommendation_rank"
    )
    by_user: dict[str, list[dict]] = {}
    for row in rows.fetchall():
        by_user.setdefault(row["user_key"], []).append(row)
    assert not {f"person-{k}" for k in OPTED_OUT} & set(by_user)
    # l6 and l7 never borrowed item 1, which seven classmates did (the opted-out one counted)
    for key in ("l6", "l7"):
        [rec] = [r for r in by_user[f"person-{key}"] if r["item_id"] == "1"]
        assert rec["kind"] == "item" and rec["classmate_users"] == 7
        assert rec["reason"].startswith(
            "borrowed by 7 classmates in your major (Civil law) in the last 365 days"
        )
    # l0 borrowed item 1: not recommended again; item 3 (three readers) is
    assert [r["item_id"] for r in by_user["person-l0"]] == ["3"]
    assert all(len(recs) <= 5 for recs in by_user.values())


def test_bi_cannot_read_the_recommendations(built: dict[str, Any]) -> None:
    with psycopg.connect(built["url"], autocommit=True) as conn:
        conn.execute("set role urm_bi")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from exports.reading_recommendations")
        conn.execute("reset role")
        conn.execute("set role urm_exporter")
        assert conn.execute("select count(*) from exports.reading_recommendations").fetchone()[0] > 0


def test_a_campaign_with_a_lift_shows_it_and_one_without_shows_none(results: dict[str, dict]) -> None:
    lift, flat = results["lift_test"], results["flat_test"]
    split = arms("lift_test", LIFT_SEGMENT)
    assert (lift["treated_users"], lift["control_users"]) == (len(split["treated"]), len(split["control"]))
    assert lift["suppressed"] is None and lift["goal_metric"] == "first_loan"
    expected = round(0.75 * len(split["treated"])) / len(split["treated"]) - round(
        0.25 * len(split["control"])
    ) / len(split["control"])
    assert float(lift["rate_difference"]) == pytest.approx(expected, abs=1e-4)
    assert float(lift["ci_lower"]) > 0  # the campaign moved people
    assert float(lift["ci_lower"]) < expected < float(lift["ci_upper"])
    assert float(flat["ci_lower"]) < 0 < float(flat["ci_upper"])  # no lift: none shown
    assert abs(float(flat["rate_difference"])) < 0.06


def test_opted_out_users_are_never_targeted_nor_exported(
    built: dict[str, Any], results: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(built["url"], autocommit=True) as conn:
        targeted = {r[0] for r in conn.execute("select user_key from raw.campaign_assignments")}
    assert targeted and not targeted & {f"person-{k}" for k in OPTED_OUT}
    # the freshmen opted out match the segment in every other way; an export asked to list them
    # leaves them out all the same
    from urm.exports.export import run_export

    monkeypatch.setenv("URM_EXPORT_DIR", str(built["folder"] / "exports-try"))
    result = run_export(
        "test_email_list",
        url=built["url"],
        contracts_folder=built["folder"] / "contracts",
        key=TEST_KEY,
        only_user_keys=["person-oa", "person-ob", "person-a00"],
        file_label="try",
    )
    with open(result.file, encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and result.row_count == 1
    numbers = {p["person_key"]: f"S2025{n:06d}" for n, p in enumerate(roster())}
    assert rows[0]["student_number"] == numbers["person-a00"]


def test_the_treated_group_alone_is_exported_with_its_manifest(built: dict[str, Any], results: dict) -> None:
    file = built["folder"] / "exports" / "email" / "test_email_list-lift_test-20251013.csv"
    with open(file, encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    numbers = {f"S2025{n:06d}": p["person_key"] for n, p in enumerate(roster())}
    exported = {numbers[r["student_number"]] for r in rows}
    assert exported == {f"person-{k}" for k in arms("lift_test", LIFT_SEGMENT)["treated"]}
    manifest = json.loads(Path(f"{file}.manifest.json").read_text())
    assert manifest["row_count"] == len(rows)


def test_a_rerun_of_the_same_period_changes_neither_groups_nor_results(
    built: dict[str, Any], results: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = "select * from raw.campaign_assignments where campaign = 'lift_test' order by user_key"
    with psycopg.connect(built["url"], autocommit=True) as conn:
        before = conn.execute(query).fetchall()
        again = _run(built, "lift_test", monkeypatch)
        assert conn.execute(query).fetchall() == before
    assert not again.newly_recorded and again.treated + again.control == len(before)
    dbt("build", "--select", "campaign_results", target=built["target"], variables={"k_anonymity": K})
    with psycopg.connect(built["url"], autocommit=True, row_factory=dict_row) as conn:
        row = conn.execute("select * from marts.campaign_results where campaign = 'lift_test'").fetchone()
    assert row == results["lift_test"]


def test_a_changed_period_definition_is_refused(built: dict[str, Any], results: dict, monkeypatch) -> None:
    from urm.campaigns.definition import CampaignRefused

    path = built["folder"] / "campaigns" / "lift_test.yml"
    original = path.read_text()
    path.write_text(original.replace("control_share: 0.5", "control_share: 0.4"))
    try:
        with pytest.raises(CampaignRefused, match="a run's groups are kept"):
            _run(built, "lift_test", monkeypatch)
    finally:
        path.write_text(original)


def test_small_arms_are_suppressed(results: dict) -> None:
    # four law students borrowed twice or more: one in control, three treated (k = 3)
    small = results["small_test"]
    assert small["suppressed"] == "arm_below_k"
    assert small["treated_users"] is None and small["control_users"] is None
    assert small["rate_difference"] is None and small["ci_lower"] is None


def test_window_dates(mart: psycopg.Connection) -> None:
    row = mart.execute("select distinct window_end_date from marts.reading_list_by_group").fetchone()
    assert row["window_end_date"] == date(2025, 10, 27)
