"""The academic calendar of a Chinese university and the library's opening hours.

Autumn term: 20 weeks from the first Monday of September (16 teaching weeks, 2 review weeks,
2 exam weeks). Spring term: 18 weeks from late February, never before the Spring Festival is two
weeks past (14 teaching, 2 review, 2 exam). Between terms the library opens weekdays only, for
shorter hours. Public holidays close it. All times are local (Asia/Shanghai, UTC+8, no DST).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

TIMEZONE = "Asia/Shanghai"
UTC_OFFSET = timedelta(hours=8)

TEACHING, REVIEW, EXAM, VACATION, HOLIDAY = "teaching", "review", "exam", "vacation", "holiday"

# Lunar new year's day: the Spring Festival closure moves with it.
SPRING_FESTIVAL = {
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}

# Relative activity on a weekday / a weekend day, by phase: exams bring people in, vacations
# empty the library. E-resources follow the term less closely than borrowing does.
CIRCULATION_WEIGHT = {
    TEACHING: (1.0, 0.55),
    REVIEW: (1.35, 0.8),
    EXAM: (1.7, 1.1),
    VACATION: (0.25, 0.0),
    HOLIDAY: (0.3, 0.3),
}
ERESOURCE_WEIGHT = {
    TEACHING: (1.0, 0.7),
    REVIEW: (1.1, 0.8),
    EXAM: (0.9, 0.8),
    VACATION: (0.45, 0.35),
    HOLIDAY: (0.3, 0.3),
}


@dataclass(frozen=True, slots=True)
class LibraryDay:
    day: date
    phase: str
    open_hour: int  # local opening time (whole hours); open_hour == close_hour means closed
    close_hour: int
    circulation_weight: float
    eresource_weight: float

    @property
    def is_open(self) -> bool:
        return self.close_hour > self.open_hour


def academic_year(day: date) -> int:
    """The calendar year in which the academic year containing `day` began (August starts it)."""
    return day.year if day.month >= 8 else day.year - 1


def _first_monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def spring_festival(year: int) -> date:
    # Outside the table, mid-February is a fair guess: the vacation covers it either way.
    return SPRING_FESTIVAL.get(year, date(year, 2, 10))


@functools.lru_cache(maxsize=64)
def _terms(year: int) -> tuple[tuple[date, int, int, int], ...]:
    """(start, teaching weeks, review weeks, exam weeks) of the terms of academic year `year`."""
    autumn = _first_monday_on_or_after(date(year, 9, 1))
    spring = max(
        _first_monday_on_or_after(date(year + 1, 2, 24)),
        _first_monday_on_or_after(spring_festival(year + 1) + timedelta(days=14)),
    )
    return ((autumn, 16, 2, 2), (spring, 14, 2, 2))


def _phase(day: date) -> str:
    for start, teaching, review, exam in _terms(academic_year(day)):
        week = (day - start).days // 7
        if 0 <= week < teaching:
            return TEACHING
        if teaching <= week < teaching + review:
            return REVIEW
        if teaching + review <= week < teaching + review + exam:
            return EXAM
    return VACATION


def _is_closed_holiday(day: date) -> bool:
    festival = spring_festival(day.year)
    return (day.month, day.day) in {
        (1, 1),
        (5, 1),
        (5, 2),
        (5, 3),
        (10, 1),
        (10, 2),
        (10, 3),
    } or festival - timedelta(days=2) <= day <= festival + timedelta(days=5)


def _is_short_holiday(day: date) -> bool:
    # The rest of the National Day golden week and of the May Day break: short hours.
    return (day.month == 10 and 4 <= day.day <= 7) or (day.month == 5 and 4 <= day.day <= 5)


@functools.lru_cache(maxsize=4096)
def library_day(day: date) -> LibraryDay:
    """What the library is like on `day`: phase of the year, opening hours, relative activity."""
    weekend = day.weekday() >= 5
    if _is_closed_holiday(day):
        return LibraryDay(day, HOLIDAY, 0, 0, 0.0, ERESOURCE_WEIGHT[HOLIDAY][0])
    if _is_short_holiday(day):
        return LibraryDay(day, HOLIDAY, 9, 17, CIRCULATION_WEIGHT[HOLIDAY][0], ERESOURCE_WEIGHT[HOLIDAY][0])
    phase = _phase(day)
    circulation = CIRCULATION_WEIGHT[phase][weekend]
    eresource = ERESOURCE_WEIGHT[phase][weekend]
    if phase == VACATION:
        open_hour, close_hour = (0, 0) if weekend else (9, 17)
    elif weekend and phase != EXAM:
        open_hour, close_hour = 9, 21
    else:
        open_hour, close_hour = 8, 22
    return LibraryDay(day, phase, open_hour, close_hour, circulation, eresource)


@functools.lru_cache(maxsize=64)
def mean_circulation_weight(year: int) -> float:
    """Average circulation weight over academic year `year`: turns annual rates into daily ones."""
    first = date(year, 8, 1)
    days = (date(year + 1, 8, 1) - first).days
    weights = (library_day(first + timedelta(days=i)).circulation_weight for i in range(days))
    return sum(weights) / days


@functools.lru_cache(maxsize=64)
def mean_eresource_weight(year: int) -> float:
    first = date(year, 8, 1)
    days = (date(year + 1, 8, 1) - first).days
    weights = (library_day(first + timedelta(days=i)).eresource_weight for i in range(days))
    return sum(weights) / days


def next_open_time(moment: datetime, minute_of_open_day: float) -> datetime:
    """`moment` if the library is open then, else a time on the next open day.

    `minute_of_open_day` (0..1) places the moved event within that day's opening hours, so that
    returns of books due on a closed day spread over the following opening day.
    """
    day = library_day(moment.date())
    if day.is_open and day.open_hour <= moment.hour < day.close_hour:
        return moment
    current = moment.date() if moment.hour < day.open_hour else moment.date() + timedelta(days=1)
    for _ in range(400):
        day = library_day(current)
        if day.is_open and (current > moment.date() or moment.hour < day.open_hour):
            seconds = int(minute_of_open_day * (day.close_hour - day.open_hour) * 3600)
            return datetime(current.year, current.month, current.day, day.open_hour) + timedelta(
                seconds=seconds
            )
        current += timedelta(days=1)
    raise ValueError(f"the library is never open after {moment:%Y-%m-%d}: check the calendar")
