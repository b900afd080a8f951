"""The library's services at the synthetic university: room and seat bookings, information-literacy
training, reference questions, the satisfaction survey of each term, and volunteering.

Everything follows the people and the academic calendar: bookings peak in review and exam weeks
(upper-year and graduating students most), freshmen miss more of their bookings; training crowds
the first weeks of a term (orientation for freshmen); desk and phone questions come in opening
hours, e-mail and social media at any hour and wait for the next opening; the survey runs in
teaching weeks 3-4 of each term, its comments in Chinese or English, some with the writer's phone
number, e-mail address, student number or ID number in them (as real comments have).

Files are written as each system exports them (see ingest.services):
- `services/spaces/rooms-YYYY-MM.csv`: the room booking system, UTF-8, the default headers;
- `services/spaces/seats/seats-YYYY-MM.csv`: the seat system, GB18030 with CRLF and Chinese
  headers (with the names of the people!), read through `services/spaces/seats/columns.json`;
- `services/training/training-<term>.csv`: catalogue and registrations, UTF-8 with a BOM;
- `services/consultations/consultations-YYYY-MM.csv`: GB18030, channels named in Chinese;
- `services/feedback/survey-<term>.csv`: one row per response and question, UTF-8;
- `services/volunteering/volunteer-YYYY-MM.csv`: GB18030.
A few rows are broken on purpose (a booking ending before it starts, a fax channel, a rating of
6, zero hours), one of each kind, so that the quarantine has something to show.
Each part draws from its own random stream: same seed, same bytes.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from urm_demo.synth.academic_calendar import (
    EXAM,
    HOLIDAY,
    REVIEW,
    TEACHING,
    VACATION,
    _terms,
    academic_year,
    library_day,
)
from urm_demo.synth.people import FACULTY, STAFF, STUDENT, Person
from urm_demo.synth.writers import Manifest, MonthlyFiles, months_between, open_text

BOOKING_HEADER = (
    "booking_id",
    "person_id",
    "space_id",
    "space_type",
    "space_area",
    "start_time",
    "end_time",
    "status",
    "booked_at",
)
SEAT_HEADER = (
    "预约编号",
    "学工号",
    "姓名",
    "座位编号",
    "类型",
    "区域",
    "开始时间",
    "结束时间",
    "预约状态",
    "预约时间",
)
SEAT_COLUMNS = {
    "booking_id": "预约编号",
    "person_id": "学工号",
    "space_id": "座位编号",
    "space_type": "类型",
    "space_area": "区域",
    "start_time": "开始时间",
    "end_time": "结束时间",
    "status": "预约状态",
    "booked_at": "预约时间",
}
SEAT_STATUS = {"checked_in": "已签到", "no_show": "违约", "cancelled": "已取消"}
TRAINING_HEADER = (
    "session_id",
    "series",
    "topic",
    "level",
    "session_start",
    "hours",
    "capacity",
    "person_id",
    "registered_at",
    "attended",
)
CONSULTATION_HEADER = ("consultation_id", "channel", "topic", "asked_at", "answered_at", "person_id")
SURVEY_HEADER = (
    "response_id",
    "survey",
    "person_id",
    "submitted_at",
    "service_area",
    "question",
    "question_type",
    "score",
    "comment",
    "suggestion_status",
)
VOLUNTEER_HEADER = ("record_id", "person_id", "activity", "date", "hours")

ROOM_AREAS = {"3F group study rooms": 8, "4F discussion rooms": 4}
SEAT_AREAS = {"二楼A区阅览室": 120, "二楼B区阅览室": 120, "五楼自习室": 60}
SEAT_CODES = {"二楼A区阅览室": "2A", "二楼B区阅览室": "2B", "五楼自习室": "5F"}
# Relative demand for spaces by phase of the term.
BOOKING_PHASE = {TEACHING: 1.0, REVIEW: 1.8, EXAM: 2.4, VACATION: 0.15, HOLIDAY: 0.3}
NO_SHOW = {
    "freshman": 0.16,
    "lower_undergraduate": 0.13,
    "upper_undergraduate": 0.11,
    "graduating": 0.09,
    "postgraduate": 0.08,
    "faculty": 0.05,
    "staff": 0.05,
}
CANCELLED = 0.08

# (series, level, hours, capacity, topics, audience groups, attendance)
SERIES = (
    ("新生入馆教育", "beginner", 1, 120, ("图书馆概况", "借阅与座位预约"), ("freshman",), 0.9),
    (
        "数据库检索",
        "beginner",
        1.5,
        60,
        ("CNKI", "Web of Science", "ScienceDirect"),
        ("freshman", "lower_undergraduate", "upper_undergraduate", "graduating", "postgraduate", "faculty"),
        0.8,
    ),
    (
        "文献管理软件",
        "intermediate",
        1.5,
        40,
        ("EndNote", "NoteExpress", "Zotero"),
        ("upper_undergraduate", "graduating", "postgraduate", "faculty"),
        0.78,
    ),
    ("学术写作与投稿", "advanced", 2, 40, ("论文写作", "期刊投稿"), ("postgraduate", "faculty"), 0.75),
    ("毕业论文检索", "intermediate", 1.5, 60, ("开题检索", "查新"), ("graduating",), 0.82),
    ("科研数据管理", "advanced", 2, 30, ("数据管理计划", "数据仓储"), ("postgraduate", "faculty"), 0.72),
)

# channel: (label in the export, share of questions, share with a known person, median minutes)
CHANNELS = {
    "desk": ("总台", 0.35, 0.4, 3.0),
    "chat": ("在线咨询", 0.25, 0.6, 2.0),
    "email": ("电子邮件", 0.10, 0.95, 240.0),
    "social_media": ("微信", 0.20, 0.1, 45.0),
    "phone": ("电话", 0.10, 0.2, 1.5),
}
UNANSWERED = {"desk": 0.0, "chat": 0.02, "email": 0.03, "social_media": 0.1, "phone": 0.0}
CONSULTATION_TOPICS = (
    "借阅",
    "续借",
    "数据库访问",
    "校外访问",
    "文献传递",
    "论文提交",
    "打印复印",
    "开放时间",
    "座位预约",
)

RATING_QUESTIONS = (
    ("Q1", "circulation", 0.0),
    ("Q2", "spaces", -0.35),
    ("Q3", "e_resources", 0.1),
    ("Q4", "training", 0.2),
    ("Q5", "consultation", 0.3),
    ("Q6", "overall", 0.0),
)
# (service area, is a suggestion, Chinese comment, English comment)
COMMENTS = (
    (
        "spaces",
        True,
        "自习室座位太少，考试周根本抢不到座位，建议增加座位。",
        "There are not enough seats in exam weeks, please add more.",
    ),
    (
        "spaces",
        True,
        "建议增加研讨室的数量，现在每次都要提前两天预约。",
        "Please add more group study rooms; they are always booked.",
    ),
    (
        "spaces",
        False,
        "三楼阅览室太吵了，希望管理员多提醒。",
        "The reading room on the 2nd floor is too noisy.",
    ),
    ("spaces", False, "空调温度太低，坐久了很冷。", "The air conditioning is far too cold in the afternoon."),
    ("overall", True, "建议周末延长开放时间到晚上十点。", "Please open 24 hours during the exam period."),
    (
        "e_resources",
        False,
        "图书馆的无线网络太慢了，经常断线。",
        "The wifi keeps dropping in the reading rooms.",
    ),
    (
        "e_resources",
        True,
        "校外访问知网经常登录不上，希望改进。",
        "Off-campus access to databases through the VPN is slow.",
    ),
    (
        "circulation",
        True,
        "希望多采购一些新书，特别是专业教材。",
        "Please buy more copies of popular textbooks.",
    ),
    (
        "consultation",
        False,
        "馆员服务态度很好，耐心解答问题，谢谢！",
        "The librarians at the help desk were very helpful.",
    ),
    (
        "training",
        True,
        "数据库检索讲座很有用，希望多开几次。",
        "The EndNote workshop was great, please offer more sessions.",
    ),
)
CONTACTS_ZH = ("有问题可以联系我，电话{phone}。", "我的邮箱是{email}，盼回复。", "我的学号是{person_id}。")
CONTACTS_EN = ("You can reach me at {phone}.", "My email: {email}", "(student no. {person_id})")
CONTACT_ID_ZH = "身份证号{national_id}的借书证丢了，请帮忙。"
SUGGESTION_DECISIONS = (("accepted", 0.3), ("declined", 0.2), ("pending", 0.5))

VOLUNTEER_ACTIVITIES = (("图书整架", 5), ("咨询台值班", 3), ("读书节活动", 1), ("古籍数字化", 1))


def user_group(person: Person, year: int) -> str | None:
    """The group dim_user gives the person (see its model): for behaviour, never written out."""
    if person.person_type == FACULTY:
        return "faculty"
    if person.person_type == STAFF:
        return "staff"
    if person.expected_graduation_year is None or person.entry_year is None:
        return None
    if person.expected_graduation_year <= year + 1:
        return "graduating"
    if person.degree_level in ("master", "doctoral"):
        return "postgraduate"
    study_year = year - person.entry_year + 1
    return (
        "freshman" if study_year <= 1 else "lower_undergraduate" if study_year == 2 else "upper_undergraduate"
    )


def term_starts(start: date, end: date) -> list[tuple[date, str, int, int, int]]:
    """(first day, term name, teaching, review, exam weeks) of every term touching the period."""
    found = []
    for year in range(academic_year(start) - 1, academic_year(end) + 1):
        for number, (first, teaching, review, exam) in enumerate(_terms(year), start=1):
            last = first + timedelta(weeks=teaching + review + exam) - timedelta(days=1)
            if first <= end and last >= start:
                found.append((first, f"{year}-{year + 1}-{number}", teaching, review, exam))
    return found


def _minute(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


@dataclass
class _Traits:
    """Hidden service behaviour of one person (never written out)."""

    group: str | None
    seat_rate: float  # seat bookings per open teaching day
    room_rate: float
    area: str  # favourite seat area
    training: float  # propensity to register for training
    survey: float  # chance to answer a term's survey
    satisfaction: float  # mean rating this person gives
    volunteer_day: int | None  # weekday of a volunteer's shift, None for non-volunteers
    activity: str = ""


@dataclass
class ServiceCounts:
    bookings: int = 0
    registrations: int = 0
    consultations: int = 0
    survey_rows: int = 0
    volunteer_records: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class ServicesSimulation:
    def __init__(
        self, people: list[Person], start: date, end: date, seed: int, out_dir: Path, manifest: Manifest
    ) -> None:
        self.people, self.start, self.end, self.seed = people, start, end, seed
        self.out_dir, self.manifest = out_dir, manifest
        self.year = academic_year(start)
        self.counts = ServiceCounts()
        self.traits = self._traits(random.Random(f"{seed}:services:people"))
        self._changes = sorted(
            {p.active_from for p in people} | {p.active_until + timedelta(days=1) for p in people}
        )
        self._cache: dict[int, list[tuple[Person, _Traits]]] = {}

    def run(self, on_progress: Callable[[str, int, int], None] | None = None) -> ServiceCounts:
        parts = (self._bookings, self._training, self._consultations, self._survey, self._volunteering)
        for done, part in enumerate(parts, start=1):
            part()
            if on_progress:
                on_progress("services", done, len(parts))
        return self.counts

    # --- who does what ------------------------------------------------------------------------
    def _traits(self, rng: random.Random) -> list[_Traits]:
        traits = []
        areas = list(SEAT_AREAS)
        for person in self.people:
            group = user_group(person, self.year)
            student = person.person_type == STUDENT
            seat = 0.0
            if student and rng.random() < 0.4:
                scale = {"freshman": 0.7, "upper_undergraduate": 1.5, "graduating": 1.7, "postgraduate": 1.3}
                seat = _lognormal(rng, 0.12, 0.7) * scale.get(group or "", 1.0)
            room = _lognormal(rng, 0.03, 0.6) if rng.random() < (0.2 if student else 0.04) else 0.0
            volunteer = None
            if student and rng.random() < (0.08 if group in ("freshman", "lower_undergraduate") else 0.03):
                volunteer = rng.randrange(5)
            traits.append(
                _Traits(
                    group=group,
                    seat_rate=seat,
                    room_rate=room,
                    area=rng.choice(areas),
                    training=_lognormal(rng, 1.0, 0.8),
                    survey=0.14 if student else 0.08 if person.person_type == FACULTY else 0.05,
                    satisfaction=min(4.8, max(2.2, rng.gauss(3.9, 0.55))),
                    volunteer_day=volunteer,
                    activity=rng.choices(
                        [a for a, _ in VOLUNTEER_ACTIVITIES], [w for _, w in VOLUNTEER_ACTIVITIES]
                    )[0],
                )
            )
        return traits

    def _active(
        self, day: date, keep: Callable[[_Traits], bool] | None = None
    ) -> list[tuple[Person, _Traits]]:
        """The people who can use the library on `day` (and whose traits `keep`), in roster order.

        Who is active changes only on a few days (freshmen arrive, graduates leave): the list is
        kept until the next such day instead of being rebuilt daily."""
        epoch = bisect.bisect_right(self._changes, day)
        cached = self._cache.get(epoch)
        if cached is None:
            cached = [
                (person, traits)
                for person, traits in zip(self.people, self.traits, strict=True)
                if person.active_from <= day <= person.active_until
                and person.enrollment_status in ("enrolled", "active")
            ]
            self._cache = {epoch: cached}
        return cached if keep is None else [(p, t) for p, t in cached if keep(t)]

    def _days(self) -> Iterator[date]:
        for offset in range((self.end - self.start).days + 1):
            yield self.start + timedelta(days=offset)

    def _monthly(
        self, kind: str, path_for: Callable[[tuple[int, int]], Path], header: str, encoding: str
    ) -> MonthlyFiles:
        return MonthlyFiles(
            self.manifest,
            kind,
            months_between(self.start, self.end),
            path_for,
            encoding_for=lambda month: encoding,
            header=lambda month: header,
        )

    # --- rooms and seats ----------------------------------------------------------------------
    def _bookings(self) -> None:
        rng = random.Random(f"{self.seed}:services:bookings")
        folder = self.out_dir / "services" / "spaces"
        rooms = self._monthly(
            "space_bookings",
            lambda m: folder / f"rooms-{m[0]:04d}-{m[1]:02d}.csv",
            ",".join(BOOKING_HEADER) + "\n",
            "utf-8",
        )
        seats = self._monthly(
            "space_bookings",
            lambda m: folder / "seats" / f"seats-{m[0]:04d}-{m[1]:02d}.csv",
            ",".join(SEAT_HEADER) + "\r\n",
            "gb18030",
        )
        columns = folder / "seats" / "columns.json"
        columns.parent.mkdir(parents=True, exist_ok=True)
        columns.write_text(json.dumps(SEAT_COLUMNS, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.manifest.add(columns, "space_bookings_columns")
        sequence = 0
        broken = False
        for day in self._days():
            library = library_day(day)
            if not library.is_open:
                continue
            demand = BOOKING_PHASE[library.phase] * (0.6 if day.weekday() >= 5 else 1.0)
            slots = [(library.open_hour, 12), (13, 17)]
            if library.close_hour - 18 >= 2:
                slots.append((18, library.close_hour))
            taken: set[tuple[str, int]] = set()
            room_taken: set[tuple[str, int]] = set()
            for person, traits in self._active(day, lambda t: bool(t.seat_rate or t.room_rate)):
                for slot in range(len(slots)):
                    if traits.seat_rate and rng.random() < min(0.9, traits.seat_rate * demand):
                        area = traits.area if rng.random() < 0.8 else rng.choice(list(SEAT_AREAS))
                        for _attempt in range(4):
                            seat = rng.randrange(1, SEAT_AREAS[area] + 1)
                            if (f"{area}/{seat}", slot) not in taken:
                                break
                        else:
                            continue
                        taken.add((f"{area}/{seat}", slot))
                        sequence += 1
                        begin, finish = slots[slot]
                        starts = datetime(day.year, day.month, day.day, begin)
                        status = self._status(rng, traits)
                        booked = starts - timedelta(minutes=rng.randrange(30, 60 * 36))
                        stream = seats.stream((day.year, day.month))
                        csv.writer(stream, lineterminator="\r\n").writerow(
                            (
                                f"S{sequence:07d}",
                                person.person_id,
                                person.name,
                                f"S-{SEAT_CODES[area]}-{seat:03d}",
                                "座位",
                                area,
                                f"{starts:%Y/%m/%d %H:%M}",
                                f"{starts.replace(hour=finish):%Y/%m/%d %H:%M}",
                                SEAT_STATUS[status],
                                f"{booked:%Y/%m/%d %H:%M}",
                            )
                        )
                        assert seats.record is not None
                        seats.record.rows += 1
                        self.counts.bookings += 1
                if traits.room_rate and rng.random() < min(0.9, traits.room_rate * demand):
                    area = rng.choice(list(ROOM_AREAS))
                    hour = rng.choice(
                        [h for h in (8, 10, 14, 16, 19) if library.open_hour <= h <= library.close_hour - 2]
                    )
                    room = rng.randrange(1, ROOM_AREAS[area] + 1)
                    if (f"{area}/{room}", hour) in room_taken:
                        continue
                    room_taken.add((f"{area}/{room}", hour))
                    sequence += 1
                    starts = datetime(day.year, day.month, day.day, hour)
                    ends = starts + timedelta(hours=2)
                    if not broken:  # an end typed before the start: quarantined
                        ends, broken = starts - timedelta(hours=1), True
                    booked = starts - timedelta(minutes=rng.randrange(60, 60 * 72))
                    stream = rooms.stream((day.year, day.month))
                    csv.writer(stream, lineterminator="\n").writerow(
                        (
                            f"R{sequence:07d}",
                            person.person_id,
                            f"R-{area[:2]}-{room:02d}",
                            "room",
                            area,
                            _minute(starts),
                            _minute(ends),
                            self._status(rng, traits),
                            _minute(booked),
                        )
                    )
                    assert rooms.record is not None
                    rooms.record.rows += 1
                    self.counts.bookings += 1
        rooms.close()
        seats.close()

    @staticmethod
    def _status(rng: random.Random, traits: _Traits) -> str:
        draw = rng.random()
        if draw < CANCELLED:
            return "cancelled"
        if draw < CANCELLED + NO_SHOW.get(traits.group or "", 0.1):
            return "no_show"
        return "checked_in"

    # --- training -----------------------------------------------------------------------------
    def _sessions(self, first: date, number: int, teaching: int) -> Iterator[tuple[int, date, int]]:
        """(series index, day, hour) of a term's sessions: many in the first weeks, then fewer."""
        for week in range(teaching):
            for weekday in range(5):
                day = first + timedelta(weeks=week, days=weekday)
                if not library_day(day).is_open:
                    continue
                if week in (1, 2) and number == 1 and weekday < 4:  # freshmen arrive in week 1
                    yield 0, day, 10
                    yield 0, day, 15
                for index in range(1, len(SERIES)):
                    if week < 4 and weekday == (index % 2) * 2 + 1:
                        yield index, day, 14 if index % 3 else 19
                    elif week >= 4 and week % 3 == index % 3 and weekday == 2:
                        yield index, day, 14

    def _training(self) -> None:
        rng = random.Random(f"{self.seed}:services:training")
        end_moment = datetime.combine(self.end, datetime.max.time())
        for first, term, teaching, _review, _exam in term_starts(self.start, self.end):
            path = self.out_dir / "services" / "training" / f"training-{term}.csv"
            record = self.manifest.add(path, "training_registrations", "utf-8-sig")
            with open_text(path, "utf-8-sig") as stream:
                writer = csv.writer(stream, lineterminator="\n")
                writer.writerow(TRAINING_HEADER)
                number = int(term[-1])
                seen: dict[tuple[str, str], set[str]] = {}
                sessions = list(self._sessions(first, number, teaching))
                # orientation: the morning and the afternoon session each have their topic
                orientation_left = {
                    hour: sum(1 for i, _, h in sessions if i == 0 and h == hour) for hour in (10, 15)
                }
                for sequence, (index, day, hour) in enumerate(sessions, start=1):
                    series, level, hours, capacity, topics, audience, attendance = SERIES[index]
                    starts = datetime(day.year, day.month, day.day, hour)
                    topic = rng.choice(topics) if index else topics[hour != 10]
                    if day < self.start or day > self.end + timedelta(days=14):
                        continue
                    session = (
                        f"{term}-{sequence:03d}",
                        series,
                        topic,
                        level,
                        _minute(starts),
                        hours,
                        capacity,
                    )
                    # nobody sits the same series and topic twice
                    already = seen.setdefault((series, topic), set())
                    if day > self.end:  # announced in the catalogue, nobody registered yet
                        writer.writerow((*session, "", "", ""))
                        record.rows += 1
                        continue
                    pool = [
                        (person, traits)
                        for person, traits in self._active(day)
                        if traits.group in audience and person.person_id not in already
                    ]
                    early = (day - first).days < 28
                    fill = rng.uniform(0.5, 0.95) if early else rng.uniform(0.2, 0.6)
                    want = min(
                        capacity, len(pool), round(capacity * fill * min(1.0, len(pool) / (capacity * 4))) + 1
                    )
                    if index == 0:  # orientation: most freshmen come once, spread over the sessions
                        want = min(capacity, len(pool), round(len(pool) * 0.85 / orientation_left[hour]))
                        orientation_left[hour] -= 1
                    chosen = self._pick(rng, pool, want)
                    for person, traits in chosen:
                        already.add(person.person_id)
                        registered = starts - timedelta(minutes=rng.randrange(60, 60 * 24 * 10))
                        attended = rng.random() < attendance * min(1.0, 0.85 + 0.1 * traits.training)
                        recorded = "" if starts > end_moment else ("是" if attended else "否")
                        writer.writerow((*session, person.person_id, _minute(registered), recorded))
                        record.rows += 1
                        self.counts.registrations += 1

    @staticmethod
    def _pick(
        rng: random.Random, pool: list[tuple[Person, _Traits]], want: int
    ) -> list[tuple[Person, _Traits]]:
        """`want` people of the pool without repeats, the keen ones more likely (weighted draw)."""
        keyed = sorted(pool, key=lambda item: rng.random() ** (1.0 / item[1].training))
        return keyed[-want:] if want > 0 else []

    # --- consultations ------------------------------------------------------------------------
    def _consultations(self) -> None:
        rng = random.Random(f"{self.seed}:services:consultations")
        folder = self.out_dir / "services" / "consultations"
        files = self._monthly(
            "consultations",
            lambda m: folder / f"consultations-{m[0]:04d}-{m[1]:02d}.csv",
            ",".join(CONSULTATION_HEADER) + "\r\n",
            "gb18030",
        )
        per_day = len(self.people) * 0.006
        broken = False
        end_moment = datetime.combine(self.end, datetime.max.time())
        for day in self._days():
            library = library_day(day)
            people = [person for person, _ in self._active(day)]
            questions = []
            for channel, (label, share, known, median) in CHANNELS.items():
                in_person = channel in ("desk", "phone")
                if in_person and not library.is_open:
                    continue
                weight = library.circulation_weight if in_person else max(0.3, library.eresource_weight)
                for _ in range(self._poisson(rng, per_day * share * weight)):
                    if in_person:
                        hour = rng.randrange(library.open_hour, library.close_hour)
                    else:
                        hour = rng.randrange(7, 24)
                    asked = datetime(day.year, day.month, day.day, hour, rng.randrange(60))
                    questions.append((asked, channel, label, known, median))
            for sequence, (asked, channel, label, known, median) in enumerate(sorted(questions), start=1):
                answered = self._answer_time(rng, asked, channel, median)
                if answered is not None and answered > end_moment:
                    answered = None  # still open when the period was exported
                person = rng.choice(people).person_id if people and rng.random() < known else ""
                label_shown = label
                if not broken:  # a channel the reference log does not know: quarantined
                    label_shown, broken = "传真", True
                stream = files.stream((day.year, day.month))
                csv.writer(stream, lineterminator="\r\n").writerow(
                    (
                        f"Q{day:%Y%m%d}{sequence:03d}",
                        label_shown,
                        rng.choice(CONSULTATION_TOPICS),
                        _minute(asked),
                        _minute(answered) if answered else "",
                        person,
                    )
                )
                assert files.record is not None
                files.record.rows += 1
                self.counts.consultations += 1
        files.close()

    @staticmethod
    def _poisson(rng: random.Random, mean: float) -> int:
        # Knuth's method: the means here are small
        limit, count, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count

    @staticmethod
    def _answer_time(rng: random.Random, asked: datetime, channel: str, median: float) -> datetime | None:
        if rng.random() < UNANSWERED[channel]:
            return None
        moment = asked
        if channel not in ("desk", "phone"):
            # online questions wait for staff: answered within opening hours
            for _ in range(30):
                day = library_day(moment.date())
                if day.is_open and day.open_hour <= moment.hour < day.close_hour:
                    break
                following = moment.date() + timedelta(days=0 if moment.hour < day.open_hour else 1)
                moment = datetime.combine(following, datetime.min.time()) + timedelta(
                    hours=library_day(following).open_hour or 9
                )
        minutes = max(1, round(_lognormal(rng, median, 0.8)))
        return moment + timedelta(minutes=minutes)

    # --- the satisfaction survey --------------------------------------------------------------
    def _survey(self) -> None:
        rng = random.Random(f"{self.seed}:services:survey")
        broken = False
        for first, term, _teaching, _review, _exam in term_starts(self.start, self.end):
            window = [first + timedelta(days=d) for d in range(14, 28)]
            days = [d for d in window if self.start <= d <= self.end]
            if not days:
                continue
            season = "秋季" if term.endswith("-1") else "春季"
            survey = f"{term[:4]}年{season}学期读者满意度调查"
            path = self.out_dir / "services" / "feedback" / f"survey-{term}.csv"
            record = self.manifest.add(path, "feedback_responses")
            with open_text(path) as stream:
                writer = csv.writer(stream, lineterminator="\n")
                writer.writerow(SURVEY_HEADER)
                responses = 0
                for person, traits in self._active(days[0]):
                    if rng.random() >= traits.survey:
                        continue
                    responses += 1
                    day = rng.choice(days)
                    submitted = _minute(
                        datetime(day.year, day.month, day.day, rng.randrange(8, 24), rng.randrange(60))
                    )
                    response = f"{term}-{responses:05d}"
                    who = "" if rng.random() < 0.08 else person.person_id
                    for question, area, offset in RATING_QUESTIONS:
                        if rng.random() < 0.08:
                            continue  # skipped
                        score = min(5, max(1, round(rng.gauss(traits.satisfaction + offset, 0.75))))
                        if not broken and score == 5:  # a 5 mistyped as 6: quarantined
                            score, broken = 6, True
                        writer.writerow(
                            (response, survey, who, submitted, area, question, "rating", score, "", "")
                        )
                        record.rows += 1
                    nps = min(10, max(0, round(rng.gauss(2 * traits.satisfaction + 0.3, 1.6))))
                    writer.writerow((response, survey, who, submitted, "overall", "Q7", "nps", nps, "", ""))
                    record.rows += 1
                    if rng.random() < 0.4:
                        area, suggestion, text = self._comment(rng, person)
                        decision = ""
                        if suggestion:
                            draw, decision = rng.random(), "pending"
                            for name, share in SUGGESTION_DECISIONS:
                                if draw < share:
                                    decision = name
                                    break
                                draw -= share
                        writer.writerow(
                            (response, survey, who, submitted, area, "Q8", "comment", "", text, decision)
                        )
                        record.rows += 1
                self.counts.survey_rows += record.rows

    @staticmethod
    def _comment(rng: random.Random, person: Person) -> tuple[str, bool, str]:
        area, suggestion, chinese, english = rng.choice(COMMENTS)
        in_chinese = rng.random() < 0.6
        text = chinese if in_chinese else english
        draw = rng.random()
        if draw < 0.3:
            contact = rng.choice(CONTACTS_ZH if in_chinese else CONTACTS_EN)
            separator = "\n" if rng.random() < 0.3 else " "  # now and then on a line of its own
            text += separator + contact.format(
                phone=person.phone, email=person.email, person_id=person.person_id
            )
        elif draw < 0.33:
            text += " " + CONTACT_ID_ZH.format(national_id=person.national_id)
        return area, suggestion, text

    # --- volunteering -------------------------------------------------------------------------
    def _volunteering(self) -> None:
        rng = random.Random(f"{self.seed}:services:volunteering")
        folder = self.out_dir / "services" / "volunteering"
        files = self._monthly(
            "volunteer_hours",
            lambda m: folder / f"volunteer-{m[0]:04d}-{m[1]:02d}.csv",
            ",".join(VOLUNTEER_HEADER) + "\r\n",
            "gb18030",
        )
        orientation = {first for first, term, *_ in term_starts(self.start, self.end) if term.endswith("-1")}
        broken = False
        sequence = 0
        for day in self._days():
            library = library_day(day)
            if not library.is_open or library.phase in (VACATION, HOLIDAY):
                continue
            welcome = any(0 <= (day - first).days < 10 for first in orientation)
            for person, traits in self._active(day, lambda t: t.volunteer_day is not None):
                activity = traits.activity
                if welcome and rng.random() < 0.3:
                    activity = "新生导览"
                elif day.weekday() != traits.volunteer_day or rng.random() < (
                    0.6 if library.phase == EXAM else 0.25
                ):
                    continue
                hours = rng.choice(("2", "2.5", "3", "4"))
                if not broken:  # a shift recorded with no hours: quarantined
                    hours, broken = "0", True
                sequence += 1
                stream = files.stream((day.year, day.month))
                csv.writer(stream, lineterminator="\r\n").writerow(
                    (f"V{day:%Y%m}{sequence:05d}", person.person_id, activity, day.isoformat(), hours)
                )
                assert files.record is not None
                files.record.rows += 1
                self.counts.volunteer_records += 1
        files.close()
