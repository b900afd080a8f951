"""The privacy suite: Great Expectations checks on every mart before it is published.

One suite per mart, built from the rules in config/privacy.yml (urm.privacy.config):

- no column whose name is on the deny-list (name, phone, e-mail, ID number, address, student or
  staff number, card, login, patron, IP ...) and no address-typed column (inet, cidr);
- no text value that holds an identifier: e-mail addresses, mainland mobile numbers, the roster's
  student, staff and card number formats, IP addresses, and PRC resident ID numbers whose check
  digit is valid (computed in SQL, so that an 18-digit number that only looks like one passes);
- individual marts (user_persona, rankings) hold only people who allow profiling, and rankings
  only people who opted in to them (consent as of the newest roster, from marts.dim_user);
- no person count (a column ending in _users) between 1 and k-1 (dbt var k_anonymity).

Every check is an UnexpectedRowsExpectation whose query returns only rule names, column names and
counts, never a value: a failure report can be printed and stored without leaking what it found.
The value and k-anonymity rules of all a mart's columns share one expectation, so that a mart is
scanned once, not once per column: its rows name the rule, column and pattern they break, and the
report still holds one outcome per (mart, rule, column), passed ones included.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import great_expectations.expectations as gxe
from great_expectations.core import ExpectationSuite

from ingest.errors import UserError
from ingest.privacy.patterns import RESIDENT_ID_CHECK, RESIDENT_ID_WEIGHTS
from urm.privacy.config import PrivacyRules, privacy_rules

MARTS = "marts"
TEXT_TYPES = ("text", "character varying", "character")
NUMBER_TYPES = ("integer", "bigint", "smallint", "numeric")
RESIDENT_ID_SQL = (
    r"(?:^|[^0-9A-Za-z])([1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])"
    r"(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx])(?:$|[^0-9A-Za-z])"
)


class PrivacyCheckFailed(UserError):
    """A mart breaks a privacy rule: it is not published (the BI and export roles lose it)."""


@dataclass(frozen=True)
class PrivacyOutcome:
    mart: str
    rule: str
    column: str | None
    success: bool
    found: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        where = f"marts.{self.mart}" + (f".{self.column}" if self.column else "")
        if self.success:
            return f"passed: {self.rule} on {where}"
        found = "; ".join(", ".join(f"{k} {v}" for k, v in row.items()) for row in self.found[:10])
        return f"FAILED: {self.rule} on {where}: {found}"


@dataclass
class PrivacyReport:
    marts: list[str]
    outcomes: list[PrivacyOutcome]
    ran_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failures(self) -> list[PrivacyOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def failed_marts(self) -> list[str]:
        return sorted({o.mart for o in self.failures})

    def summary(self) -> str:
        if self.success:
            return f"privacy suite passed: {len(self.outcomes)} checks on {len(self.marts)} marts"
        lines = [
            f"privacy suite FAILED: {len(self.failures)} of {len(self.outcomes)} checks on "
            f"{', '.join(self.failed_marts)}"
        ]
        lines.extend("  " + o.describe() for o in self.failures)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ran_at": self.ran_at,
            "success": self.success,
            "marts": self.marts,
            "checks": len(self.outcomes),
            "failures": [asdict(o) for o in self.failures],
        }


def _literal(text: str) -> str:
    """A SQL string literal for a query GX runs: braces doubled (GX formats the query with
    {batch}) and colons escaped (SQLAlchemy reads `:name` as a bind parameter)."""
    escaped = text.replace("'", "''").replace("{", "{{").replace("}", "}}").replace(":", "\\:")
    return "'" + escaped + "'"


def _matches(patterns: Sequence[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _resident_id_condition(column: str) -> str:
    """SQL: the column holds a resident ID number whose check character is right. The cheap
    match comes first: the check digit is computed only for the rare values shaped like one."""
    weights = ",".join(str(w) for w in RESIDENT_ID_WEIGHTS)
    found = f"substring({column} from {_literal(RESIDENT_ID_SQL)})"
    return (
        f"({column} ~ {_literal(RESIDENT_ID_SQL)} and (select substr({_literal(RESIDENT_ID_CHECK)}, "
        f"(sum(substr({found}, i, 1)::integer * (array[{weights}])[i]) % 11)::integer + 1, 1) "
        f"from generate_series(1, 17) as i) = upper(substr({found}, 18, 1)))"
    )


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


VALUE_RULE = "no identifier in values"


def _k_rule(k: int) -> str:
    return f"no person count between 1 and {k - 1} (k-anonymity)"


@dataclass(frozen=True)
class ScannedCheck:
    """One (rule, column) that the mart's single scan evaluates, and how its rows read."""

    rule: str
    column: str
    kind: str  # "value": rows (pattern, matching_rows); "k": rows (cells)

    def found(self, pattern: str, count: int) -> dict[str, Any]:
        return {"pattern": pattern, "matching_rows": count} if self.kind == "value" else {"cells": count}


def scanned_checks(
    mart: str,
    columns: Sequence[tuple[str, str]],
    rules: PrivacyRules,
    *,
    k: int,
    allowed_columns: Sequence[str] = (),
) -> list[ScannedCheck]:
    """The value and k-anonymity checks of one mart, in column order."""
    values = bool(rules.value_patterns) or rules.resident_id_numbers
    counted = rules.k_anonymity and not _matches(rules.k_anonymity_exempt, mart)
    checks: list[ScannedCheck] = []
    for name, data_type in columns:
        if values and data_type in TEXT_TYPES and name not in allowed_columns:
            checks.append(ScannedCheck(VALUE_RULE, name, "value"))
        if counted and name.endswith("_users") and data_type in NUMBER_TYPES:
            checks.append(ScannedCheck(_k_rule(k), name, "k"))
    return checks


# Every shipped value pattern, and the resident ID check, can only match a value that holds a
# character other than an ASCII letter or digit (the e-mail's "@", the IP address's ".", the
# separators around a bounded number) or that is the number itself, at most 18 characters (a
# resident ID; a mobile number with its 86 is 13): a longer run of letters and digits, such as
# every 32-character pseudonym, cannot hold one, and is not run through the patterns.
LONGEST_BARE_IDENTIFIER = 18


def _shipped_patterns() -> set[str]:
    from urm.privacy.config import DEFAULT_PRIVACY

    return set(DEFAULT_PRIVACY["value_patterns"].values())


def _shipped_patterns_only(rules: PrivacyRules) -> bool:
    """True when every configured pattern is one of the shipped ones (a campus's own pattern
    may match anything: then every value goes through the patterns)."""
    shipped = _shipped_patterns()
    return all(p in shipped for p in rules.value_patterns.values())


# A whole value that is a UUID is a system's record id (FOLIO's item, loan and instance ids), not
# a person's: its 8-hex-digit group can read as a staff number (`e2081254`: E + 2081254), which
# failed the gate on a FOLIO library's fct_loans.item_id. The shipped patterns skip UUIDs; a
# campus's own patterns still see them (a campus whose person ids are UUIDs can add one).
UUID_VALUE = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"


def _candidate(column: str) -> str:
    """SQL: the value when it may hold an identifier by the shipped patterns, else null. Cheapest
    test first, on every row of the mart: a short value is kept (it cannot be a UUID), a long one
    only when it holds a separator and is not a UUID (3x faster on a 225 k-row fact than testing
    for a UUID first)."""
    return (
        f"case when length({column}) <= {LONGEST_BARE_IDENTIFIER} then {column} "
        f"when {column} ~ '[^0-9A-Za-z]' and {column} !~ {_literal(UUID_VALUE)} then {column} end"
    )


def _scan_query(checks: Sequence[ScannedCheck], rules: PrivacyRules, *, k: int) -> str:
    """One pass over the mart. The patterns cost microseconds per value, so they run on each
    column's distinct values (grouping sets: one hash table per column, one scan), each value
    labelled with the first pattern it matches (or 'cells' for a small count); the labels'
    row counts are summed per (rule, column, pattern). Only names and counts come out."""
    labels, pivots = [], []
    for i, check in enumerate(checks):
        value = f"g.x{i}"
        if check.kind == "value":
            shipped = _shipped_patterns()
            cases = [
                f"when {value} ~ {_literal(p)}"
                + (f" and {value} !~ {_literal(UUID_VALUE)}" if p in shipped else "")
                + f" then {_literal(label)}"
                for label, p in rules.value_patterns.items()
            ]
            if rules.resident_id_numbers:
                cases.append(f"when {_resident_id_condition(value)} then 'resident ID number'")
            # a grouping-set row's other columns are null: no pattern, and above all no check-digit
            # sub-query (`null and x` still evaluates x), runs on them
            labels.append(f"case when {value} is null then null " + " ".join(cases) + f" end as c{i}")
        else:
            labels.append(f"case when {value} between 1 and {k - 1} then 'cells' end as c{i}")
        pivots.append(f"({_literal(check.rule)}, {_literal(check.column)}, m.c{i})")
    guarded = _shipped_patterns_only(rules)
    columns = ", ".join(
        (
            f"{_candidate(_quoted(c.column))} as x{i}"
            if guarded and c.kind == "value"
            else f"{_quoted(c.column)} as x{i}"
        )
        for i, c in enumerate(checks)
    )
    values = ", ".join(f"x{i}" for i in range(len(checks)))
    sets = ", ".join(f"(x{i})" for i in range(len(checks)))
    # in a row of one grouping set the other columns are null, and null gets no label; offset 0
    # keeps each label computed once per distinct value, not once per unpivoted row
    return (
        "select v.rule, v.column_name, v.pattern, sum(m.n)::bigint as found from (select "
        + ", ".join(labels)
        + f", g.n from (select {values}, count(*) as n from (select {columns} from {{batch}}) as b "
        + f"group by grouping sets ({sets})) as g offset 0) as m cross join lateral (values "
        + ", ".join(pivots)
        + ") as v(rule, column_name, pattern) where v.pattern is not null "
        "group by v.rule, v.column_name, v.pattern order by v.rule, v.column_name, v.pattern"
    )


def privacy_suite(
    mart: str,
    columns: Sequence[tuple[str, str]],
    rules: PrivacyRules,
    *,
    k: int,
    consent_table: str = "marts.dim_user",
    schema: str = MARTS,
    allowed_columns: Sequence[str] = (),
) -> ExpectationSuite:
    """The suite for one mart; `columns` are its (name, data type) pairs. `schema` is where the
    table lives (an export's rows are checked in a scratch table); `allowed_columns` are exempt
    from the name and value rules (the identifier a re-identifying export contract grants).

    An expectation's meta names the (rule, column) it checks; the one scan of the value and
    k-anonymity rules lists all its checks under "checks" (check_marts makes one outcome each)."""
    expectations: list[Any] = []

    def check(rule: str, query: str, column: str | None = None, **meta: Any) -> None:
        expectations.append(
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=query,
                description=rule,
                meta={"rule": rule, "column": column, **meta},
            )
        )

    denied = (
        " or ".join(f"column_name ~* {_literal('^(?:' + p + ')$')}" for p in rules.deny_columns) or "false"
    )
    types = ", ".join(_literal(t) for t in rules.deny_types) or "''"
    exempt = "".join(f" and column_name <> {_literal(c)}" for c in allowed_columns)
    check(
        "no identifying column name or address type",
        "select column_name, data_type from information_schema.columns "
        f"where table_schema = {_literal(schema)} and table_name = {_literal(mart)}{exempt} "
        f"and ({denied} or udt_name in ({types})) "
        "and (select count(*) from (select 1 from {batch} limit 1) as probe) >= 0",
    )
    scanned = scanned_checks(mart, columns, rules, k=k, allowed_columns=allowed_columns)
    if scanned:
        check(
            "identifiers in values and small person counts",
            _scan_query(scanned, rules, k=k),
            checks=[[c.rule, c.column, c.kind] for c in scanned],
        )
    names = {name for name, _ in columns}
    if "user_key" in names:
        for patterns, flag, rule in (
            (rules.individual_marts, "consent_profiling", "only people who allow profiling"),
            (rules.ranking_marts, "consent_ranking", "only people who opted in to rankings"),
        ):
            if _matches(patterns, mart):
                check(
                    rule,
                    f"select count(*) as people from {{batch}} as m left join {consent_table} as c "
                    f"on c.user_key = m.user_key where m.user_key is not null "
                    f"and (c.user_key is null or not coalesce(c.{flag}, false)) having count(*) > 0",
                    "user_key",
                )
    return ExpectationSuite(name=f"privacy_{mart}", expectations=expectations)


def dbt_k_anonymity(project_dir: Path | None = None) -> int:
    """The dbt var k_anonymity (dbt_project.yml), so that marts and the suite agree on k."""
    import yaml  # type: ignore[import-untyped]

    from urm.platform.settings import DBT_PROJECT_DIR

    project = yaml.safe_load(((project_dir or DBT_PROJECT_DIR) / "dbt_project.yml").read_text())
    return int((project.get("vars") or {}).get("k_anonymity", 10))


def mart_columns(
    url: str, marts: Sequence[str] | None = None, schema: str = MARTS
) -> dict[str, list[tuple[str, str]]]:
    import os
    import re

    import psycopg

    plain_url = re.sub(r"^postgresql\+\w+://", "postgresql://", os.path.expandvars(url))
    with psycopg.connect(plain_url) as conn:
        rows = conn.execute(
            "select c.table_name, c.column_name, c.data_type from information_schema.columns as c "
            "join information_schema.tables as t using (table_schema, table_name) "
            "where c.table_schema = %s and t.table_type = 'BASE TABLE' order by 1, c.ordinal_position",
            (schema,),
        ).fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        if marts is None or table in marts:
            found.setdefault(table, []).append((column, data_type))
    return found


def check_marts(
    url: str,
    marts: Sequence[str] | None = None,
    *,
    rules: PrivacyRules | None = None,
    k: int | None = None,
    consent_table: str = "marts.dim_user",
    schema: str = MARTS,
    allowed_columns: Sequence[str] = (),
) -> PrivacyReport:
    """Run the privacy suite on every mart (or the named ones); `schema` and `allowed_columns` as
    in privacy_suite."""
    from expectations.runner import _ephemeral_context, _gx_url

    rules = rules or privacy_rules()
    k = k if k is not None else dbt_k_anonymity()
    tables = mart_columns(url, marts, schema)
    outcomes: list[PrivacyOutcome] = []
    if tables:
        context = _ephemeral_context()
        source = context.data_sources.add_postgres("warehouse_marts", connection_string=_gx_url(url))
        for mart, columns in tables.items():
            suite = privacy_suite(
                mart,
                columns,
                rules,
                k=k,
                consent_table=consent_table,
                schema=schema,
                allowed_columns=allowed_columns,
            )
            try:
                asset = source.add_table_asset(name=mart, table_name=mart, schema_name=schema)
                batch = asset.add_batch_definition_whole_table("privacy").get_batch()
                result = batch.validate(suite, result_format="COMPLETE")
            except Exception as error:  # a mart that cannot be read is not published
                first = (
                    str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
                )
                outcomes.append(PrivacyOutcome(mart, "read the mart", None, False, [{"error": first}]))
                continue
            for item in result.results:
                outcomes.extend(_outcomes(mart, item))
    return PrivacyReport(marts=sorted(tables), outcomes=outcomes)


def _outcomes(mart: str, item: Any) -> list[PrivacyOutcome]:
    """The outcomes of one expectation's result: one, or one per (rule, column) of a scan."""
    meta = item.expectation_config.meta or {}
    rows = [_plain(r) for r in ((item.result or {}).get("details") or {}).get("unexpected_rows") or []]
    info = item.exception_info or {}
    error = None
    if info.get("raised_exception"):
        error = {"error": (str(info.get("exception_message") or "").splitlines() or [""])[0][:200]}
    if "checks" not in meta:
        found = [error] if error else rows
        return [PrivacyOutcome(mart, str(meta.get("rule")), meta.get("column"), bool(item.success), found)]
    # GX returns at most MAX_RESULT_RECORDS rows but counts them all: a check whose rows may be
    # among those cut off is failed rather than passed
    observed = (item.result or {}).get("observed_value")
    missing = observed - len(rows) if isinstance(observed, int) else 0
    outcomes = []
    for rule, column, kind in meta["checks"]:
        check = ScannedCheck(rule, column, kind)
        found = (
            [error]
            if error
            else [
                check.found(str(r["pattern"]), int(r["found"]))
                for r in rows
                if r.get("rule") == rule and r.get("column_name") == column
            ]
        )
        if missing > 0 and not found:
            found = [{"error": f"{missing} findings of the mart not returned: fix the others"}]
        outcomes.append(PrivacyOutcome(mart, rule, column, not found, found))
    return outcomes


def _plain(row: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dict(row) if isinstance(row, dict) else {"row": row}, default=str))
