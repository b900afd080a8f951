"""Rule 4, the privacy suite (Great Expectations) on every mart before it is published: a mart
with a denied column name, an identifier among its values, an opted-out person in an individual
mart, an unconsenting person in a ranking, or a person count under k fails, and is withdrawn from
BI and exports; a clean mart passes. Also rule 5's enforcement: opt-outs never reach individual
marts or rankings, whatever model produced them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import psycopg
import pytest
import yaml

from tests.privacy_helpers import ZHANG, resident_id
from urm.privacy.config import CONFIG_DIR, DEFAULT_PRIVACY, DEFAULT_RETENTION, privacy_rules

pytestmark = pytest.mark.integration

HEX = "0f4fec675c088c42a938ae2e599a4798"
VALID_ID = resident_id("11010120050101123")
WRONG_CHECK_DIGIT = VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1")
PROBES = {
    "privacy_probe_clean": (
        "select %(hex)s::text as user_key, 'freshman'::text as user_group, "
        "'计算机学院'::text as college_name, "
        "'978-7-111-12345-6 10.1016/j.lib.2021.05.004'::text as item_name, 12 as loans_users, "
        "0 as empty_users, null::integer as suppressed_users, %(bad_id)s::text as code"
    ),
    "privacy_probe_columns": (
        "select 'x'::text as phone, 'y'::text as student_no, '10.1.2.0/24'::cidr as client_net"
    ),
    "privacy_probe_values": (
        "select v::text as note from (values (%(email)s), (%(mobile)s), ('S2023000123'), "
        "('card 2112345678'), ('from 172.28.4.47'), (%(rid)s), ('fine')) as t(v)"
    ),
    "privacy_probe_persona": "select user_key from (values ('yes'), ('no'), ('unknown')) as t(user_key)",
    "privacy_probe_ranking": "select user_key, 1 as rank from (values ('yes'), ('ranked')) as t(user_key)",
    "privacy_probe_groups": "select 'freshman'::text as user_group, 3 as active_users",
}
CONSENT = (
    "select user_key, consent_profiling, consent_ranking from (values ('yes', true, false), "
    "('no', false, false), ('ranked', true, true)) as t(user_key, consent_profiling, consent_ranking)"
)


@pytest.fixture(scope="module")
def probes(warehouse_url: str) -> Iterator[str]:
    parameters = {
        "hex": HEX,
        "bad_id": WRONG_CHECK_DIGIT,
        "email": ZHANG.email,
        "mobile": f"tel {ZHANG.phone}",
        "rid": f"id {ZHANG.national_id}",
    }
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        from ingest.schema import migrate

        migrate(conn)
        for name, query in PROBES.items():
            conn.execute(f"drop table if exists marts.{name}")
            conn.execute(f"create table marts.{name} as {query}", parameters)
        conn.execute("drop table if exists marts.privacy_probe_consent")
        conn.execute(f"create table marts.privacy_probe_consent as {CONSENT}")
        migrate(conn)  # grants, as after a build
    yield warehouse_url
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for name in [*PROBES, "privacy_probe_consent"]:
            conn.execute(f"drop table if exists marts.{name}")


@pytest.fixture(scope="module")
def report(probes: str):
    from urm.privacy.suite import run_privacy_suite

    rules = dataclasses.replace(
        privacy_rules(), individual_marts=("privacy_probe_persona",), ranking_marts=("privacy_probe_rank*",)
    )
    return run_privacy_suite(
        probes, list(PROBES), rules=rules, k=10, consent_table="marts.privacy_probe_consent"
    )


def _failures(report, mart: str) -> list:
    return [o for o in report.failures if o.mart == mart]


def test_a_clean_mart_passes(report) -> None:
    """Rule 4: pseudonyms, names of colleges, ISBNs and DOIs, counts of 0 or at least k, and an
    18-digit number whose check digit is wrong are not identifiers."""
    assert _failures(report, "privacy_probe_clean") == []
    assert any(o.mart == "privacy_probe_clean" for o in report.outcomes)


def test_denied_column_names_and_address_types_fail(report) -> None:
    """Rule 4: phone, student_no and an address-typed column are each named."""
    [failure] = _failures(report, "privacy_probe_columns")
    assert failure.rule.startswith("no identifying column")
    assert {row["column_name"] for row in failure.found} == {"phone", "student_no", "client_net"}


def test_identifier_values_fail_by_pattern_without_showing_them(report) -> None:
    """Rule 4: e-mail, mobile, student number, card number, IP address and a resident ID number
    with a valid check digit are each found; the report names the pattern, never the value."""
    [failure] = _failures(report, "privacy_probe_values")
    assert {row["pattern"] for row in failure.found} == {
        "e-mail address",
        "mobile number",
        "student number",
        "card number",
        "IP address",
        "resident ID number",
    }
    shown = report.summary() + str(report.as_dict())
    for value in (ZHANG.email, ZHANG.phone, "S2023000123", "2112345678", "172.28.4.47", ZHANG.national_id):
        assert value not in shown


def test_opted_out_people_fail_individual_marts_and_unconsenting_people_fail_rankings(report) -> None:
    """Rules 4 and 5: an individual mart may hold only people who allow profiling (an opt-out and
    an unknown person fail), a ranking only people who opted in."""
    [persona] = _failures(report, "privacy_probe_persona")
    assert persona.found == [{"people": 2}]
    [ranking] = [o for o in _failures(report, "privacy_probe_ranking") if "rankings" in o.rule]
    assert ranking.found == [{"people": 1}]


def test_small_person_counts_fail(report) -> None:
    """Rule 4: a _users cell of 1 to k-1 people fails (k-anonymity)."""
    [failure] = _failures(report, "privacy_probe_groups")
    assert failure.column == "active_users" and failure.found == [{"cells": 1}]


def test_a_failing_mart_is_withdrawn_from_bi_and_exports_and_the_run_recorded(
    report,
    probes: str,
) -> None:
    """Rule 4: the marts that failed lose their readers; the clean one keeps them; the result is
    recorded for `urm privacy report`."""
    with psycopg.connect(probes, autocommit=True) as conn:

        def can_read(role: str, mart: str) -> bool:
            return conn.execute(
                "select has_table_privilege(%s, %s, 'select')", (role, f"marts.{mart}")
            ).fetchone()[0]

        for role in ("urm_bi", "urm_exporter"):
            assert can_read(role, "privacy_probe_clean")
            for mart in report.failed_marts:
                assert not can_read(role, mart), (role, mart)
        last = conn.execute(
            "select success, marts from restricted.privacy_suite_runs order by ran_at desc limit 1"
        ).fetchone()
        assert last == (False, len(PROBES))


def test_the_build_step_fails_when_a_mart_breaks_a_rule(probes: str) -> None:
    """Rule 4: the build_warehouse DAG's privacy task raises, so the marts Asset is not emitted."""
    from expectations.privacy import PrivacyCheckFailed
    from urm.steps.privacy import privacy_gate

    with pytest.raises(PrivacyCheckFailed) as failed:
        privacy_gate()
    assert "privacy_probe_values" in str(failed.value)


@pytest.mark.parametrize(
    ("name", "default"), [("privacy.yml", DEFAULT_PRIVACY), ("retention.yml", DEFAULT_RETENTION)]
)
def test_the_shipped_config_files_are_the_documented_defaults(name: str, default: dict) -> None:
    """Rules 4 and 6: config/privacy.yml and config/retention.yml say what the code does without them."""
    assert yaml.safe_load((CONFIG_DIR / name).read_text()) == default
