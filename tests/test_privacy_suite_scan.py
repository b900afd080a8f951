"""The privacy suite scans each mart once for every column's value patterns and person counts
(expectations/privacy.py): that one scan must still catch each rule on each column, name the
right column, and report every (rule, column) it checked, passed ones included."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from types import SimpleNamespace

import psycopg
import pytest

from expectations.privacy import (
    LONGEST_BARE_IDENTIFIER,
    VALUE_RULE,
    _k_rule,
    _outcomes,
    _shipped_patterns_only,
    check_marts,
)
from tests.privacy_helpers import ZHANG, resident_id
from urm.privacy.config import privacy_rules

HEX = "0f4fec675c088c42a938ae2e599a4798"
VALID_ID = resident_id("11010119990101123")
WRONG_CHECK_DIGIT = VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1")
MARTS = {
    # only the second text column leaks
    "privacy_scan_text": (
        "select * from (values "
        "(%(hex)s, 'freshman', 4), "
        "('978-7-111-12345-6', %(email)s, 5), "
        "(%(bad_id)s, 'write to ' || %(email)s, 6), "
        "('10.1016/j.lib.2021.05.004', 'id ' || %(rid)s, 7), "
        "(null, 'fine', 8), ('zzsecret1234567890123', 'fine', 9), "
        # a FOLIO item UUID whose first group reads as a staff number (E + 2081254)
        "('e2081254-d349-47e4-ad2c-37e073c93f50', 'fine', 10)) as t(first_note, second_note, loans)"
    ),
    # one _users column fine, the next one with two small cells
    "privacy_scan_counts": (
        "select * from (values ('freshman', 12, 12::bigint, 'ok'), ('staff', 0, 3::bigint, 'ok'), "
        "('faculty', null, 4::bigint, 'ok')) as t(user_group, active_users, new_users, remark)"
    ),
    # an individual mart: a person who does not allow profiling, and a student number
    "privacy_scan_persona": (
        "select * from (values ('yes', 'reader'), ('no', 'reader'), ('yes', 'ask S2023000123')) "
        "as t(user_key, label)"
    ),
}
CONSENT = (
    "select * from (values ('yes', true, false), ('no', false, false)) "
    "as t(user_key, consent_profiling, consent_ranking)"
)
CONSENT_RULE = "only people who allow profiling"


@pytest.fixture(scope="module")
def scan_url(warehouse_url: str) -> Iterator[str]:
    parameters = {"hex": HEX, "bad_id": WRONG_CHECK_DIGIT, "email": ZHANG.email, "rid": VALID_ID}
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for name, query in {**MARTS, "privacy_scan_consent": CONSENT}.items():
            conn.execute(f"drop table if exists marts.{name}")
            conn.execute(f"create table marts.{name} as {query}", parameters)
    yield warehouse_url
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for name in [*MARTS, "privacy_scan_consent"]:
            conn.execute(f"drop table if exists marts.{name}")


def _check(url: str, **rules_changes: object):
    rules = dataclasses.replace(
        privacy_rules(),
        individual_marts=("privacy_scan_persona",),
        ranking_marts=(),
        **rules_changes,  # type: ignore[arg-type]
    )
    return check_marts(url, list(MARTS), rules=rules, k=10, consent_table="marts.privacy_scan_consent")


@pytest.fixture(scope="module")
def report(scan_url: str):
    return _check(scan_url)


def _by_check(report, mart: str) -> dict:
    return {(o.rule, o.column): o for o in report.outcomes if o.mart == mart}


@pytest.mark.integration
def test_every_checked_column_has_its_own_outcome_passed_ones_included(report) -> None:
    assert list(_by_check(report, "privacy_scan_text")) == [
        ("no identifying column name or address type", None),
        (VALUE_RULE, "first_note"),
        (VALUE_RULE, "second_note"),
    ]
    assert list(_by_check(report, "privacy_scan_counts")) == [
        ("no identifying column name or address type", None),
        (VALUE_RULE, "user_group"),
        (_k_rule(10), "active_users"),
        (_k_rule(10), "new_users"),
        (VALUE_RULE, "remark"),
    ]
    assert list(_by_check(report, "privacy_scan_persona")) == [
        ("no identifying column name or address type", None),
        (VALUE_RULE, "user_key"),
        (VALUE_RULE, "label"),
        (CONSENT_RULE, "user_key"),
    ]


@pytest.mark.integration
def test_only_the_leaking_text_column_fails_with_its_patterns_and_counts(report) -> None:
    checks = _by_check(report, "privacy_scan_text")
    # a hex pseudonym, ISBN, DOI, wrong check digit, a UUID
    assert checks[(VALUE_RULE, "first_note")].success
    leak = checks[(VALUE_RULE, "second_note")]
    assert not leak.success
    assert leak.found == [
        {"pattern": "e-mail address", "matching_rows": 2},
        {"pattern": "resident ID number", "matching_rows": 1},
    ]
    assert ZHANG.email not in report.summary() and VALID_ID not in report.summary()


@pytest.mark.integration
def test_only_the_users_column_with_small_cells_fails(report) -> None:
    checks = _by_check(report, "privacy_scan_counts")
    assert checks[(_k_rule(10), "active_users")].success  # 12, 0 and null are fine
    assert checks[(_k_rule(10), "new_users")].found == [{"cells": 2}]
    assert [o.column for o in report.failures if o.mart == "privacy_scan_counts"] == ["new_users"]


@pytest.mark.integration
def test_a_person_without_consent_and_a_student_number_fail_an_individual_mart(report) -> None:
    checks = _by_check(report, "privacy_scan_persona")
    assert checks[(CONSENT_RULE, "user_key")].found == [{"people": 1}]
    assert checks[(VALUE_RULE, "user_key")].success
    assert checks[(VALUE_RULE, "label")].found == [{"pattern": "student number", "matching_rows": 1}]


@pytest.mark.integration
def test_a_campus_pattern_is_run_on_every_value(scan_url: str) -> None:
    """Long runs of letters and digits skip the shipped patterns, never a campus's own."""
    patterns = {**privacy_rules().value_patterns, "secret code": "secret[0-9]{6}"}
    assert not _shipped_patterns_only(dataclasses.replace(privacy_rules(), value_patterns=patterns))
    report = _check(scan_url, value_patterns=patterns)
    text = _by_check(report, "privacy_scan_text")
    assert text[(VALUE_RULE, "first_note")].found == [{"pattern": "secret code", "matching_rows": 1}]
    assert text[(VALUE_RULE, "second_note")].found == [
        {"pattern": "e-mail address", "matching_rows": 2},
        {"pattern": "resident ID number", "matching_rows": 1},
    ]
    assert _by_check(report, "privacy_scan_counts")[(VALUE_RULE, "user_group")].success


@pytest.mark.integration
def test_no_shipped_pattern_matches_a_long_run_of_letters_and_digits(warehouse_url: str) -> None:
    """Why the scan may skip them: every shipped pattern needs a character other than a letter or
    digit, or is a bare number of at most LONGEST_BARE_IDENTIFIER characters."""
    from expectations.privacy import RESIDENT_ID_SQL

    rules = privacy_rules()
    assert _shipped_patterns_only(rules)
    bare = ["S2023000123", "T2010001", "2112345678", "13812345678", "8613812345678", VALID_ID]
    patterns = [*rules.value_patterns.values(), RESIDENT_ID_SQL]
    with psycopg.connect(warehouse_url) as conn:

        def matched(value: str) -> bool:
            return conn.execute("select %s ~ any(%s)", (value, patterns)).fetchone()[0]

        for value in bare:
            assert len(value) <= LONGEST_BARE_IDENTIFIER and matched(value), value
            for longer in (f"a{value}", f"{value}0", f"x{value}y", HEX + value):
                assert not matched(longer), longer
            assert matched(f"x {value}")
        assert not matched(HEX) and matched(f"{HEX}@lib.example.edu") and matched("at 10.1.2.3")
        # why UUIDs are skipped: a group of one can read as a staff number
        assert matched("e2081254-d349-47e4-ad2c-37e073c93f50")
        assert matched("staff E2081254") and matched("E2081254")


def test_checks_cut_off_by_gx_are_failed_not_passed() -> None:
    """GX returns at most 200 rows of a failing query: a check with none of them is not passed."""
    checks = [[VALUE_RULE, "a", "value"], [VALUE_RULE, "b", "value"]]
    item = SimpleNamespace(
        expectation_config=SimpleNamespace(meta={"rule": "scan", "column": None, "checks": checks}),
        result={
            "observed_value": 3,
            "details": {
                "unexpected_rows": [
                    {"rule": VALUE_RULE, "column_name": "a", "pattern": "IP address", "found": 1}
                ]
            },
        },
        exception_info={},
        success=False,
    )
    a, b = _outcomes("m", item)
    assert not a.success and a.found == [{"pattern": "IP address", "matching_rows": 1}]
    assert not b.success and "not returned" in b.found[0]["error"]


def test_a_scan_that_raises_fails_every_check_it_covers() -> None:
    checks = [[VALUE_RULE, "a", "value"], [_k_rule(10), "n_users", "k"]]
    item = SimpleNamespace(
        expectation_config=SimpleNamespace(meta={"rule": "scan", "column": None, "checks": checks}),
        result={},
        exception_info={"raised_exception": True, "exception_message": "relation does not exist\nmore"},
        success=False,
    )
    outcomes = _outcomes("m", item)
    assert [(o.column, o.success, o.found) for o in outcomes] == [
        ("a", False, [{"error": "relation does not exist"}]),
        ("n_users", False, [{"error": "relation does not exist"}]),
    ]
