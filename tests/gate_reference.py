"""Plain-Python statements of the gate rules, written apart from the dbt models, to check them:
visit pairing (a walk through each card's swipes at each site) and the daily figures of a
cumulative people counter (readings to visitors). Tests compare the warehouse with these."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

DOUBLE_SWIPE = timedelta(seconds=60)
MAX_VISIT = timedelta(hours=12)
CLOCK_SKEW = timedelta(seconds=120)


@dataclass(frozen=True)
class Swipe:
    key: str
    card: str | None
    site: str | None
    direction: str  # in | out
    result: str  # granted | denied
    at: datetime


@dataclass(frozen=True)
class Site:
    opens_at: time
    closes_at: time
    open_24h: bool


@dataclass(frozen=True)
class Visit:
    card: str
    site: str
    entry: str | None
    exit: str | None
    entered_at: datetime | None
    left_at: datetime
    exit_imputed: bool
    entry_missing: bool
    clock_skew: bool


def next_local(moment: datetime, clock: time, zone: ZoneInfo) -> datetime:
    """The first instant strictly after `moment` at which the local clock shows `clock`."""
    local = moment.astimezone(zone)
    candidate = datetime.combine(local.date(), clock, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), clock, tzinfo=zone)
    return candidate


def pair_visits(swipes: Iterable[Swipe], sites: Mapping[str, Site], zone: ZoneInfo) -> list[Visit]:
    """Walk each card's granted swipes at each site in time order, as the README states the rules."""
    groups: dict[tuple[str, str], list[Swipe]] = defaultdict(list)
    for swipe in swipes:
        if swipe.result == "granted" and swipe.card and swipe.site in sites:
            groups[(swipe.card, swipe.site)].append(swipe)
    visits: list[Visit] = []
    for (card, site_code), group in groups.items():
        site = sites[site_code]
        group.sort(key=lambda s: (s.at, s.direction, s.key))
        kept: list[Swipe] = []
        previous: Swipe | None = None
        for swipe in group:  # double swipes: compared with the swipe just before, kept or not
            if (
                previous is None
                or swipe.direction != previous.direction
                or swipe.at - previous.at > DOUBLE_SWIPE
            ):
                kept.append(swipe)
            previous = swipe
        used: set[str] = set()
        for index, swipe in enumerate(kept):
            if swipe.direction != "in":
                continue
            following = kept[index + 1] if index + 1 < len(kept) else None
            before = kept[index - 1] if index > 0 else None
            if site.open_24h:
                pairs_until = closes_by = swipe.at + MAX_VISIT
            else:
                closing = next_local(swipe.at, site.closes_at, zone)
                pairs_until = min(swipe.at + MAX_VISIT, next_local(closing, site.opens_at, zone))
                closes_by = min(swipe.at + MAX_VISIT, closing)
            if following is not None and following.direction == "out" and following.at <= pairs_until:
                used.add(following.key)
                visits.append(
                    Visit(
                        card, site_code, swipe.key, following.key, swipe.at, following.at, False, False, False
                    )
                )
            elif (
                before is not None
                and before.direction == "out"
                and before.key not in used
                and swipe.at - before.at <= CLOCK_SKEW
            ):
                used.add(before.key)
                visits.append(
                    Visit(card, site_code, swipe.key, before.key, swipe.at, swipe.at, False, False, True)
                )
            else:
                left = min(closes_by, following.at) if following is not None else closes_by
                visits.append(Visit(card, site_code, swipe.key, None, swipe.at, left, True, False, False))
        for swipe in kept:
            if swipe.direction == "out" and swipe.key not in used:
                visits.append(Visit(card, site_code, None, swipe.key, None, swipe.at, False, True, False))
    return visits


def collapsed_swipes(swipes: Iterable[Swipe], sites: Mapping[str, Site]) -> set[str]:
    """Keys of the granted swipes that are double swipes (absorbed by the swipe before)."""
    groups: dict[tuple[str, str], list[Swipe]] = defaultdict(list)
    for swipe in swipes:
        if swipe.result == "granted" and swipe.card and swipe.site in sites:
            groups[(swipe.card, swipe.site)].append(swipe)
    absorbed = set()
    for group in groups.values():
        group.sort(key=lambda s: (s.at, s.direction, s.key))
        for before, swipe in zip(group, group[1:], strict=False):
            if swipe.direction == before.direction and swipe.at - before.at <= DOUBLE_SWIPE:
                absorbed.add(swipe.key)
    return absorbed


# -- cumulative people counters ---------------------------------------------------------------------


def daily_visitors(
    readings: Mapping[date, int | None],
    *,
    counter_max: int,
    bidirectional: bool = False,
    closed: Iterable[date] = (),
    rollover_share: float = 0.8,
    weeks: int = 4,
) -> dict[date, Decimal | None]:
    """Visitors per day from one counter's daily cumulative readings (None: no number that day),
    by the platform's rules: rollover near the maximum, misreadings left out, resets, multi-day
    differences shared by the weekday averages of measured days, closed days at 0, halved when
    bidirectional. The first reading is the baseline."""
    closed = set(closed)
    numeric = sorted((d, v) for d, v in readings.items() if v is not None)
    accepted = []
    for i, (day, value) in enumerate(numeric):
        before = numeric[i - 1][1] if i > 0 else None
        after = numeric[i + 1][1] if i + 1 < len(numeric) else None
        misread = (
            before is not None
            and value < before
            and before < rollover_share * counter_max
            and (after is None or after >= before)
        )
        if not misread:
            accepted.append((day, value))
    spans = []
    for (first, previous), (day, value) in zip(accepted, accepted[1:], strict=False):
        if value >= previous:
            amount = value - previous
        elif previous >= rollover_share * counter_max:
            amount = counter_max - previous + value
        else:
            amount = value
        spans.append((first + timedelta(days=1), day, Decimal(amount) / (2 if bidirectional else 1)))
    measured = {last: amount for first, last, amount in spans if first == last and last not in closed}

    def average(day: date) -> Decimal | None:
        found = [measured[d] for k in range(1, weeks + 1) if (d := day - timedelta(days=7 * k)) in measured]
        return sum(found) / len(found) if found else None

    result: dict[date, Decimal | None] = {}
    for first, last, amount in spans:
        days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        averages = {d: average(d) for d in days if d not in closed}
        known = [a for a in averages.values() if a is not None]
        fallback = sum(known) / len(known) if known else Decimal(1)
        weights = {
            d: (Decimal(0) if d in closed else (averages[d] if averages[d] is not None else fallback))
            for d in days
        }
        total = sum(weights.values())
        open_days = [d for d in days if d not in closed]
        for d in days:
            if d in closed:
                result[d] = Decimal(0)
            elif total > 0:
                result[d] = amount * weights[d] / total
            else:
                result[d] = amount / len(open_days)
    return result


# -- the synthetic university's swipe exports -------------------------------------------------------


def read_swipes(
    folder: Path, gate_site: Mapping[str, str], zone: ZoneInfo, malformed: list[tuple[str, int]] | None = None
) -> list[Swipe]:
    """Every well-formed swipe of the three export shapes in `folder` (the gate/swipes folder of
    the synthetic university), keyed by file and line; `gate_site` maps a turnstile to its site.
    A line whose time cannot be read is left out (the loader quarantines it), and added to
    `malformed` as (file name, line)."""
    swipes: list[Swipe] = []

    def add(where: str, card: str, gate: str, direction: str, result: str, at: datetime) -> None:
        swipes.append(Swipe(where, card, gate_site.get(gate), direction, result, at))

    for path in sorted(folder.glob("main-*.csv")):
        for line, row in enumerate(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))), start=2):
            try:
                at = datetime.strptime(row["passed_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
            except ValueError:
                if malformed is not None:
                    malformed.append((path.name, line))
                continue
            add(f"{path.name}:{line}", row["card_number"], row["gate"], row["direction"], row["result"], at)
    for path in sorted(folder.glob("med-*.csv")):
        text = path.read_bytes().decode("gb18030")
        for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            at = datetime.strptime(row["时间"], "%Y/%m/%d %H:%M:%S").replace(tzinfo=zone)
            direction = {"进": "in", "出": "out"}[row["方向"]]
            result = {"通过": "granted", "拒绝": "denied"}[row["结果"]]
            add(f"{path.name}:{line}", row["卡号"], row["通道"], direction, result, at)
    for path in sorted(folder.glob("study24-*.jsonl")):
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            row = json.loads(text)
            at = datetime.fromisoformat(row["passed_at"])
            add(f"{path.name}:{line}", row["card_number"], row["gate"], row["direction"], row["result"], at)
    return swipes
