"""Campaign files, the segment language, the seeded assignment, the on-demand contract and the
demo's response, without a warehouse (the marts and runs: tests/test_dbt_campaigns.py)."""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from urm.campaigns.assignment import arm_of, assignment_draw
from urm.campaigns.definition import (
    CampaignRefused,
    list_campaigns,
    load_campaign,
    load_campaign_file,
    parse_campaign,
)
from urm.exports.contract import ContractRefused, load_contract, parse_contract

BASE = {
    "name": "probe",
    "purpose": "A probe.",
    "segment": [{"column": "user_group", "op": "eq", "value": "freshman"}],
    "action": {"export": "campaign_email_list"},
    "period": {"start": date(2025, 10, 13), "end": date(2025, 11, 9)},
    "goal": "first_loan",
    "control_share": 0.3,
}


def campaign(**changes):
    return parse_campaign({**BASE, **changes})


def test_the_example_campaigns_load_and_read_lifecycle_as_of_the_month_before() -> None:
    names = [path.stem for path in list_campaigns()]
    assert {"freshmen_still_potential", "upper_years_without_databases"} <= set(names)
    freshmen = load_campaign("freshmen_still_potential")
    assert freshmen.goal == "first_loan" and freshmen.as_of_month == date(2025, 9, 1)
    assert freshmen.describe_segment().endswith("stage eq 'potential'")
    for path in list_campaigns():
        load_contract(load_campaign_file(path).export)  # every action names a real contract


def test_the_segment_becomes_composed_sql_with_values_as_literals() -> None:
    c = campaign(
        segment=[
            {"column": "major", "op": "eq", "value": "x'); drop table raw.load_log; --"},
            {"column": "user_group", "op": "in", "value": ["freshman", "graduating"]},
            {
                "any": [
                    {"column": "loans_in_window", "op": "ge", "value": 2},
                    {"column": "stage", "op": "is_null"},
                ]
            },
        ]
    )
    text = c.where().as_string(None)
    assert "'x''); drop table raw.load_log; --'" in text  # a quoted literal, nothing executable
    assert '"persona"."user_group" = any(array[' in text
    assert '"persona"."loans_in_window" >= 2' in text and '"lifecycle"."stage" is null' in text


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ([{"column": "user_key", "op": "eq", "value": "a"}], "segment column 'user_key'"),
        ([{"column": "major; drop", "op": "eq", "value": "a"}], "is not one of"),
        ([{"column": "major", "op": "like", "value": "a"}], "segment op 'like'"),
        ([{"column": "loans_in_window", "op": "eq", "value": "3"}], "takes a integer value"),
        ([{"column": "major", "op": "lt", "value": "a"}], "compares numbers"),
        ([{"column": "major", "op": "in", "value": []}], "non-empty list"),
        ([{"column": "major", "op": "eq", "value": "a", "sql": "true"}], "must be {column"),
        (["user_group = 'freshman'"], "must be {column"),
        ({"column": "major"}, "segment is a list"),
    ],
)
def test_a_segment_outside_the_language_is_refused(segment, message) -> None:
    with pytest.raises(CampaignRefused, match=message):
        campaign(segment=segment)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"control_share": 1.2}, "control_share"),
        ({"control_share": True}, "control_share"),
        ({"goal": "happiness"}, "goal 'happiness'"),
        ({"period": {"start": "2025-11-09", "end": "2025-10-13"}}, "ends"),
        ({"period": {"start": "soon", "end": "2025-10-13"}}, "not a date"),
        ({"action": {"email": "all"}}, "action must name the export contract"),
        ({"name": "Bad Name"}, "lower case"),
        ({"purpose": ""}, "missing purpose"),
    ],
)
def test_a_malformed_campaign_is_refused_in_one_line(changes, message) -> None:
    with pytest.raises(CampaignRefused, match=message) as caught:
        campaign(**changes)
    assert "\n" not in str(caught.value)


def test_a_file_must_carry_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "other.yml"
    path.write_text("name: probe\npurpose: p\nsegment: []\naction: {export: x}\n")
    with pytest.raises(CampaignRefused, match="missing"):
        load_campaign_file(path)
    with pytest.raises(CampaignRefused, match="known campaigns are"):
        load_campaign("nothing", tmp_path)


def test_the_assignment_is_a_pure_seeded_function_with_the_given_share() -> None:
    keys = [f"user-{n}" for n in range(20000)]
    arms = [arm_of("probe", key, 0.3) for key in keys]
    assert arms == [arm_of("probe", key, 0.3) for key in keys]  # same seed and user, same arm
    assert abs(arms.count("control") / len(keys) - 0.3) < 0.015
    assert [arm_of("other", key, 0.3) for key in keys] != arms  # another campaign, another draw
    assert all(0 <= assignment_draw("probe", key) < 1 for key in keys[:100])


def test_contracts_may_read_the_exports_schema_and_be_released_on_demand_only() -> None:
    recommendations = load_contract("reading_recommendations")
    assert recommendations.source_schema == "exports" and recommendations.level == "individual"
    email = load_contract("campaign_email_list")
    assert email.schedule == "on_demand"
    base = {
        "consumer": "probe",
        "version": 1,
        "purpose": "p",
        "legal_basis": "l",
        "owner": "o",
        "level": "individual",
        "sources": ["user_persona"],
        "columns": ["user_key"],
        "format": "csv",
    }
    with pytest.raises(ContractRefused, match="schema 'raw'"):
        parse_contract({**base, "schema": "raw"})
    assert parse_contract({**base, "schema": "marts"}).source_schema is None

    from urm.steps.exports import is_due

    assert not is_due("campaign_email_list", as_of=__import__("datetime").datetime(2025, 10, 1))


def test_the_cli_lists_campaigns_and_explains_itself() -> None:
    from urm.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["campaign", "--list"])
    assert listed.exit_code == 0 and "freshmen_still_potential" in listed.output
    helped = runner.invoke(app, ["campaign", "--help"])
    assert helped.exit_code == 0 and "control share" in helped.output
    unknown = runner.invoke(app, ["campaign", "run", "nothing"])
    assert unknown.exit_code != 0


def test_the_demo_university_answers_only_the_students_on_the_list(tmp_path: Path) -> None:
    from urm_demo.campaign import DemoCampaign, demo_period, expected_difference, respond
    from urm_demo.synth.people import STUDENT, build_roster

    assert demo_period(date(2025, 9, 1), 40) == (date(2025, 9, 8), date(2025, 10, 10))
    assert demo_period(date(2025, 9, 1), 120) == (date(2025, 11, 27), date(2025, 12, 29))
    assert demo_period(date(2025, 9, 1), 5) == (date(2025, 9, 1), date(2025, 9, 5))
    assert expected_difference(0.5, 0.2) == pytest.approx(0.4)
    people = build_roster(random.Random("3:roster"), 40, date(2025, 9, 1), date(2025, 10, 10))
    students = [p.person_id for p in people if p.person_type == STUDENT][:12]
    email = tmp_path / "list.csv"
    with email.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["export_user_key", "student_number"])
        writer.writerows([f"k{n}", number.lower()] for n, number in enumerate(students))
    period = DemoCampaign("probe", date(2025, 10, 1), date(2025, 10, 10), lift=1.0)

    def answer(lift: float) -> tuple[int, bytes]:
        out = tmp_path / f"sources-{lift}"
        count = respond(
            out, email, DemoCampaign(**{**period.__dict__, "lift": lift}), users=40, days=40, seed=3
        )
        return count, (out / "circulation/koha/statistics-campaign-probe.csv").read_bytes()

    everyone, rows = answer(1.0)
    assert everyone == len(students)
    borrowers = {line.split(",")[8] for line in rows.decode().splitlines()[1:]}
    on_list = {p.koha_borrowernumber for p in people if p.person_id in students}
    assert borrowers == on_list
    assert answer(1.0)[1] == rows  # same seed, same bytes
    assert answer(0.0)[0] == 0
