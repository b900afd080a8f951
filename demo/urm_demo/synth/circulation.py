"""Borrowing, day by day: who comes in, what they take, when they renew and return.

Each loan's whole life (renewals, return or none) is decided when it is issued, so its FOLIO record
can be written in its final state at once; its later Koha events wait in a heap until the clock
reaches them. Memory holds only the loans still in flight.
"""

from __future__ import annotations

import bisect
import csv
import functools
import heapq
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from ingest.circulation.koha import STATISTICS_COLUMNS
from urm_demo.synth.academic_calendar import (
    UTC_OFFSET,
    academic_year,
    library_day,
    mean_circulation_weight,
    next_open_time,
)
from urm_demo.synth.items import Collection, Item, uuid4_text
from urm_demo.synth.people import Person
from urm_demo.synth.subjects import BRANCH_NAMES
from urm_demo.synth.writers import Manifest, Month, MonthlyFiles, months_between

# Koha's own column names for its statistics table: one list, shared with the parser. The
# synthetic library's export also names the card each event was made with (cards get replaced).
KOHA_HEADER = (*STATISTICS_COLUMNS, "cardnumber")
BOOKS_PER_VISIT_CONTINUE = 0.38  # chance of taking one more book: about 1.6 books a visit
BOOKS_PER_VISIT = 1 / (1 - BOOKS_PER_VISIT_CONTINUE)
ANONYMISED_SHARE = 0.01
LOCAL_USE_SHARE = 0.03  # in-house use recorded per issue
# Visits by hour of day: late morning, afternoon and evening peaks.
HOUR_WEIGHTS = {
    8: 3,
    9: 7,
    10: 9,
    11: 7,
    12: 4,
    13: 5,
    14: 8,
    15: 9,
    16: 8,
    17: 5,
    18: 4,
    19: 6,
    20: 6,
    21: 3,
}
SERVICE_POINTS = {
    code: str(uuid.uuid5(uuid.NAMESPACE_URL, f"urm-synth:service-point:{code}")) for code in BRANCH_NAMES
}


def koha_encoding(month: Month) -> str:
    """Odd months are exported as UTF-8, even months as GB18030 (two export hosts, two locales)."""
    return "utf-8" if month[1] % 2 else "gb18030"


def koha_line_end(month: Month) -> str:
    return "\n" if month[1] % 2 else "\r\n"


@dataclass
class CirculationCounts:
    loans: int = 0
    loans_open_at_end: int = 0
    anonymised_loans: int = 0
    koha_rows: dict[str, int] = field(default_factory=dict)


@functools.lru_cache(maxsize=16)
def _hours(open_hour: int, close_hour: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    hours = tuple(h for h in range(open_hour, close_hour) if h in HOUR_WEIGHTS)
    cumulative, running = [], 0.0
    for hour in hours:
        running += HOUR_WEIGHTS[hour]
        cumulative.append(running)
    return hours, tuple(cumulative)


def _visit_time(rng: random.Random, day: date, open_hour: int, close_hour: int) -> datetime:
    hours, cumulative = _hours(open_hour, close_hour)
    hour = hours[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
    return datetime(day.year, day.month, day.day, hour) + timedelta(seconds=rng.randrange(3540))


def _pick_shelf(rng: random.Random, person: Person) -> str:
    keys, cumulative = person.reads
    return keys[min(bisect.bisect_left(cumulative, rng.random() * cumulative[-1]), len(keys) - 1)]


def _folio_time(moment: datetime, style: int) -> str:
    """FOLIO timestamps as they come: UTC with `Z`, with `.000Z`, or local with `+08:00`."""
    if style == 2:
        return moment.isoformat() + "+08:00"
    utc = (moment - UTC_OFFSET).isoformat()
    return utc + ("Z" if style == 0 else ".000Z")


def _koha_time(moment: datetime) -> str:
    return moment.isoformat(" ")


class CirculationSimulation:
    def __init__(
        self,
        people: list[Person],
        collection: Collection,
        start: date,
        end: date,
        seed: int,
        out_dir: Path,
        manifest: Manifest,
        card_at: Callable[[Person, datetime], str] | None = None,
    ) -> None:
        self.people, self.collection = people, collection
        self.card_at = card_at or (lambda person, moment: person.card_number)
        self.start, self.end = start, end
        self.end_moment = datetime.combine(end, time(23, 59, 59))
        self.rng = random.Random(f"{seed}:circulation")
        self.np_rng = np.random.default_rng([seed, 1])
        self.counts = CirculationCounts()
        self._heap: list[tuple[datetime, int, tuple[str, ...]]] = []
        self._sequence = 0
        self._on_loan: set[int] = set()
        self._returns: dict[int, datetime] = {}  # item number -> when it comes back
        months = months_between(start, end)
        koha_dir, folio_dir = out_dir / "circulation" / "koha", out_dir / "circulation" / "folio"
        self.koha = MonthlyFiles(
            manifest,
            "koha_statistics",
            months,
            lambda m: koha_dir / f"statistics-{m[0]:04d}-{m[1]:02d}.csv",
            encoding_for=koha_encoding,
            header=lambda m: ",".join(KOHA_HEADER) + koha_line_end(m),
        )
        self.folio = MonthlyFiles(
            manifest,
            "folio_loans",
            months,
            lambda m: folio_dir / f"loans-{m[0]:04d}-{m[1]:02d}.json",
            header=lambda m: '{"loans": [',
            footer=lambda m, rows: ("\n" if rows else "") + f'], "totalRecords": {rows}}}\n',
        )
        self._koha_writer: tuple[object, object] | None = None

    # --- the daily loop -------------------------------------------------------------------
    def run(self, on_progress: Callable[[str, int, int], None] | None = None) -> CirculationCounts:
        days = (self.end - self.start).days + 1
        year = academic_year(self.start)
        per_day = np.array([p.loans_per_year for p in self.people]) / (
            365 * BOOKS_PER_VISIT * mean_circulation_weight(year)
        )
        first_day = np.array([(p.active_from - self.start).days for p in self.people])
        last_day = np.array([(p.active_until - self.start).days for p in self.people])
        for offset in range(days):
            day = self.start + timedelta(days=offset)
            library = library_day(day)
            if library.is_open and library.circulation_weight > 0:
                active = (first_day <= offset) & (offset <= last_day)
                visits = self.np_rng.poisson(per_day * library.circulation_weight * active)
                issued_today = 0
                visitors = np.flatnonzero(visits)
                for index in visitors:
                    for _ in range(int(visits[index])):
                        issued_today += self._visit(
                            self.people[index], day, library.open_hour, library.close_hour
                        )
                self._local_use(day, library.open_hour, library.close_hour, visitors, issued_today)
            self._flush(datetime.combine(day + timedelta(days=1), time()))
            if on_progress:
                on_progress("circulation", offset + 1, days)
        self._flush(None)
        self.koha.close()
        self.folio.close()
        return self.counts

    def _visit(self, person: Person, day: date, open_hour: int, close_hour: int) -> int:
        rng = self.rng
        moment = _visit_time(rng, day, open_hour, close_hour)
        books = 1
        while rng.random() < BOOKS_PER_VISIT_CONTINUE and books < 6:
            books += 1
        issued = 0
        for _ in range(books):
            for _attempt in range(3):  # a title already out: look for another one
                number = self.collection.pick(rng, _pick_shelf(rng, person))
                if number not in self._on_loan:
                    break
            else:
                continue
            self._issue(person, self.collection.item(number), moment)
            issued += 1
            moment += timedelta(seconds=rng.randrange(8, 40))
        return issued

    def _local_use(
        self, day: date, open_hour: int, close_hour: int, visitors: np.ndarray, issued_today: int
    ) -> None:
        if not len(visitors):
            return
        for _ in range(int(self.np_rng.poisson(issued_today * LOCAL_USE_SHARE))):
            person = self.people[int(visitors[self.rng.randrange(len(visitors))])]
            number = self.collection.pick(self.rng, _pick_shelf(self.rng, person))
            item = self.collection.item(number)
            moment = _visit_time(self.rng, day, open_hour, close_hour)
            self._push(
                moment,
                self._koha_row(
                    moment,
                    item.branch,
                    "localuse",
                    item,
                    person.koha_borrowernumber,
                    person.category,
                    card=self.card_at(person, moment),
                ),
            )

    # --- one loan's life --------------------------------------------------------------------
    def _issue(self, person: Person, item: Item, issued: datetime) -> None:
        rng = self.rng
        faculty = person.category == "FAC"
        period = timedelta(days=90 if faculty else 30)
        max_renewals = 3 if faculty else 2
        draw = rng.random()
        renewals_wanted = 0 if draw < 0.8 else 1 if draw < 0.94 else 2
        renewals_wanted = min(renewals_wanted, max_renewals)

        due = datetime.combine(issued.date() + period, time(23, 59, 59))
        renewals: list[datetime] = []
        last = issued
        for _ in range(renewals_wanted):
            # Renewed online in the last week before the due date, at any hour of the day.
            renewed_on = due.date() - timedelta(days=rng.randrange(8))
            renewed = datetime.combine(
                renewed_on, time(rng.randrange(7, 24), rng.randrange(60), rng.randrange(60))
            )
            if renewed <= last:
                renewed = last + timedelta(hours=rng.randrange(20, 48))
            renewals.append(renewed)
            last = renewed
            due = datetime.combine(renewed.date() + period, time(23, 59, 59))

        returned: datetime | None
        if rng.random() < 0.015:
            returned = None  # lost, or kept for good
        else:
            draw = rng.random()
            if draw < 0.06:
                target = due + timedelta(days=rng.uniform(1, 30))
            elif draw < 0.5 and not renewals:
                target = last + timedelta(days=rng.uniform(1, 14))
            else:
                target = max(last + timedelta(days=1), due - timedelta(days=rng.uniform(0, 7)))
            if person.active_until < self.end and target.date() > person.active_until:
                # Graduates clear their loans before they leave.
                target = max(
                    last + timedelta(hours=1),
                    datetime.combine(person.active_until, time(10)) - timedelta(days=rng.uniform(0, 10)),
                )
            returned = next_open_time(target.replace(microsecond=0), rng.random())

        anonymised = rng.random() < ANONYMISED_SHARE
        borrower = "" if anonymised else person.koha_borrowernumber
        category = person.category

        def card(moment: datetime) -> str:
            return "" if anonymised else self.card_at(person, moment)

        self._push(
            issued, self._koha_row(issued, item.branch, "issue", item, borrower, category, card=card(issued))
        )
        renewals = [moment for moment in renewals if moment <= self.end_moment]
        for moment in renewals:
            interface = "opac" if rng.random() < 0.8 else "intranet"
            self._push(
                moment,
                self._koha_row(
                    moment, item.branch, "renew", item, borrower, category, interface, card=card(moment)
                ),
            )
        if returned is not None and returned > self.end_moment:
            returned = None
        if returned is not None:
            branch = item.branch if rng.random() < 0.85 else rng.choice(tuple(BRANCH_NAMES))
            self._push(
                returned,
                self._koha_row(returned, branch, "return", item, borrower, category, card=card(returned)),
            )
            self._returns[item.number] = returned
        self._on_loan.add(item.number)

        # The FOLIO record in its state at the end of the period.
        due_now = datetime.combine(
            (renewals[-1].date() if renewals else issued.date()) + period, time(23, 59, 59)
        )
        style = rng.randrange(3)
        loan: dict[str, object] = {"id": uuid4_text(rng.getrandbits(128).to_bytes(16, "big"))}
        if not anonymised:
            loan["userId"] = person.folio_user_id
        loan["itemId"] = item.folio_id
        loan["itemEffectiveLocationIdAtCheckOut"] = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"urm-synth:location:{item.branch}:{item.location}")
        )
        loan["status"] = {"name": "Closed" if returned else "Open"}
        loan["loanDate"] = _folio_time(issued, style)
        loan["dueDate"] = _folio_time(due_now, style)
        if returned:
            loan["returnDate"] = _folio_time(returned, style)
        loan["action"] = "checkedin" if returned else "renewed" if renewals else "checkedout"
        loan["renewalCount"] = len(renewals)
        loan["itemStatus"] = "Available" if returned else "Checked out"
        loan["checkoutServicePointId"] = SERVICE_POINTS[item.branch]
        self._write_folio(issued, loan)

        self.counts.loans += 1
        self.counts.loans_open_at_end += returned is None
        self.counts.anonymised_loans += anonymised

    def _write_folio(self, issued: datetime, loan: dict[str, object]) -> None:
        stream = self.folio.stream((issued.year, issued.month))
        record = self.folio.record
        assert record is not None
        stream.write(("\n" if record.rows == 0 else ",\n") + json.dumps(loan, ensure_ascii=False))
        record.rows += 1

    # --- Koha events, in time order ---------------------------------------------------------
    def _koha_row(
        self,
        moment: datetime,
        branch: str,
        kind: str,
        item: Item,
        borrower: str,
        category: str,
        interface: str = "intranet",
        *,
        card: str = "",
    ) -> tuple[str, ...]:
        return (
            _koha_time(moment),
            branch,
            "0.0000",
            kind,
            "",
            str(item.number),
            item.itype,
            item.location,
            borrower,
            "",
            category,
            interface,
            card,
        )

    def _push(self, moment: datetime, row: tuple[str, ...]) -> None:
        if moment <= self.end_moment:
            self._sequence += 1
            heapq.heappush(self._heap, (moment, self._sequence, row))

    def _flush(self, before: datetime | None) -> None:
        """Write every Koha event earlier than `before` (all of them when None)."""
        heap = self._heap
        while heap and (before is None or heap[0][0] < before):
            moment, _, row = heapq.heappop(heap)
            month = (moment.year, moment.month)
            stream = self.koha.stream(month)
            if self._koha_writer is None or self._koha_writer[0] is not stream:
                writer = csv.writer(stream, lineterminator=koha_line_end(month))
                self._koha_writer = (stream, writer)
            self._koha_writer[1].writerow(row)  # type: ignore[attr-defined]
            assert self.koha.record is not None
            self.koha.record.rows += 1
            self.counts.koha_rows[row[3]] = self.counts.koha_rows.get(row[3], 0) + 1
            if row[3] == "return":
                number = int(row[5])
                if self._returns.get(number) == moment:
                    self._on_loan.discard(number)
                    del self._returns[number]
