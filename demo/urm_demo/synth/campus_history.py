"""The campus roster's history: how the people of the final roster got there, as the campus data
hub records it. Each change is a person record with its updated_at (the hub's change feed):

- everyone has a first record before the period (before the circulation history too, when the
  university has one, so that every card used then was valid then), except new students, whose
  records are created during it (freshmen arriving the first week of September);
- changes of major (a few bachelor students move to another major of their college mid-period);
- suspensions (the roster's suspended students, and a few who are suspended for some weeks, then
  reinstated), withdrawals, graduations (on 1 July, for those who leave during the period);
- lost and replaced cards (the old card's validity ends when the new one's begins);
- deletions: a few people of the hub who leave it during the period (a tombstone), absent from
  the final roster;
- research and leadership roles (principal investigators, academic leaders, department heads).

It draws from its own random stream, so the roster and the other files are the same as without it.
The final state of every person is exactly their record in the roster pages (`Person.record`).
"""

from __future__ import annotations

import bisect
import copy
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from urm_demo.synth.academic_calendar import TIMEZONE, academic_year
from urm_demo.synth.people import FACULTY, STAFF, STUDENT, Person, _name, _national_id, _phone
from urm_demo.synth.university import COLLEGE_BY_CODE, COLLEGES, OFFICES

ZONE = ZoneInfo(TIMEZONE)
MAJOR_CHANGE_SHARE = 0.04  # of bachelor students past their first year
CARD_REPLACEMENT_SHARE = 0.04
TEMPORARY_SUSPENSION_SHARE = 0.01
DELETED_SHARE = 0.005  # people of the hub deleted during the period (at least one)
ROLES = (("principal_investigator", 0.12), ("academic_leader", 0.04), ("department_head", 0.03))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CardPeriod:
    number: str
    valid_from: datetime
    valid_to: datetime | None  # exclusive; None: still valid

    def as_record(self) -> dict[str, Any]:
        return {
            "card_number": self.number,
            "valid_from": iso(self.valid_from),
            "valid_to": iso(self.valid_to) if self.valid_to else None,
        }


@dataclass
class PersonHistory:
    person_id: str
    states: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)  # full records
    cards: list[CardPeriod] = field(default_factory=list)
    deleted_at: datetime | None = None
    roles: list[str] = field(default_factory=list)
    major_changed_at: datetime | None = None
    card_replaced_at: datetime | None = None


@dataclass
class CampusHistory:
    people: dict[str, PersonHistory]
    org_units: list[dict[str, Any]]
    majors: list[dict[str, Any]]
    classes: list[dict[str, Any]]
    now: datetime  # the hub's clock at the end of the period

    def person_records(self) -> list[dict[str, Any]]:
        """The change feed: every record and tombstone, in updated_at order."""
        records = []
        for history in self.people.values():
            for moment, state in history.states:
                records.append({**state, "updated_at": iso(moment)})
            if history.deleted_at is not None:
                records.append(
                    {"person_id": history.person_id, "deleted": True, "updated_at": iso(history.deleted_at)}
                )
        records.sort(key=lambda r: (r["updated_at"], r["person_id"], bool(r.get("deleted"))))
        return records

    def card_at(self, person: Person, moment: datetime) -> str:
        """The card number the person held at `moment` (naive local time, as circulation keeps it)."""
        history = self.people.get(person.person_id)
        if history is None or not history.cards:
            return person.card_number
        local = moment.replace(tzinfo=ZONE) if moment.tzinfo is None else moment
        starts = [c.valid_from for c in history.cards]
        index = max(bisect.bisect_right(starts, local) - 1, 0)
        return history.cards[index].number

    def resources(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "persons": self.person_records(),
            "org_units": self.org_units,
            "majors": self.majors,
            "classes": self.classes,
        }


def _moment(day: date, rng: random.Random, first_hour: int = 8, last_hour: int = 18) -> datetime:
    return datetime.combine(day, time(rng.randrange(first_hour, last_hour), rng.randrange(60)), ZONE)


def _between(rng: random.Random, first: datetime, last: datetime) -> datetime:
    seconds = max(int((last - first).total_seconds()), 0)
    return (first + timedelta(seconds=rng.randrange(seconds + 1))).replace(second=0)


def build_campus_history(
    people: list[Person], start: date, end: date, seed: int, *, since: date | None = None
) -> CampusHistory:
    """The hub's history of `people` over the period `start`..`end`. `since` (before `start`): the
    first day of the activity generated before the period (the circulation history); everyone at
    the university by then (all but this year's entrants) is on the hub, card included, from
    before it, so that every card used then is valid then. Without it the hub's first records
    fall a few weeks before the period."""
    rng = random.Random(f"{seed}:campus-history")
    # moves the first records back without a draw of its own: the rest of the hub stays the same
    reach_back = timedelta(days=(start - since).days) if since is not None and since < start else timedelta(0)
    year = academic_year(start)
    period_start = datetime.combine(start, time(0), ZONE)
    now = datetime.combine(end, time(23, 59), ZONE)
    span = now - period_start
    # Changes inside the period happen in its middle 80 %, so that activity falls on both sides.
    inside = (period_start + span / 10, now - span / 10) if span >= timedelta(days=5) else None
    histories: dict[str, PersonHistory] = {}
    cards_in_use = {p.card_number for p in people}
    for person in people:
        histories[person.person_id] = _history(
            person, rng, year, start, end, now, inside, cards_in_use, reach_back
        )
    for history in _deleted_people(people, rng, year, period_start, now, inside):
        histories[history.person_id] = history
    org_units = [
        {"code": c.code, "name": c.name, "name_en": c.name_en, "type": "college", "parent_code": None}
        for c in COLLEGES
    ] + [
        {"code": code, "name": name, "name_en": en, "type": "office", "parent_code": None}
        for code, name, en in OFFICES
    ]
    created = iso(datetime.combine(date(year - 5, 7, 1), time(9), ZONE))
    for unit in org_units:
        unit["updated_at"] = created
    majors = [
        {"code": m.code, "name": m.name, "name_en": m.name_en, "college_code": c.code, "updated_at": created}
        for c in COLLEGES
        for m in c.majors
    ]
    classes: dict[str, dict[str, Any]] = {}
    for person in people:
        if person.class_code and person.class_code not in classes:
            classes[person.class_code] = {
                "code": person.class_code,
                "name": person.class_code,
                "college_code": person.unit[0],
                "major_code": person.major.code if person.major else None,
                "entry_year": person.entry_year,
                "updated_at": iso(datetime.combine(date(person.entry_year or year, 8, 20), time(9), ZONE)),
            }
    return CampusHistory(histories, org_units, majors, sorted(classes.values(), key=lambda c: c["code"]), now)


def _roles(person: Person, rng: random.Random) -> list[str]:
    """Principal investigators and academic leaders among faculty; department heads among staff
    too. The same draws whatever the type, so one person's type does not shift the others'."""
    draws = [rng.random() for _ in ROLES]
    if person.person_type == STUDENT:
        return []
    return [
        role
        for (role, share), draw in zip(ROLES, draws, strict=True)
        if draw < share and (role == "department_head" or person.person_type == FACULTY)
    ]


def _history(
    person: Person,
    rng: random.Random,
    year: int,
    start: date,
    end: date,
    now: datetime,
    inside: tuple[datetime, datetime] | None,
    cards_in_use: set[str],
    reach_back: timedelta = timedelta(0),
) -> PersonHistory:
    final = person.record(end)
    history = PersonHistory(person.person_id, roles=_roles(person, rng))
    final["roles"] = history.roles
    draws = [rng.random() for _ in range(6)]
    # When the hub first knew them: freshmen arrive in the first week of September.
    if person.person_type == STUDENT and person.entry_year == year:
        created = _moment(date(year, 9, 3) + timedelta(days=rng.randrange(5)), rng)
    else:
        created = _moment(start - timedelta(days=15 + rng.randrange(45)), rng) - reach_back
    created = min(created, now - timedelta(minutes=30))
    changes: list[tuple[datetime, dict[str, Any]]] = []  # (when, fields that change then)
    first = copy.deepcopy(final)

    status = person.enrollment_status
    if person.person_type == STUDENT:
        if status == "graduated":  # last year's graduates: enrolled until 1 July of last year
            created = min(created, _moment(date(year - 1, 3, 1), rng))
            first["enrollment_status"] = "enrolled"
            changes.append((_moment(date(year, 7, 1), rng, 9, 12), {"enrollment_status": "graduated"}))
        elif status in ("suspended", "withdrawn"):  # decided before the period
            first["enrollment_status"] = "enrolled"
            created = min(created, _moment(start - timedelta(days=120), rng))
            changes.append(
                (_moment(start - timedelta(days=5 + rng.randrange(80)), rng), {"enrollment_status": status})
            )
        elif person.status_on(end) == "graduated":  # graduates during the period
            first["enrollment_status"] = "enrolled"
            changes.append((_moment(date(year + 1, 7, 1), rng, 9, 12), {"enrollment_status": "graduated"}))
        elif inside and draws[0] < TEMPORARY_SUSPENSION_SHARE:
            suspended = _between(rng, inside[0], inside[1] - (inside[1] - inside[0]) / 2)
            back = suspended + timedelta(days=14 + rng.randrange(20))
            if back < inside[1]:
                changes.append((suspended, {"enrollment_status": "suspended"}))
                changes.append((back, {"enrollment_status": "enrolled"}))
        college = COLLEGE_BY_CODE.get(person.unit[0])
        past_first_year = person.entry_year is not None and person.entry_year < year
        if (
            inside
            and person.degree_level == "bachelor"
            and status == "enrolled"
            and past_first_year
            and person.major is not None
            and college is not None
            and len(college.majors) > 1
            and draws[1] < MAJOR_CHANGE_SHARE
        ):
            others = [m for m in college.majors if m.code != person.major.code]
            old = others[int(draws[2] * len(others))]
            first["major"] = {"code": old.code, "name": old.name}
            when = _between(rng, inside[0], inside[1])
            changes.append((when, {"major": final["major"]}))
            history.major_changed_at = when

    # Cards: one since the first record, or a lost one replaced mid-period.
    issued = created
    if inside and draws[3] < CARD_REPLACEMENT_SHARE and person.enrollment_status in ("enrolled", "active"):
        lost = _between(rng, inside[0], inside[1])
        old_number = person.card_number
        while old_number in cards_in_use:
            old_number = f"22{rng.randrange(10**8):08d}"
        cards_in_use.add(old_number)
        old_card = CardPeriod(old_number, issued, None)
        history.cards = [CardPeriod(old_number, issued, lost), CardPeriod(person.card_number, lost, None)]
        history.card_replaced_at = lost
        first["library"] = {**final["library"], "card_number": old_number}
        first["cards"] = [old_card.as_record()]
        changes.append((lost, {"library": final["library"], "cards": [c.as_record() for c in history.cards]}))
    else:
        history.cards = [CardPeriod(person.card_number, issued, None)]
        first["cards"] = [history.cards[0].as_record()]
    final["cards"] = [c.as_record() for c in history.cards]

    # Apply the changes in time order; each state is the whole record as of then.
    changes = [(min(when, now), fields) for when, fields in changes if when > created]
    changes.sort(key=lambda change: change[0])
    state = first
    history.states.append((created, copy.deepcopy(state)))
    for when, fields in changes:
        state = {**state, **copy.deepcopy(fields)}
        history.states.append((when, copy.deepcopy(state)))
    if state != final:  # a change fell before the first record: the first record says it all
        history.cards = [CardPeriod(person.card_number, issued, None)]
        final["cards"] = [history.cards[0].as_record()]
        history.states = [(created, final)]
        history.major_changed_at = history.card_replaced_at = None
    return history


def _deleted_people(
    people: list[Person],
    rng: random.Random,
    year: int,
    period_start: datetime,
    now: datetime,
    inside: tuple[datetime, datetime] | None,
) -> Iterator[PersonHistory]:
    """People the hub deletes during the period: staff who left, records entered twice."""
    if inside is None:
        return
    taken = {p.person_id for p in people}
    count = max(1, round(len(people) * DELETED_SHARE))
    for number in range(count):
        hired = year - 1 - rng.randrange(10)
        person_id = f"E{hired}{900 + number:03d}"
        while person_id in taken:
            person_id = f"E{hired}{rng.randrange(1000):03d}"
        taken.add(person_id)
        code, name, name_en = rng.choice(OFFICES)
        login = person_id.lower()
        card_number = f"23{rng.randrange(10**8):08d}"
        record: dict[str, Any] = {
            "person_id": person_id,
            "person_type": STAFF,
            "name": _name(rng),
            "email": f"{login}@example.edu.cn",
            "phone": _phone(rng),
            "national_id": _national_id(rng, hired - 26),
            "college": {"code": code, "name": name, "name_en": name_en},
            "major": None,
            "class": None,
            "degree_level": None,
            "entry_year": None,
            "expected_graduation_year": None,
            "enrollment_status": "active",
            "library": {
                "card_number": card_number,
                "login": login,
                "koha_borrowernumber": str(10**7 + number),
                "folio_user_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            },
            "consent": {"profiling": True, "ranking": False},
            "roles": [],
        }
        created = _moment(period_start.date() - timedelta(days=200 + rng.randrange(300)), rng)
        card = CardPeriod(card_number, created, None)
        record["cards"] = [card.as_record()]
        history = PersonHistory(person_id, [(created, record)], [card])
        history.deleted_at = _between(rng, inside[0], inside[1])
        yield history
