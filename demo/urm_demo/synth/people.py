"""The campus roster: students by college, major, class and year; faculty and staff.

Each person also carries hidden behaviour (how much they borrow and use e-resources, when they
are on campus) that the circulation and EZproxy simulations read; none of it is written out.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import date

from urm_demo.synth.academic_calendar import academic_year
from urm_demo.synth.university import COLLEGES, OFFICES, College, Major

STUDENT, FACULTY, STAFF = "student", "faculty", "staff"

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建林宇浩然欣怡子涵梓轩雨泽一诺"
    "思远嘉文博俊佳琪晨睿航梦瑶婷雪颖佳豪志宏晓东海波峰琳倩璐蕾楠昊天昕悦若曦语桐安宁"
)
REGION_CODES = (
    "110101",
    "120103",
    "310104",
    "320102",
    "330106",
    "340104",
    "350102",
    "360103",
    "370102",
    "410105",
    "420111",
    "430103",
    "440305",
    "450103",
    "500103",
    "510107",
    "530102",
    "610113",
)


@dataclass(slots=True)
class Person:
    person_id: str
    person_type: str
    name: str
    email: str
    phone: str
    national_id: str
    unit: tuple[str, str, str]  # (code, name, English name) of college or office
    major: Major | None
    class_code: str | None
    degree_level: str | None
    entry_year: int | None
    expected_graduation_year: int | None
    enrollment_status: str
    card_number: str
    login: str
    koha_borrowernumber: str
    folio_user_id: str
    consent_profiling: bool
    consent_ranking: bool
    # Behaviour, never written out.
    category: str  # Koha patron category: UG, PG, FAC, STAFF
    active_from: date  # first and last day on which they can use the library
    active_until: date
    loans_per_year: float  # 0 for non-users
    sessions_per_year: float  # EZproxy sessions; 0 for non-users
    reads: tuple[tuple[str, ...], tuple[float, ...]]  # shelf keys and cumulative weights
    college: College | None
    proxy_site: str  # "main" or "medical"
    campus_address: str
    home_address: str

    def record(self, snapshot_date: date) -> dict:
        """The person as the campus API returns them (direct identifiers included)."""
        code, name, name_en = self.unit
        return {
            "person_id": self.person_id,
            "person_type": self.person_type,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "national_id": self.national_id,
            "college": {"code": code, "name": name, "name_en": name_en},
            "major": {"code": self.major.code, "name": self.major.name} if self.major else None,
            "class": self.class_code,
            "degree_level": self.degree_level,
            "entry_year": self.entry_year,
            "expected_graduation_year": self.expected_graduation_year,
            "enrollment_status": self.status_on(snapshot_date),
            "library": {
                "card_number": self.card_number,
                "login": self.login,
                "koha_borrowernumber": self.koha_borrowernumber,
                "folio_user_id": self.folio_user_id,
            },
            "consent": {"profiling": self.consent_profiling, "ranking": self.consent_ranking},
        }

    def status_on(self, day: date) -> str:
        # Graduating students leave on 30 June; the roster shows them graduated afterwards.
        if self.enrollment_status == "enrolled" and day > self.active_until:
            return "graduated"
        return self.enrollment_status


@dataclass(frozen=True)
class RosterShape:
    """Shares of the population: about 55,000 students and 10,000 staff at full scale."""

    students: float = 0.85
    faculty: float = 0.09
    master_share: float = 0.22  # of students
    doctoral_share: float = 0.08


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def _national_id(rng: random.Random, birth_year: int) -> str:
    birth = date(birth_year, 1, 1).toordinal() + rng.randrange(365)
    body = f"{rng.choice(REGION_CODES)}{date.fromordinal(birth):%Y%m%d}{rng.randrange(1000):03d}"
    # ISO 7064 MOD 11-2 check character, as on real resident identity cards.
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(digit) * weight for digit, weight in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _campus_address(rng: random.Random, person_type: str) -> str:
    if person_type == STUDENT:  # dormitory network
        return f"10.{rng.randrange(16, 64)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"172.16.{rng.randrange(256)}.{rng.randrange(1, 255)}"  # office network


# Chinese ISP blocks for people at home; none overlaps the campus ranges.
HOME_BLOCKS = (
    58,
    59,
    60,
    61,
    101,
    111,
    112,
    113,
    114,
    115,
    116,
    117,
    118,
    119,
    120,
    121,
    123,
    125,
    180,
    182,
    183,
    218,
    219,
    220,
    221,
    222,
    223,
)


def _home_address(rng: random.Random) -> str:
    block = rng.choice(HOME_BLOCKS)
    return f"{block}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _reads(major: Major | None, general: dict[str, float], spill_over: float):
    weights: dict[str, float] = {}
    own = {key: w for key, w in (major.reads if major else {}).items() if w > 0}
    own_total = sum(own.values())
    general_total = sum(general.values())
    own_share = (1 - spill_over) if own else 0.0
    for key, w in own.items():
        weights[key] = weights.get(key, 0) + own_share * w / own_total
    for key, w in general.items():
        weights[key] = weights.get(key, 0) + (1 - own_share) * w / general_total
    keys = tuple(sorted(weights))
    cumulative, running = [], 0.0
    for key in keys:
        running += weights[key]
        cumulative.append(running)
    return keys, tuple(cumulative)


def _heavy_tailed(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def build_roster(rng: random.Random, users: int, start: date, end: date) -> list[Person]:
    """`users` people, sorted by person id as the campus API pages them."""
    from urm_demo.synth.subjects import GENERAL_READING

    shape = RosterShape()
    year = academic_year(start)
    graduation_day = date(year + 1, 6, 30)
    freshmen_arrive = date(year, 9, 8)
    n_students = round(users * shape.students)
    n_faculty = round(users * shape.faculty)
    college_weights = [college.size for college in COLLEGES]

    cards = rng.sample(range(10**8), users)
    borrowernumbers = rng.sample(range(1, users * 3), users)
    sequence: dict[str, int] = {}
    people: list[Person] = []

    def next_id(prefix: str, year_: int, width: int) -> str:
        key = f"{prefix}{year_}"
        sequence[key] = sequence.get(key, 0) + 1
        return f"{key}{sequence[key]:0{width}d}"

    for index in range(users):
        if index < n_students:
            person_type = STUDENT
        elif index < n_students + n_faculty:
            person_type = FACULTY
        else:
            person_type = STAFF
        college: College | None = rng.choices(COLLEGES, college_weights)[0]
        major: Major | None = None
        class_code = degree = None
        entry = graduation = None
        status = "active"
        active_from, active_until = start, end
        if person_type == STUDENT:
            assert college is not None  # every student belongs to a college
            major = rng.choice(college.majors)
            draw = rng.random()
            if draw < shape.doctoral_share:
                degree, length, category, birth_offset = "doctoral", 4, "PG", 25
            elif draw < shape.doctoral_share + shape.master_share:
                degree, length, category, birth_offset = "master", 3, "PG", 22
            else:
                degree, length, category, birth_offset = "bachelor", 4, "UG", 18
            entry = year - rng.randrange(length)
            graduation = entry + length
            status = "enrolled"
            draw = rng.random()
            if draw < 0.02:  # last year's graduates linger in the roster
                entry, graduation, status = year - length, year, "graduated"
            elif draw < 0.03:
                status = "suspended"
            elif draw < 0.036:
                status = "withdrawn"
            if graduation == year + 1:  # graduating this academic year
                active_until = min(end, graduation_day)
            if entry == year:
                active_from = max(start, freshmen_arrive)
            if status != "enrolled":
                active_until = start - date.resolution  # never active in the period
            person_id = next_id("S", entry, 6)
            unit = (college.code, college.name, college.name_en)
            birth_year = entry - birth_offset - (1 if rng.random() < 0.3 else 0)
        else:
            hired = year - min(int(rng.expovariate(1 / 12)), 40)
            person_id = next_id("T" if person_type == FACULTY else "E", hired, 3)
            category = "FAC" if person_type == FACULTY else "STAFF"
            birth_year = hired - rng.randrange(24, 32)
            retired = year - birth_year >= 60 or rng.random() < 0.02
            status = "retired" if retired else "active"
            if person_type == STAFF and rng.random() < 0.6:
                college = None
                unit = rng.choice(OFFICES)
            else:
                assert college is not None
                unit = (college.code, college.name, college.name_en)
            if person_type == FACULTY:
                major = None
        login = person_id.lower()
        domain = "stu.example.edu.cn" if person_type == STUDENT else "example.edu.cn"
        loans, sessions = _behaviour(rng, person_type, degree, entry, year, status)
        reading_major = major or (rng.choice(college.majors) if college and person_type == FACULTY else None)
        people.append(
            Person(
                person_id=person_id,
                person_type=person_type,
                name=_name(rng),
                email=f"{login}@{domain}",
                phone=_phone(rng),
                national_id=_national_id(rng, birth_year),
                unit=unit,
                major=major,
                class_code=class_code,
                degree_level=degree,
                entry_year=entry,
                expected_graduation_year=graduation,
                enrollment_status=status,
                card_number=f"21{cards[index]:08d}",
                login=login,
                koha_borrowernumber=str(borrowernumbers[index]),
                folio_user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                # Most accept profiling; a few per cent opt out. Rankings are opt-in (about 1 in 5),
                # asked independently, so a handful opt in to rankings yet out of profiling.
                consent_profiling=rng.random() >= 0.04,
                consent_ranking=rng.random() < 0.2,
                category=category,
                active_from=active_from,
                active_until=active_until,
                loans_per_year=loans,
                sessions_per_year=sessions,
                reads=_reads(reading_major, GENERAL_READING, 0.25 if reading_major else 1.0),
                college=college,
                proxy_site="medical" if college and college.code == "MD" else "main",
                campus_address=_campus_address(rng, person_type),
                home_address=_home_address(rng),
            )
        )
    _assign_classes(people)
    people.sort(key=lambda person: person.person_id)
    return people


def _assign_classes(people: list[Person]) -> None:
    """Bachelor students sit in classes of about 30, numbered within college and entry year."""
    cohorts: dict[tuple[str, int], list[Person]] = {}
    for person in people:
        if person.degree_level == "bachelor" and person.entry_year is not None:
            cohorts.setdefault((person.unit[0], person.entry_year), []).append(person)
    for (college_code, entry), students in cohorts.items():
        number = 0
        by_major: dict[str, list[Person]] = {}
        for student in students:
            by_major.setdefault(student.major.code if student.major else "", []).append(student)
        for major_code in sorted(by_major):
            members = by_major[major_code]
            classes = max(1, round(len(members) / 30))
            for seat, student in enumerate(members):
                section = number + seat * classes // len(members) + 1
                student.class_code = f"{college_code}{entry}-{section}"
            number += classes


def _behaviour(
    rng: random.Random,
    person_type: str,
    degree: str | None,
    entry: int | None,
    year: int,
    status: str,
) -> tuple[float, float]:
    """(loans a year, EZproxy sessions a year): heavy-tailed, zero for non-users."""
    if person_type == STUDENT:
        if degree == "bachelor":
            study_year = year - (entry or year) + 1
            never_borrow, borrow_scale = 0.36, (1.0, 1.05, 0.95, 0.75)[min(study_year, 4) - 1]
            never_proxy, proxy_scale = 0.5, 0.6 + 0.25 * min(study_year, 4)
        elif degree == "master":
            never_borrow, borrow_scale, never_proxy, proxy_scale = 0.28, 1.2, 0.25, 1.8
        else:
            never_borrow, borrow_scale, never_proxy, proxy_scale = 0.22, 1.3, 0.15, 2.4
    elif person_type == FACULTY:
        never_borrow, borrow_scale, never_proxy, proxy_scale = 0.28, 1.8, 0.2, 2.0
        if status == "retired":
            borrow_scale, proxy_scale = 0.6, 0.5
    else:
        never_borrow, borrow_scale, never_proxy, proxy_scale = 0.5, 0.6, 0.6, 0.6
    loans = 0.0 if rng.random() < never_borrow else borrow_scale * (2.5 + _heavy_tailed(rng, 6.0, 1.1))
    sessions = 0.0 if rng.random() < never_proxy else proxy_scale * _heavy_tailed(rng, 18.0, 1.0)
    return loans, sessions
