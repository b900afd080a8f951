"""Suppression of small cells in aggregate exports, across one release and between releases.

1. primary: a row whose population (its `_users` measure that counts the persons it describes)
   is 1..k-1 has every measure NULL; any other `_users` cell of 1..k-1 is NULL;
2. difference: a `_users` cell whose value moved by 1..k-1 persons since the value this consumer
   last received for it (the disclosure ledger) is NULL, because the two releases together would
   show a group of fewer than k persons;
3. complementary: within each slice of the table along one grouping column, a lone suppressed
   cell is joined by the smallest published one, so that a margin known elsewhere (a college's
   head count) cannot give it back by subtraction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from urm.exports.contract import Aggregate

PRIMARY, DIFFERENCE, COMPLEMENTARY = "below_k", "difference_with_earlier_release", "complementary"


@dataclass
class SuppressionResult:
    rows: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=lambda: {PRIMARY: 0, DIFFERENCE: 0, COMPLEMENTARY: 0})

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def cell_key(row: dict[str, Any], group_by: tuple[str, ...]) -> str:
    return json.dumps([row[c] for c in group_by], default=str, ensure_ascii=False)


def suppress(
    rows: list[dict[str, Any]],
    spec: Aggregate,
    k: int,
    previous: dict[tuple[str, str], float] | None = None,
) -> SuppressionResult:
    previous = previous or {}
    users = [m for m in spec.measures if m.endswith("_users")]
    result = SuppressionResult(rows=[dict(r) for r in rows])
    reasons: list[set[str]] = [set() for _ in result.rows]

    def hide(i: int, measure: str, why: str) -> None:
        if result.rows[i][measure] is not None:
            result.rows[i][measure] = None
            result.counts[why] += 1
            reasons[i].add(why)

    for i, row in enumerate(result.rows):
        population = row[spec.population]
        if population is not None and 0 < population < k:
            for measure in spec.measures:
                hide(i, measure, PRIMARY)
            continue
        for measure in users:
            value = row[measure]
            if value is not None and 0 < value < k:
                hide(i, measure, PRIMARY)

    for i, row in enumerate(result.rows):
        key = cell_key(row, spec.group_by)
        for measure in users:
            value, before = row[measure], previous.get((key, measure))
            if value is not None and before is not None and 0 < abs(float(value) - before) < k:
                hide(i, measure, DIFFERENCE)

    original = [dict(r) for r in rows]
    for _ in range(10):  # each pass can only hide more; a few passes reach a fixed point
        changed = False
        for measure in users:
            for dim in spec.group_by:
                slices: dict[str, list[int]] = defaultdict(list)
                others = tuple(c for c in spec.group_by if c != dim)
                for i, row in enumerate(result.rows):
                    slices[cell_key(row, others)].append(i)
                for members in slices.values():
                    hidden = [i for i in members if result.rows[i][measure] is None and original[i][measure]]
                    shown = [i for i in members if result.rows[i][measure] not in (None, 0)]
                    if len(hidden) == 1 and shown:
                        smallest = min(shown, key=lambda i: result.rows[i][measure])
                        hide(smallest, measure, COMPLEMENTARY)
                        changed = True
        if not changed:
            break

    for i, row in enumerate(result.rows):
        row["suppressed"] = ",".join(sorted(reasons[i])) or None
    return result
