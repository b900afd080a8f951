"""Last year's borrowing, before the period: an ILS keeps its circulation history, so a library's
first load already holds the months before the platform went live. With it the persona marts
have a past: users who were active and drifted away, lapsed, came back, or stayed loyal.

Only circulation has a history (the proxy logs, gates and service systems start with the
period). The history ends on the last day before the period's first month, so that no monthly
file is written twice; it covers `history_days` days before that.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

from urm_demo.synth.academic_calendar import academic_year
from urm_demo.synth.circulation import CirculationSimulation
from urm_demo.synth.items import Collection
from urm_demo.synth.people import Person
from urm_demo.synth.writers import Manifest

GRADUATION_MONTH_DAY = (6, 30)  # graduating students leave on 30 June (as people.Person.status_on)


def history_period(start: date, history_days: int) -> tuple[date, date]:
    """First and last day of the history before a period that starts on `start`."""
    last = start.replace(day=1) - timedelta(days=1)
    return last - timedelta(days=history_days - 1), last


def people_in_history(people: list[Person], start: date, history_days: int, seed: int) -> list[Person]:
    """The roster as it was during the history: who could borrow, and until when.

    This year's entrants were not there yet; last year's graduates (still on the roster as
    graduated) left on 30 June; suspended and withdrawn students stopped at some day of it;
    everyone else could borrow throughout.
    """
    rng = random.Random(f"{seed}:history-roster")
    first, last = history_period(start, history_days)
    year = academic_year(start)
    result = []
    for person in people:
        active_from, active_until = first, last
        if person.entry_year is not None and person.entry_year >= year:
            active_from = last + timedelta(days=1)  # not yet at the university
        elif person.enrollment_status == "graduated" and person.expected_graduation_year:
            active_until = min(last, date(person.expected_graduation_year, *GRADUATION_MONTH_DAY))
        elif person.enrollment_status in ("suspended", "withdrawn"):
            active_until = first + timedelta(days=rng.randrange(history_days))
        result.append(replace(person, active_from=active_from, active_until=active_until))
    return result


def write_circulation_history(
    people: list[Person],
    collection: Collection,
    start: date,
    history_days: int,
    seed: int,
    out_dir: Path,
    manifest: Manifest,
    card_at: Callable[[Person, datetime], str] | None = None,
) -> int:
    """Simulate and write the history's Koha statistics and FOLIO loans; returns its loans.

    `card_at(person, moment)` names the card each event is made with (the campus history's: a
    lost card's replacement only from the day it was issued); without it, the roster's card."""
    first, last = history_period(start, history_days)
    # a random stream of its own: the history never changes the period's files
    history_seed = int(hashlib.sha256(f"{seed}:circulation-history".encode()).hexdigest()[:12], 16)
    simulation = CirculationSimulation(
        people_in_history(people, start, history_days, seed),
        collection,
        first,
        last,
        history_seed,
        out_dir,
        manifest,
        card_at=card_at,
    )
    return simulation.run().loans
