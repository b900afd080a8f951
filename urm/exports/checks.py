"""The privacy check every export passes before anything is published.

`check_before_publish(frame, contract)` looks at the very rows about to be written. Today it is a
minimal deny-list and pattern check of its own; the project's privacy suite (Great Expectations,
expectations/privacy.py) plugs in by being appended to `PRIVACY_CHECKS`: each check takes the
frame (pandas) and the contract and returns the problems it found, as one-line strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

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
