"""End to end, personas: the synthetic university (with a year of ILS history) through every DAG;
the persona, lifecycle, group, subject and KPI marts are checked against figures computed here
from the generated files alone: the campus pages, Koha statistics and items, the EZproxy logs
(sessionised here as the documentation says: one login on one platform, a new session after 30
minutes without a request), the gate swipes (paired into visits by the rules stated in
tests/gate_reference.py; a card is its holder's as the campus hub's change feed lists it), the
service exports (bookings, training, questions, volunteering) and the library's configuration
(seeds academic_calendar, eresource_platforms, gate_devices, gate_sites). The lifecycle rules are
re-implemented below from their documentation.

A use (what makes a user active in a month or a day) is, as int_persona_activity_events
documents it: a loan, an e-resource session, a visit with its entry seen (an exit without its
entry is no visit), a booking that was not cancelled and not a no-show (at its start), a training
session attended (at its start), a question asked of the librarians (at its asking) and a
volunteering shift (at the local midnight of its day). Feedback is participation, not use.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY
from tests.gate_reference import Site, pair_visits, read_swipes
from urm.platform.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
K = 10
AT_RISK, LAPSED, LOYAL_WINDOW, LOYAL_MIN = 2, 4, 4, 3  # dbt_project.yml defaults
STAGES = {"potential", "new", "active", "loyal", "at_risk", "lapsed", "reactivated"}
SESSION_GAP = timedelta(minutes=30)
SEAT_STATUS = {"已签到": "checked_in", "违约": "no_show", "已取消": "cancelled"}


def read_csv(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    return list(csv.DictReader(io.StringIO(text)))


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months(first: date, last: date) -> list[date]:
    result = []
    while first <= last:
        result.append(first)
        first = next_month(first)
    return result


def group_in(person: dict, month: date) -> str | None:
    """dim_user's rule, in the academic year of the month (September starts it)."""
    if person["person_type"] in ("faculty", "staff"):
        return person["person_type"]
    year = month.year if month.month >= 9 else month.year - 1
    if person["expected_graduation_year"] is not None and person["expected_graduation_year"] <= year + 1:
        return "graduating"
    if person["degree_level"] in ("master", "doctoral"):
        return "postgraduate"
    if person["entry_year"] is None:
        return None
    study_year = year - person["entry_year"] + 1
    return (
        "freshman" if study_year <= 1 else "lower_undergraduate" if study_year == 2 else "upper_undergraduate"
    )


def platform_of(host: str, patterns: list[tuple[str, str]]) -> str:
    for pattern, platform in patterns:  # longest first
        if host == pattern or host.endswith("." + pattern):
            return platform
    return "Other"


def ezproxy_sessions(sources: Path) -> list[tuple[str, str, datetime]]:
    """(login, platform, local start) of every session of the proxy logs."""
    with (DBT_PROJECT_DIR / "seeds" / "eresource_platforms.csv").open(encoding="utf-8") as stream:
        patterns = sorted(
            ((row["host_pattern"], row["platform"]) for row in csv.DictReader(stream)),
            key=lambda p: -len(p[0]),
        )
    requests: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for path in sorted((sources / "ezproxy").rglob("ezproxy-*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                head, _, rest = line.partition(" [")
                login = head.split(" ")[2]
                if login == "-":
                    continue
                stamp, _, request = rest.partition("] ")
                at = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").astimezone(ZONE)
                url = request.split(" ")[1]
                host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()
                requests[(login, platform_of(host, patterns))].append(at)
    sessions = []
    for (login, platform), times in requests.items():
        times.sort()
        previous = None
        for at in times:
            if previous is None or at - previous > SESSION_GAP:
                sessions.append((login, platform, at))
            previous = at
    return sessions


def seed(name: str) -> list[dict[str, str]]:
    with (DBT_PROJECT_DIR / "seeds" / f"{name}.csv").open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def gate_visits(sources: Path) -> list[tuple[str, datetime]]:
    """(card, local entry) of every visit whose entry the turnstiles saw."""
    gate_site = {
        r["device_id"]: r["site_code"] for r in seed("gate_devices") if r["device_kind"] == "turnstile"
    }
    sites = {
        r["site_code"]: Site(
            time.fromisoformat(r["opens_at"]), time.fromisoformat(r["closes_at"]), r["open_24h"] == "true"
        )
        for r in seed("gate_sites")
    }
    swipes = read_swipes(sources / "gate" / "swipes", gate_site, ZONE)
    return [
        (visit.card, visit.entered_at.astimezone(ZONE).replace(tzinfo=None))
        for visit in pair_visits(swipes, sites, ZONE)
        if visit.entered_at is not None
    ]


def service_uses(sources: Path) -> list[tuple[str, datetime]]:
    """(person id, local time) of every use of a service: bookings kept (neither cancelled nor
    missed) at their start, training attended at the session's start, questions at their asking,
    volunteering at the midnight of its day. Rows the loader quarantines (a booking ending before
    it starts, a question by an unknown channel, a shift of no hours) are left out."""
    services = sources / "services"

    def rows(path: Path, encoding: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding), newline="")))

    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("/", "-"))

    uses = []
    bookings = [
        (r["person_id"], r["start_time"], r["end_time"], r["status"])
        for path in sorted((services / "spaces").glob("rooms-*.csv"))
        for r in rows(path, "utf-8")
    ] + [
        (
            r["学工号"],
            r["开始时间"],
            r["结束时间"],
            SEAT_STATUS[r["预约状态"]],
        )
        for path in sorted((services / "spaces" / "seats").glob("seats-*.csv"))
        for r in rows(path, "gb18030")
    ]
    uses += [
        (person, moment(starts))
        for person, starts, ends, status in bookings
        if moment(ends) > moment(starts) and status not in ("cancelled", "no_show")
    ]
    uses += [
        (r["person_id"], moment(r["session_start"]))
        for path in sorted((services / "training").glob("training-*.csv"))
        for r in rows(path, "utf-8-sig")
        if r["person_id"] and r["attended"] == "是"
    ]
    channels = {"总台", "在线咨询", "电子邮件", "微信", "电话"}
    uses += [
        (r["person_id"], moment(r["asked_at"]))
        for path in sorted((services / "consultations").glob("consultations-*.csv"))
        for r in rows(path, "gb18030")
        if r["person_id"] and r["channel"] in channels
    ]
    uses += [
        (r["person_id"], datetime.fromisoformat(r["date"]))
        for path in sorted((services / "volunteering").glob("volunteer-*.csv"))
        for r in rows(path, "gb18030")
        if r["person_id"] and Decimal(r["hours"]) > 0
    ]
    return uses


def stages(active: list[bool], vacation: list[bool]) -> list[str]:
    """The lifecycle rules of user_lifecycle_monthly, month by month."""
    result, counted, last_use, first_use = [], 0, None, None
    history: list[tuple[int, bool]] = []  # (counted number, active) of every month so far
    for is_active, is_vacation in zip(active, vacation, strict=True):
        gap = None
        if is_active or not is_vacation:
            counted += 1
        if is_active:
            gap = None if last_use is None else counted - 1 - last_use
        history.append((counted, is_active))
        window = sum(a for n, a in history if counted - LOYAL_WINDOW < n <= counted)
        if is_active and first_use is None:
            first_use = counted
            stage = "new"
        elif first_use is None:
            stage = "potential"
        elif is_active and gap is not None and gap >= LAPSED:
            stage = "reactivated"
        else:
            inactive = 0 if is_active else counted - last_use
            if inactive < AT_RISK:
                stage = "loyal" if window >= LOYAL_MIN else "active"
            elif inactive < LAPSED:
                stage = "at_risk"
            else:
                stage = "lapsed"
        if is_active:
            last_use = counted
        result.append(stage)
    return result


@pytest.fixture(scope="module")
def expected(demo_run: dict) -> dict:
    sources: Path = demo_run["sources"]
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym
    people = []
    for page in sorted((sources / "campus").glob("people-*.json")):
        people.extend(json.loads(page.read_text(encoding="utf-8"))["data"])
    by_borrower = {p["library"]["koha_borrowernumber"]: p for p in people}
    by_login = {p["library"]["login"]: p for p in people}
    key = {p["person_id"]: pseudonym("person", p["person_id"]) for p in people}

    call_numbers = {
        r["itemnumber"]: r["itemcallnumber"] for r in read_csv(sources / "circulation/koha/items.csv")
    }
    with (DBT_PROJECT_DIR / "seeds" / "clc_classes.csv").open(encoding="utf-8") as stream:
        clc = {row["letter"] for row in csv.DictReader(stream)}
    issues = [
        (row["borrowernumber"], datetime.fromisoformat(row["datetime"]), row["itemnumber"])
        for path in sorted((sources / "circulation/koha").glob("statistics-*.csv"))
        for row in read_csv(path)
        if row["type"] == "issue"
    ]
    sessions = ezproxy_sessions(sources)

    # every use of a known user: (user key, local datetime, kind)
    uses: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    loans_by_user: dict[str, list[str]] = defaultdict(list)
    for borrower, at, item in issues:
        if borrower in by_borrower:
            user = key[by_borrower[borrower]["person_id"]]
            uses[user].append((at, "loan"))
            loans_by_user[user].append(item)
    for login, _platform, at in sessions:
        if login in by_login:
            uses[key[by_login[login]["person_id"]]].append((at.replace(tzinfo=None), "session"))
    # a card is its holder's: the roster's, and every card the campus hub lists for them
    by_card = {p["library"]["card_number"]: key[p["person_id"]] for p in people}
    with open(sources / "campus_hub" / "persons.jsonl", encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            for card in record.get("cards") or [] if record["person_id"] in key else []:
                by_card[card["card_number"]] = key[record["person_id"]]
    visits = gate_visits(sources)
    for card, at in visits:
        if card in by_card:
            uses[by_card[card]].append((at, "visit"))
    for person_id, at in service_uses(sources):
        if person_id in key:
            uses[key[person_id]].append((at, "participation"))
    all_uses = [at for events in uses.values() for at, _ in events]
    first_month, last_day = month_of(min(all_uses).date()), max(all_uses).date()
    period = months(first_month, month_of(last_day))

    with (DBT_PROJECT_DIR / "seeds" / "academic_calendar.csv").open(encoding="utf-8") as stream:
        vacations = [
            (date.fromisoformat(r["starts_on"]), date.fromisoformat(r["ends_on"]))
            for r in csv.DictReader(stream)
            if r["is_vacation"] == "true"
        ]

    def is_vacation(month: date) -> bool:
        days = [month + timedelta(days=n) for n in range((next_month(month) - month).days)]
        return sum(any(a <= d <= b for a, b in vacations) for d in days) >= 0.5 * len(days)

    vacation = {m: is_vacation(m) for m in period}

    lifecycle, groups, active_groups = {}, Counter(), Counter()
    for person in people:
        user = key[person["person_id"]]
        used = sorted({month_of(at.date()) for at, _ in uses.get(user, [])})
        start = first_month
        if person["person_type"] == "student" and person["entry_year"]:
            start = max(first_month, min([date(person["entry_year"], 9, 1), *used]))
        end = month_of(last_day)
        if person["enrollment_status"] in ("graduated", "withdrawn"):
            left = (
                [date(person["expected_graduation_year"], 6, 1)]
                if person["enrollment_status"] == "graduated"
                else []
            )
            end = max(left + used, default=None)
        if end is None:
            continue
        span = [m for m in period if start <= m <= end]
        active = [m in used for m in span]
        for month, stage, is_active in zip(
            span, stages(active, [vacation[m] for m in span]), active, strict=True
        ):
            if person["consent"]["profiling"]:
                lifecycle[(user, month)] = stage
            group = group_in(person, month)
            leaf = person["degree_level"] if group == "postgraduate" else group
            for name in {"all", person["person_type"], group, leaf} - {None}:
                groups[(month, name)] += 1
                active_groups[(month, name)] += is_active

    subject_loans = Counter()
    for _borrower, at, item in issues:
        letter = (call_numbers.get(item) or "")[:1].upper()
        if letter in clc:
            subject_loans[(month_of(at.date()), letter)] += 1
    held = Counter(number[:1].upper() for number in call_numbers.values() if number[:1].upper() in clc)

    daily_loans = Counter(at.date() for _b, at, _i in issues)
    daily_sessions = Counter(at.date() for _l, _p, at in sessions)
    daily_visits = Counter(at.date() for _card, at in visits)
    daily_users: dict[date, set[str]] = defaultdict(set)
    for user, events in uses.items():
        for at, _ in events:
            daily_users[at.date()].add(user)

    personas = {
        key[p["person_id"]]: {
            "loans": len(loans_by_user[key[p["person_id"]]]),
            "classes": len(
                {
                    call_numbers[i][:1].upper()
                    for i in loans_by_user[key[p["person_id"]]]
                    if call_numbers.get(i, "")[:1].upper() in clc
                }
            ),
            "sessions": sum(kind == "session" for _, kind in uses.get(key[p["person_id"]], [])),
        }
        for p in people
        if p["consent"]["profiling"]
    }
    return {
        "personas": personas,
        "last_day": last_day,
        "lifecycle": lifecycle,
        "groups": groups,
        "active_groups": active_groups,
        "subject_loans": subject_loans,
        "held": held,
        "daily_loans": daily_loans,
        "daily_sessions": daily_sessions,
        "daily_visits": daily_visits,
        "daily_users": {day: len(users) for day, users in daily_users.items()},
        "period": period,
    }


def query(demo_run: dict, sql: str) -> list[dict]:
    with psycopg.connect(demo_run["url"], row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()


def test_every_persona_mart_is_built_and_populated(demo_run: dict) -> None:
    for mart in (
        "user_persona",
        "user_lifecycle_monthly",
        "group_persona",
        "org_persona",
        "usage_ranking",
        "subject_usage",
        "eresource_usage_by_org",
        "library_kpis_daily",
    ):
        assert demo_run["counts"]["marts"].get(mart, 0) > 0, mart


def test_user_persona_matches_the_source_files(demo_run: dict, expected: dict) -> None:
    rows = query(
        demo_run,
        "select user_key, loans_in_window, distinct_subject_classes, eresource_sessions, window_end_date "
        "from marts.user_persona",
    )
    personas = expected["personas"]
    assert {r["user_key"] for r in rows} == set(personas)
    for row in rows:
        want = personas[row["user_key"]]
        got = (row["loans_in_window"], row["distinct_subject_classes"], row["eresource_sessions"])
        assert got == (want["loans"], want["classes"], want["sessions"]), row["user_key"]
        # the window ends at the newest use, and its 365 days hold the whole history
        assert row["window_end_date"] == expected["last_day"]


def test_lifecycle_matches_the_rules_applied_to_the_source_files(demo_run: dict, expected: dict) -> None:
    rows = query(demo_run, "select user_key, month, stage from marts.user_lifecycle_monthly")
    got = {(r["user_key"], r["month"]): r["stage"] for r in rows}
    assert got == expected["lifecycle"]
    assert set(got.values()) == STAGES, "every lifecycle stage occurs in the demo"


def test_group_persona_populations_and_active_users(demo_run: dict, expected: dict) -> None:
    rows = query(
        demo_run, "select month, persona_group, population_users, active_users from marts.group_persona"
    )
    seen = set()
    for row in rows:
        cell = (row["month"], row["persona_group"])
        seen.add(row["persona_group"])
        for column, figures in (("population_users", "groups"), ("active_users", "active_groups")):
            value = row[column]
            if value is not None:
                assert value == expected[figures][cell], (column, cell)
                assert value == 0 or value >= K
    # every group the roster can produce (VIP readers need the campus history source)
    assert seen >= {
        "all",
        "student",
        "faculty",
        "staff",
        "freshman",
        "lower_undergraduate",
        "upper_undergraduate",
        "graduating",
        "postgraduate",
        "master",
        "doctoral",
    }
    assert {r["month"] for r in rows} == set(expected["period"])


def test_subject_usage_loans_and_holdings(demo_run: dict, expected: dict) -> None:
    rows = query(
        demo_run,
        "select month, subject_class, loans, items_held from marts.subject_usage "
        "where class_level = 'top' and persona_group = 'all'",
    )
    assert rows
    for row in rows:
        assert row["items_held"] == expected["held"][row["subject_class"]]
        if row["loans"] is not None:
            assert row["loans"] == expected["subject_loans"][(row["month"], row["subject_class"])]


def test_library_kpis_daily_match_the_files(demo_run: dict, expected: dict) -> None:
    rows = query(
        demo_run,
        "select day, loans, eresource_sessions, active_users, visits from marts.library_kpis_daily "
        "where site = 'all'",
    )
    assert len(rows) == (expected["last_day"] - expected["period"][0]).days + 1
    for row in rows:
        day = row["day"]
        assert row["loans"] == expected["daily_loans"][day], day
        assert row["eresource_sessions"] == expected["daily_sessions"][day], day
        assert row["active_users"] == expected["daily_users"].get(day, 0), day
        assert row["visits"] == expected["daily_visits"][day], day


def test_no_small_cell_is_visible_in_the_protected_marts(demo_run: dict) -> None:
    checks = {
        "group_persona": ["population_users", "active_users", "stage_new_users", "channel_digital_users"],
        "org_persona": ["population_users", "active_users", "stage_lapsed_users", "channel_none_users"],
        "subject_usage": ["borrower_users"],
        "eresource_usage_by_org": ["session_users"],
        "usage_ranking": ["ranked_users"],
    }
    for mart, columns in checks.items():
        for column in columns:
            small = query(
                demo_run, f"select count(*) as n from marts.{mart} where {column} between 1 and {K - 1}"
            )
            assert small[0]["n"] == 0, (mart, column)
