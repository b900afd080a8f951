"""The entrance gates: card swipes at the turnstiles and the people counters' figures, written
from one simulation of who walks through which door when, so that the two agree.

Sites (as in dbt_project/seeds/gate_sites.csv and gate_devices.csv): the main library (MAIN,
lanes MAIN-G1/G2 in, MAIN-G3/G4 out, cumulative counter MAIN-C1 that counts in and out), the
medical branch (MED, MED-G1 in, MED-G2 out, hourly counter MED-C1 in a two-block UTC export) and
a 24-hour study room (STUDY24, one door S24-G1, hourly counter S24-C1 with _SUM_IN/_SUM_OUT
columns in local time and record ids that wrap). The library's opening hours and holidays come
from the academic calendar; everything is closed on the calendar's closed holidays.

What real gates do, on purpose: visitors without cards (counted, never swiped), visiting readers
whose cards are on no roster, forgotten exits (the person leaves behind someone else), double
swipes, a misread card denied then granted, students who left the university denied, MED-G2's
clock 90 seconds behind (a very quick visit is then recorded as leaving before it came), evenings
in the study room that run past midnight, MAIN-C1 rolling over at 999999 and broken for three
days, a few staff counted on a closed holiday, and one malformed line in a MAIN export.

Files: gate/swipes/main-YYYY-MM-DD.csv (English header, UTF-8), gate/swipes/med-YYYY-MM.csv (the
Chinese campus export 卡号,姓名,通道,方向,时间,结果 in GB18030, names included as the vendor
writes them), gate/swipes/study24-YYYY-MM.jsonl, gate/counters/cumulative/MAIN-C1.csv,
gate/counters/interval/med-YYYY-MM.csv and gate/counters/interval/study24-YYYY-MM.csv.
"""

from __future__ import annotations

import bisect
import heapq
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from urm_demo.synth.academic_calendar import (
    EXAM,
    REVIEW,
    UTC_OFFSET,
    academic_year,
    library_day,
    mean_circulation_weight,
)
from urm_demo.synth.people import FACULTY, STAFF, STUDENT, Person
from urm_demo.synth.writers import Manifest, MonthlyFiles, months_between, open_text

COUNTER_MAX = 999_999
RECORD_ID_WRAP = 4_294_967_295
MED_EXIT_CLOCK_BEHIND = timedelta(seconds=90)
ENGLISH_HEADER = "card_number,gate,direction,passed_at,result"
CHINESE_HEADER = "卡号,姓名,通道,方向,时间,结果"
SUM_HEADER = "RecordID,DeviceID,Date,Time,Door1_IN,Door1_OUT,_SUM_IN,_SUM_OUT"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Visits by hour of arrival.
HOUR_WEIGHTS = {
    8: 5,
    9: 9,
    10: 8,
    11: 5,
    12: 3,
    13: 6,
    14: 8,
    15: 7,
    16: 5,
    17: 3,
    18: 5,
    19: 6,
    20: 3,
    21: 1,
}
# Weekly visits of a regular visitor, by person type (a quarter of the people never come).
WEEKLY_VISITS = {STUDENT: 0.9, FACULTY: 0.3, STAFF: 0.2}
NEVER_VISIT = 0.25
DOUBLE_SWIPE = 0.03
FORGOTTEN_EXIT = 0.04
MISREAD_CARD = 0.01
QUICK_MED_VISIT = 0.03
STUDY_ROOM_EVENING = 0.012  # chance an active student spends an evening in the study room
BROKEN_DAYS = (9, 10, 11)  # offsets from the first day: MAIN-C1 reports no number
BROKEN_TEXT = ("Gate broken", "NA", "Gate broken")


@dataclass(order=True)
class Swipe:
    at: datetime  # as the gate's clock recorded it (local time)
    seq: int
    site: str = field(compare=False)
    card: str = field(compare=False)
    name: str = field(compare=False)
    gate: str = field(compare=False)
    direction: str = field(compare=False)
    result: str = field(compare=False)


@dataclass
class GateCounts:
    swipes: int = 0
    visits: int = 0
    cardless_visits: int = 0
    denied: int = 0
    swipes_by_site: dict[str, int] = field(default_factory=dict)


def _local_day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


class GateSimulation:
    def __init__(
        self,
        people: list[Person],
        start: date,
        end: date,
        seed: int,
        out_dir: Path,
        manifest: Manifest,
        card_at: Callable[[Person, datetime], str] | None = None,
    ) -> None:
        self.people, self.start, self.end = people, start, end
        # the card a person holds at a moment (a lost card is replaced): the campus history says
        self.card_at = card_at or (lambda person, moment: person.card_number)
        self.out_dir, self.manifest = out_dir, manifest
        self.rng = random.Random(f"{seed}:gate")
        self.np_rng = np.random.default_rng([seed, 3])
        self.counts = GateCounts()
        self._seq = 0
        self._pending: list[Swipe] = []
        # physical passages counted by the counters: (site, local day, hour) -> [in, out]
        self._passages: dict[tuple[str, date, int], list[int]] = defaultdict(lambda: [0, 0])
        self._main_daily: dict[date, int] = defaultdict(int)
        self._malformed_written = False
        months = months_between(start, end)
        self._med_swipes = MonthlyFiles(
            manifest,
            "gate_swipes",
            months,
            lambda m: out_dir / "gate" / "swipes" / f"med-{m[0]:04d}-{m[1]:02d}.csv",
            encoding_for=lambda m: "gb18030",
            header=lambda m: CHINESE_HEADER + "\r\n",
        )
        self._study_swipes = MonthlyFiles(
            manifest,
            "gate_swipes",
            months,
            lambda m: out_dir / "gate" / "swipes" / f"study24-{m[0]:04d}-{m[1]:02d}.jsonl",
        )
        self._med_counter = MonthlyFiles(
            manifest,
            "gate_counter_intervals",
            months,
            lambda m: out_dir / "gate" / "counters" / "interval" / f"med-{m[0]:04d}-{m[1]:02d}.csv",
            header=lambda m: (
                "Device Name,MED-C1\nSerial No,DS-2CD6825G0-0042\nTime Zone,UTC\n"
                f"Report,{m[0]:04d}-{m[1]:02d}\n\nRuleName,In,Out,StartTime,EndTime\n"
            ),
        )
        self._study_counter = MonthlyFiles(
            manifest,
            "gate_counter_intervals",
            months,
            lambda m: out_dir / "gate" / "counters" / "interval" / f"study24-{m[0]:04d}-{m[1]:02d}.csv",
            header=lambda m: SUM_HEADER + "\n",
        )
        # the study room counter's record numbers wrap a little after the period starts
        self._record_id = RECORD_ID_WRAP - 30
        self._visitor_cards = [
            (f"29{n:08d}", "访客") for n in self.rng.sample(range(10**8), max(3, len(people) // 50))
        ]
        self._rates = self._visit_rates()

    # -- who comes ---------------------------------------------------------------------------------

    def _visit_rates(self) -> np.ndarray:
        """Visits per open day of average weight, per person (0 for those who never come)."""
        rates = np.zeros(len(self.people))
        for index, person in enumerate(self.people):
            if self.rng.random() < NEVER_VISIT:
                continue
            weekly = WEEKLY_VISITS[person.person_type] * float(np.exp(self.rng.gauss(0, 0.7)))
            if person.loans_per_year > 0:
                weekly *= 1.3  # borrowers come more often
            rates[index] = min(weekly / 6, 0.9)
        return rates

    def run(self, on_progress: Callable[[str, int, int], None] | None = None) -> GateCounts:
        days = (self.end - self.start).days + 1
        mean_weight = mean_circulation_weight(academic_year(self.start))
        first = np.array([(p.active_from - self.start).days for p in self.people])
        last = np.array([(p.active_until - self.start).days for p in self.people])
        students = np.array([p.person_type == STUDENT for p in self.people])
        departed = np.array(
            [p.enrollment_status in ("graduated", "suspended", "withdrawn") for p in self.people]
        )
        for offset in range(days):
            day = self.start + timedelta(days=offset)
            library = library_day(day)
            active = (first <= offset) & (offset <= last)
            if library.is_open:
                weight = library.circulation_weight / mean_weight
                chosen = np.flatnonzero(
                    self.np_rng.random(len(self.people)) < self.rates_for(weight) * active
                )
                for index in chosen:
                    self._library_visit(self.people[int(index)], day, library.open_hour, library.close_hour)
                self._visiting_readers(day, library.open_hour, library.close_hour)
                self._cardless(day, library.open_hour, library.close_hour, weight)
                for index in np.flatnonzero((self.np_rng.random(len(self.people)) < 0.004) & departed):
                    self._denied_attempt(self.people[int(index)], day, library.open_hour, library.close_hour)
                evening = STUDY_ROOM_EVENING * (3 if library.phase in (REVIEW, EXAM) else 1)
                for index in np.flatnonzero(
                    (self.np_rng.random(len(self.people)) < evening) & active & students
                ):
                    self._study_room_evening(self.people[int(index)], day)
            elif library.phase == "holiday":
                self._staff_on_holiday(day)
            self._flush(_local_day_start(day + timedelta(days=1)))
            self._write_counter_hours(day)
            if on_progress:
                on_progress("gate", offset + 1, days)
        # the exports end with the period: a study-room exit after its last midnight is not in them
        self._flush(_local_day_start(self.end + timedelta(days=1)))
        self._pending.clear()
        for files in (self._med_swipes, self._study_swipes, self._med_counter, self._study_counter):
            files.close()
        self._write_cumulative_counter()
        return self.counts

    def rates_for(self, weight: float) -> np.ndarray:
        return np.minimum(self._rates * weight, 0.95)

    # -- visits ------------------------------------------------------------------------------------

    def _arrival(self, day: date, open_hour: int, close_hour: int) -> datetime:
        hours = [h for h in range(open_hour, close_hour) if h in HOUR_WEIGHTS] or [open_hour]
        cumulative, running = [], 0.0
        for hour in hours:
            running += HOUR_WEIGHTS.get(hour, 1)
            cumulative.append(running)
        hour = hours[bisect.bisect_left(cumulative, self.rng.random() * cumulative[-1])]
        return _local_day_start(day) + timedelta(hours=hour, seconds=self.rng.randrange(3600))

    def _stay(self, arrival: datetime, close_hour: int) -> datetime:
        minutes = max(5.0, 95 * float(np.exp(self.rng.gauss(0, 0.7))))
        leave = arrival + timedelta(minutes=minutes)
        closing = _local_day_start(arrival.date()) + timedelta(hours=close_hour)
        if leave >= closing:  # everyone is out at closing time
            leave = max(arrival + timedelta(minutes=1), closing - timedelta(seconds=self.rng.randrange(900)))
        return leave

    def _library_visit(self, person: Person, day: date, open_hour: int, close_hour: int) -> None:
        medical = person.proxy_site == "medical"
        site = "MED" if self.rng.random() < (0.85 if medical else 0.04) else "MAIN"
        arrival = self._arrival(day, open_hour, close_hour)
        leave = self._stay(arrival, close_hour)
        if site == "MED" and self.rng.random() < QUICK_MED_VISIT:  # drops a book in the return box
            leave = arrival + timedelta(seconds=self.rng.randrange(20, 80))
        self._visit(site, self.card_at(person, arrival), person.name, arrival, leave)

    def _visiting_readers(self, day: date, open_hour: int, close_hour: int) -> None:
        for card, name in self._visitor_cards:
            if self.rng.random() < 0.15:
                arrival = self._arrival(day, open_hour, close_hour)
                self._visit("MAIN", card, name, arrival, self._stay(arrival, close_hour))

    def _cardless(self, day: date, open_hour: int, close_hour: int, weight: float) -> None:
        """Guests let in at the desk: the counters count them, the turnstiles never see them."""
        for site, share in (("MAIN", 0.02), ("MED", 0.006)):
            for _ in range(int(self.np_rng.poisson(share * len(self.people) * weight))):
                arrival = self._arrival(day, open_hour, close_hour)
                self._count(site, arrival, 0)
                self._count(site, self._stay(arrival, close_hour), 1)
                self.counts.cardless_visits += 1

    def _study_room_evening(self, person: Person, day: date) -> None:
        arrival = _local_day_start(day) + timedelta(hours=18, seconds=self.rng.randrange(5 * 3600 + 1800))
        leave = arrival + timedelta(minutes=self.rng.randrange(60, 7 * 60))
        closed_next = (
            not library_day(day + timedelta(days=1)).is_open
            and library_day(day + timedelta(days=1)).phase == "holiday"
        )
        if closed_next:  # the room closes with the library on closed holidays
            leave = min(leave, _local_day_start(day + timedelta(days=1)) - timedelta(minutes=5))
        self._visit("STUDY24", self.card_at(person, arrival), person.name, arrival, leave)

    def _denied_attempt(self, person: Person, day: date, open_hour: int, close_hour: int) -> None:
        at = self._arrival(day, open_hour, close_hour)
        self._swipe(
            "MAIN",
            self.card_at(person, at),
            person.name,
            self.rng.choice(("MAIN-G1", "MAIN-G2")),
            "in",
            "denied",
            at,
        )

    def _staff_on_holiday(self, day: date) -> None:
        """Closed holidays: on the second day a few staff come in through the main door (counted)."""
        if library_day(day - timedelta(days=1)).is_open or not library_day(day - timedelta(days=2)).is_open:
            return
        for _ in range(3):
            arrival = _local_day_start(day) + timedelta(hours=10, seconds=self.rng.randrange(3600))
            self._count("MAIN", arrival, 0)
            self._count("MAIN", arrival + timedelta(minutes=self.rng.randrange(20, 90)), 1)

    def _visit(self, site: str, card: str, name: str, arrival: datetime, leave: datetime) -> None:
        self.counts.visits += 1
        self._count(site, arrival, 0)
        self._count(site, leave, 1)
        entry_gate, exit_gate = {
            "MAIN": (self.rng.choice(("MAIN-G1", "MAIN-G2")), self.rng.choice(("MAIN-G3", "MAIN-G4"))),
            "MED": ("MED-G1", "MED-G2"),
            "STUDY24": ("S24-G1", "S24-G1"),
        }[site]
        if self.rng.random() < MISREAD_CARD:
            before = arrival - timedelta(seconds=self.rng.randrange(5, 20))
            self._swipe(site, card, name, entry_gate, "in", "denied", before)
        self._swipe(site, card, name, entry_gate, "in", "granted", arrival)
        if self.rng.random() < DOUBLE_SWIPE:
            self._swipe(
                site,
                card,
                name,
                entry_gate,
                "in",
                "granted",
                arrival + timedelta(seconds=self.rng.randrange(2, 40)),
            )
        if self.rng.random() < FORGOTTEN_EXIT:
            return
        recorded = leave - MED_EXIT_CLOCK_BEHIND if exit_gate == "MED-G2" else leave
        self._swipe(site, card, name, exit_gate, "out", "granted", recorded)
        if self.rng.random() < DOUBLE_SWIPE:
            self._swipe(
                site,
                card,
                name,
                exit_gate,
                "out",
                "granted",
                recorded + timedelta(seconds=self.rng.randrange(2, 40)),
            )

    def _count(self, site: str, at: datetime, direction: int) -> None:
        self._passages[(site, at.date(), at.hour)][direction] += 1
        if site == "MAIN":
            self._main_daily[at.date()] += 1  # MAIN-C1 counts both ways

    def _swipe(
        self, site: str, card: str, name: str, gate: str, direction: str, result: str, at: datetime
    ) -> None:
        self._seq += 1
        heapq.heappush(
            self._pending,
            Swipe(at.replace(microsecond=0), self._seq, site, card, name, gate, direction, result),
        )

    # -- files -------------------------------------------------------------------------------------

    def _flush(self, before: datetime) -> None:
        """Write the swipes recorded before `before` (local), in time order, to their files."""
        main_by_day: dict[date, list[Swipe]] = defaultdict(list)
        while self._pending and self._pending[0].at < before:
            swipe = heapq.heappop(self._pending)
            self.counts.swipes += 1
            self.counts.swipes_by_site[swipe.site] = self.counts.swipes_by_site.get(swipe.site, 0) + 1
            self.counts.denied += swipe.result == "denied"
            if swipe.site == "MAIN":
                main_by_day[swipe.at.date()].append(swipe)
            elif swipe.site == "MED":
                stream = self._med_swipes.stream((swipe.at.year, swipe.at.month))
                stream.write(
                    f"{swipe.card},{swipe.name},{swipe.gate},{'进' if swipe.direction == 'in' else '出'},"
                    f"{swipe.at:%Y/%m/%d %H:%M:%S},{'通过' if swipe.result == 'granted' else '拒绝'}\r\n"
                )
                assert self._med_swipes.record is not None
                self._med_swipes.record.rows += 1
            else:
                stream = self._study_swipes.stream((swipe.at.year, swipe.at.month))
                record = {
                    "card_number": swipe.card,
                    "gate": swipe.gate,
                    "direction": swipe.direction,
                    "passed_at": swipe.at.isoformat() + "+08:00",
                    "result": swipe.result,
                }
                stream.write(json.dumps(record) + "\n")
                assert self._study_swipes.record is not None
                self._study_swipes.record.rows += 1
        for day, swipes in sorted(main_by_day.items()):
            self._write_main_day(day, swipes)

    def _write_main_day(self, day: date, swipes: list[Swipe]) -> None:
        path = self.out_dir / "gate" / "swipes" / f"main-{day:%Y-%m-%d}.csv"
        record = self.manifest.add(path, "gate_swipes")
        with open_text(path) as stream:
            stream.write(ENGLISH_HEADER + "\n")
            for swipe in swipes:
                stream.write(
                    f"{swipe.card},{swipe.gate},{swipe.direction},"
                    f"{swipe.at:%Y-%m-%d %H:%M:%S},{swipe.result}\n"
                )
                record.rows += 1
            if not self._malformed_written and len(swipes) > 3:
                # an export glitch: an hour that does not exist
                stream.write(f"{swipes[0].card},{swipes[0].gate},in,{day:%Y-%m-%d} 25:61:00,granted\n")
                self._malformed_written = True

    def _write_counter_hours(self, day: date) -> None:
        for hour in range(24):
            start = _local_day_start(day) + timedelta(hours=hour)
            count_in, count_out = self._passages.pop(("MED", day, hour), [0, 0])
            utc = start - UTC_OFFSET
            med = self._med_counter.stream((day.year, day.month))
            med.write(
                f"Entrance,{count_in},{count_out},"
                f"{utc:%Y-%m-%dT%H:%M:%SZ},{utc + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}\n"
            )
            assert self._med_counter.record is not None
            self._med_counter.record.rows += 1
            study_in, study_out = self._passages.pop(("STUDY24", day, hour), [0, 0])
            study = self._study_counter.stream((day.year, day.month))
            study.write(
                f"{self._record_id},S24-C1,{day:%Y-%m-%d},{hour:02d}:00,{study_in},{study_out},{study_in},{study_out}\n"
            )
            self._record_id = 0 if self._record_id == RECORD_ID_WRAP else self._record_id + 1
            assert self._study_counter.record is not None
            self._study_counter.record.rows += 1
            self._passages.pop(("MAIN", day, hour), None)

    @staticmethod
    def _first_closed_day(day: date) -> bool:
        today, before = library_day(day), library_day(day - timedelta(days=1))
        return today.phase == "holiday" and not today.is_open and before.is_open

    def _write_cumulative_counter(self) -> None:
        """MAIN-C1's daily readings, gateCounts style (CRLF, no final newline). It shows 1 after
        999999, so that visitors = maximum - previous + reading across a rollover."""
        days = (self.end - self.start).days + 1
        dates = [self.start + timedelta(days=k) for k in range(days)]
        passages = [self._main_daily.get(d, 0) for d in dates]
        # start so that the counter rolls over about a third into the period
        third = sum(passages[: max(1, days // 3)])
        total = COUNTER_MAX - third if third < COUNTER_MAX // 2 else 5_000
        lines = ["dates,counts"]
        for offset, (day, count) in enumerate(zip(dates, passages, strict=True)):
            total += count
            label = f"{day.day:02d}-{MONTHS[day.month - 1]}-{day:%y}"
            if offset in BROKEN_DAYS and days > max(BROKEN_DAYS) + 3:
                lines.append(f"{label},{BROKEN_TEXT[BROKEN_DAYS.index(offset)]}")
            elif self._first_closed_day(day):
                lines.append(f'{label},"""Gate Closed"""')  # the counter's own note, as in gateCounts
            else:
                lines.append(f"{label},{(total - 1) % COUNTER_MAX + 1}")
        path = self.out_dir / "gate" / "counters" / "cumulative" / "MAIN-C1.csv"
        record = self.manifest.add(path, "gate_counter_readings")
        with open_text(path) as stream:
            stream.write("\r\n".join(lines))
        record.rows = days
