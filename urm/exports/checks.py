"""The privacy checks every export passes before anything is published, on the very rows about
to be written:

1. `check_before_publish(frame, contract)`: the export's own rules (pandas): the contract's deny-list
   (no direct identifier, no user_key, no identifier the contract has no right to), values that
   look like contact data, and no person count of 1 to k-1. More checks are appended to
   `PRIVACY_CHECKS`: each takes the frame, the contract and k and returns one-line problems.
2. `check_with_privacy_suite(url, table, contract)`: the project's privacy suite (Great
   Expectations, expectations/privacy.py, rules in config/privacy.yml), the one every mart passes
   before it is published: the rows go into a scratch table in `restricted` (which no reader role
   may see), the suite runs on it, and the table is dropped. The identifier a re-identifying
   contract grants is the one column exempt from its name and value rules.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pandas as pd
import pyarrow as pa
from psycopg import sql

from ingest.errors import UserError
from urm.exports.contract import FORBIDDEN_COLUMNS, IDENTIFIER_KINDS, Contract


class PrivacyCheckFailed(UserError):
    """The rows an export would publish break a privacy rule: nothing was written."""


_PATTERNS = {
    "an e-mail address": re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.I),
    "a phone number": re.compile(r"^\+?\d[\d\s-]{9,}\d$"),
    "a national id number": re.compile(r"^\d{17}[\dXx]$"),
}


def deny_listed_columns(frame: pd.DataFrame, contract: Contract) -> list[str]:
    allowed_identifier = contract.reidentification.identifier if contract.reidentification.allowed else None
    problems = []
    for column in frame.columns:
        if column in FORBIDDEN_COLUMNS:
            problems.append(f"column {column} is a direct identifier or contact data")
        elif column in IDENTIFIER_KINDS and column != allowed_identifier:
            problems.append(f"column {column} is an identifier the contract has no right to")
        elif column == "user_key":
            problems.append("column user_key is the marts' pseudonym: exports carry export_user_key only")
    return problems


def identifying_values(frame: pd.DataFrame, contract: Contract, sample: int = 2000) -> list[str]:
    """Values that look like contact data or national ids, in any text column."""
    problems = []
    head = frame.head(sample)
    for column in head.columns:
        if column == contract.reidentification.identifier:
            continue
        values = [v for v in head[column].tolist() if isinstance(v, str)]
        for what, pattern in _PATTERNS.items():
            if any(pattern.search(v) for v in values):
                problems.append(f"column {column} holds what looks like {what}")
    return problems


def small_cells(frame: pd.DataFrame, contract: Contract, k: int) -> list[str]:
    """Aggregate exports: no count of persons between 1 and k-1 may be published."""
    if contract.aggregate is None:
        return []
    problems = []
    for column in frame.columns:
        if column.endswith("_users"):
            values = pd.to_numeric(frame[column], errors="coerce")
            small = int(((values > 0) & (values < k)).sum())
            if small:
                problems.append(f"column {column} has {small} cell(s) of 1 to {k - 1} persons")
    return problems


PrivacyCheck = Callable[[pd.DataFrame, Contract, int], list[str]]
PRIVACY_CHECKS: list[PrivacyCheck] = [
    lambda frame, contract, k: deny_listed_columns(frame, contract),
    lambda frame, contract, k: identifying_values(frame, contract),
    small_cells,
]


def check_before_publish(frame: pd.DataFrame, contract: Contract, *, k: int = 10) -> None:
    """Raise PrivacyCheckFailed naming every problem; return when the rows may be published."""
    problems = [problem for check in PRIVACY_CHECKS for problem in check(frame, contract, k)]
    if problems:
        raise PrivacyCheckFailed(
            f"export {contract.consumer} refused by the privacy check: " + "; ".join(problems)
        )


# Arrow types of an export's columns -> PostgreSQL types of the scratch table the suite reads
# (numbers as integer or numeric, so that the k-anonymity rule sees `_users` counts).
_PG_TYPES = {
    pa.bool_(): "boolean",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.float64(): "numeric",
    pa.date32(): "date",
}


def _pg_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    return _PG_TYPES.get(arrow_type, "text")


def check_with_privacy_suite(url: str, table: pa.Table, contract: Contract, *, k: int) -> None:
    """Run the project's privacy suite (Great Expectations) on the rows to be published; raise
    PrivacyCheckFailed naming each failed rule and column (never a value)."""
    from expectations.privacy import check_marts
    from ingest.run import connect

    scratch = f"export_check_{uuid.uuid4().hex[:16]}"
    target = sql.SQL("restricted.{}").format(sql.Identifier(scratch))
    reid = contract.reidentification
    allowed = [reid.identifier] if reid.allowed and reid.identifier else []
    with connect(url) as conn:
        try:
            columns = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_pg_type(f.type)))  # type: ignore[arg-type]
                for f in table.schema
            )
            conn.execute(sql.SQL("create unlogged table {} ({})").format(target, columns))
            names = sql.SQL(", ").join(sql.Identifier(n) for n in table.column_names)
            with (
                conn.cursor() as cur,
                cur.copy(sql.SQL("copy {} ({}) from stdin").format(target, names)) as copy,
            ):
                for row in table.to_pylist():
                    copy.write_row(list(row.values()))
            report = check_marts(url, [scratch], k=k, schema="restricted", allowed_columns=allowed)
        finally:
            conn.execute(sql.SQL("drop table if exists {}").format(target))
    if not report.success:
        problems = []
        for outcome in report.failures:
            found = "; ".join(", ".join(f"{key} {v}" for key, v in row.items()) for row in outcome.found[:5])
            column = f" (column {outcome.column})" if outcome.column else ""
            problems.append(f"{outcome.rule}{column}" + (f": {found}" if found else ""))
        raise PrivacyCheckFailed(
            f"export {contract.consumer} refused by the privacy suite: " + "; ".join(problems)
        )
