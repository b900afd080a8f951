"""End to end, the library's services: the synthetic university's bookings, training, reference
questions, survey and volunteering go through the ingest_services DAG and the warehouse DAG; the
marts' no-show, attendance, response-time, satisfaction, credit and transcript figures are checked
against figures computed here from the generated files alone (csv and arithmetic, none of the
platform's parsers or models). Comments reach `restricted` redacted and no mart."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY
from urm.platform.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e

K = 10  # the dbt default of k_anonymity, which the demo keeps
SEAT_STATUS = {"已签到": "checked_in", "违约": "no_show", "已取消": "cancelled"}
CHANNELS = {"总台": "desk", "在线咨询": "chat", "电子邮件": "email", "微信": "social_media", "电话": "phone"}
SERVICE_TABLES = (
    "space_bookings",
    "training_registrations",
    "consultations",
    "feedback_responses",
    "volunteer_hours",
)


def rounded(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def rows(path: Path, encoding: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("/", "-"))


def term(day: date) -> str:
    if day.month >= 8:
        return f"{day.year}-{day.year + 1}-1"
    return f"{day.year - 1}-{day.year}-1" if day.month < 2 else f"{day.year - 1}-{day.year}-2"


def group_of(person: dict, snapshot: date) -> str | None:
    if person["person_type"] in ("faculty", "staff"):
        return person["person_type"]
    entry, graduation = person.get("entry_year"), person.get("expected_graduation_year")
    if entry is None or graduation is None:
        return None
    year = snapshot.year if snapshot.month >= 9 else snapshot.year - 1
    if graduation <= year + 1:
        return "graduating"
    if person.get("degree_level") in ("master", "doctoral"):
        return "postgraduate"
    study = year - entry + 1
    return "freshman" if study <= 1 else "lower_undergraduate" if study == 2 else "upper_undergraduate"


@pytest.fixture(scope="module")
def university(demo_run: dict) -> dict:
    """The people and every valid service record, read from the generated files."""
    sources: Path = demo_run["sources"]
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym
    people = {}
    for page in sorted((sources / "campus").glob("people-*.json")):
        body = json.loads(page.read_text(encoding="utf-8"))
        snapshot = date.fromisoformat(body["snapshot_date"])
        for person in body["data"]:
            people[person["person_id"]] = {
                **person,
                "user_key": pseudonym("person", person["person_id"]),
                "group": group_of(person, snapshot),
            }
    services = sources / "services"

    bookings = []
    for path in sorted((services / "spaces").glob("rooms-*.csv")):
        for r in rows(path, "utf-8"):
            bookings.append(
                (
                    r["person_id"],
                    r["space_type"],
                    r["space_area"],
                    r["start_time"],
                    r["end_time"],
                    r["status"],
                )
            )
    for path in sorted((services / "spaces" / "seats").glob("seats-*.csv")):
        for r in rows(path, "gb18030"):
            status = SEAT_STATUS[r["预约状态"]]
            bookings.append((r["学工号"], "seat", r["区域"], r["开始时间"], r["结束时间"], status))
    bookings = [b for b in bookings if moment(b[4]) > moment(b[3])]

    registrations = []
    for path in sorted((services / "training").glob("training-*.csv")):
        for r in rows(path, "utf-8-sig"):
            if r["person_id"]:
                attended = {"是": True, "否": False, "": None}[r["attended"]]
                registrations.append(
                    (
                        r["person_id"],
                        r["session_id"],
                        r["series"],
                        r["session_start"],
                        Decimal(r["hours"]),
                        attended,
                    )
                )

    questions = []
    for path in sorted((services / "consultations").glob("consultations-*.csv")):
        for r in rows(path, "gb18030"):
            if r["channel"] in CHANNELS:
                questions.append(
                    (
                        CHANNELS[r["channel"]],
                        moment(r["asked_at"]),
                        moment(r["answered_at"]) if r["answered_at"] else None,
                    )
                )

    answers, comments = [], []
    for path in sorted((services / "feedback").glob("survey-*.csv")):
        for r in rows(path, "utf-8"):
            kind, score = r["question_type"], int(r["score"]) if r["score"] else None
            if kind == "rating" and not 1 <= score <= 5:
                continue
            answers.append(
                (
                    r["response_id"],
                    r["person_id"],
                    moment(r["submitted_at"]).date(),
                    r["service_area"],
                    kind,
                    score,
                    r["suggestion_status"],
                )
            )
            if r["comment"]:
                comments.append(r["comment"])

    volunteering = []
    for path in sorted((services / "volunteering").glob("volunteer-*.csv")):
        for r in rows(path, "gb18030"):
            if Decimal(r["hours"]) > 0:
                volunteering.append((r["person_id"], date.fromisoformat(r["date"]), Decimal(r["hours"])))
    return {
        "people": people,
        "bookings": bookings,
        "registrations": registrations,
        "questions": questions,
        "answers": answers,
        "comments": comments,
        "volunteering": volunteering,
    }


@pytest.fixture
def mart(demo_run: dict) -> Iterator[psycopg.Connection]:
    with psycopg.connect(demo_run["url"], row_factory=dict_row) as conn:
        conn.execute("set time zone 'UTC'")
        yield conn


def test_each_service_landed_once_through_its_dag(demo_run: dict, mart: psycopg.Connection) -> None:
    files = [p for p in (demo_run["sources"] / "services").rglob("*.csv")]
    loads = mart.execute(
        "select target_table, source_file, count(*) as n from raw.load_log "
        "where target_table = any(%s) and status = 'loaded' group by 1, 2",
        (list(SERVICE_TABLES),),
    ).fetchall()
    assert len(loads) == len(files) and all(load["n"] == 1 for load in loads)
    for table in SERVICE_TABLES:
        assert demo_run["counts"]["raw"][table] > 0, table
    # one planted bad row per kind, its person pseudonymised
    quarantined = mart.execute(
        "select target_table, field, raw_text from quarantine.rejected_rows where target_table = any(%s)",
        (list(SERVICE_TABLES),),
    ).fetchall()
    assert sorted((q["target_table"], q["field"]) for q in quarantined) == [
        ("consultations", "channel"),
        ("feedback_responses", "score"),
        ("space_bookings", "end_time"),
        ("volunteer_hours", "hours"),
    ]
    roster = {
        person["person_id"]
        for page in (demo_run["sources"] / "campus").glob("people-*.json")
        for person in json.loads(page.read_text(encoding="utf-8"))["data"]
    }
    for q in quarantined:
        assert not [p for p in roster if p in q["raw_text"]], q["field"]


def test_no_show_figures_match_the_booking_exports(university: dict, mart: psycopg.Connection) -> None:
    people = university["people"]
    cells: dict[tuple, dict] = defaultdict(
        lambda: {"users": set(), "bookings": 0, "checked_in": 0, "no_show": 0}
    )
    for person_id, space_type, area, _start, _end, status in university["bookings"]:
        cell = cells[(space_type, area, people[person_id]["group"])]
        cell["users"].add(person_id)
        cell["bookings"] += 1
        cell[status] = cell.get(status, 0) + 1
    facts = mart.execute(
        "select count(*) as n, count(*) filter (where is_no_show) as no_shows from marts.fct_space_bookings"
    ).fetchone()
    assert facts == {
        "n": len(university["bookings"]),
        "no_shows": sum(1 for b in university["bookings"] if b[5] == "no_show"),
    }
    rates = {
        (r["space_type"], r["space_area"], r["user_group"]): r
        for r in mart.execute("select * from marts.space_no_show_rates")
    }
    assert set(rates) == set(cells)
    shown = 0
    for key, cell in cells.items():
        rate = rates[key]
        if len(cell["users"]) < K:
            assert rate["suppressed"] == "fewer_than_k_users", key
            continue
        if rate["suppressed"]:
            assert rate["suppressed"] == "complementary"
            continue
        shown += 1
        due = cell["checked_in"] + cell["no_show"]
        assert (rate["booking_users"], rate["bookings"], rate["no_shows"]) == (
            len(cell["users"]),
            cell["bookings"],
            cell["no_show"],
        )
        assert rate["no_show_rate"] == rounded(Decimal(cell["no_show"]) / due, "0.0001"), key
    assert shown >= 3


def test_attendance_figures_match_the_training_export(university: dict, mart: psycopg.Connection) -> None:
    people = university["people"]
    registrations = university["registrations"]
    facts = mart.execute(
        "select count(*) as n, count(*) filter (where attended) as attended "
        "from marts.fct_training_attendance"
    ).fetchone()
    assert facts == {"n": len(registrations), "attended": sum(1 for r in registrations if r[5])}
    cells: dict[tuple, dict] = defaultdict(lambda: {"users": set(), "recorded": 0, "attended": 0})
    for person_id, _session, series, _start, _hours, attended in registrations:
        cell = cells[(series, people[person_id]["group"])]
        cell["users"].add(person_id)
        cell["recorded"] += attended is not None
        cell["attended"] += bool(attended)
    rates = {
        (r["series"], r["user_group"]): r
        for r in mart.execute("select * from marts.training_attendance_rates")
    }
    assert set(rates) == set(cells)
    shown = 0
    for key, cell in cells.items():
        if len(cell["users"]) < K:
            assert rates[key]["suppressed"] == "fewer_than_k_users", key
        elif rates[key]["suppressed"] is None:
            shown += 1
            assert rates[key]["attendance_rate"] == rounded(
                Decimal(cell["attended"]) / cell["recorded"], "0.0001"
            ), key
    assert shown >= 2


def _percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def test_response_times_match_the_reference_log(university: dict, mart: psycopg.Connection) -> None:
    minutes: dict[tuple, list[int]] = defaultdict(list)
    asked: dict[tuple, int] = defaultdict(int)
    for channel, at, answered in university["questions"]:
        key = (channel, at.date().replace(day=1))
        asked[key] += 1
        if answered is not None:
            minutes[key].append(int((answered - at).total_seconds() // 60))
    times = {
        (r["channel"], r["month"]): r for r in mart.execute("select * from marts.consultation_response_times")
    }
    assert set(times) == set(asked)
    for key, count in asked.items():
        row, values = times[key], minutes.get(key, [])
        assert (row["questions"], row["answered_questions"]) == (count, len(values)), key
        if not values:
            assert row["median_response_minutes"] is None
            continue
        assert row["mean_response_minutes"] == rounded(Decimal(sum(values)) / len(values), "0.1"), key
        assert abs(float(row["median_response_minutes"]) - _percentile(values, 0.5)) <= 0.05, key
        assert abs(float(row["p90_response_minutes"]) - _percentile(values, 0.9)) <= 0.051, key


def test_satisfaction_and_nps_match_the_survey(university: dict, mart: psycopg.Connection) -> None:
    people = university["people"]
    cells: dict[tuple, dict] = defaultdict(lambda: {"who": set(), "ratings": [], "nps": []})
    for response, person_id, day, area, kind, score, _status in university["answers"]:
        cell = cells[(term(day), area, people[person_id]["group"] if person_id else None)]
        cell["who"].add(person_id or response)
        if kind == "rating" and score is not None:
            cell["ratings"].append(score)
        if kind == "nps":
            cell["nps"].append(score)
    scores = {
        (r["term"], r["service_area"], r["user_group"]): r
        for r in mart.execute("select * from marts.feedback_scores")
    }
    assert set(scores) == set(cells)
    shown = 0
    for key, cell in cells.items():
        row = scores[key]
        if len(cell["who"]) < K:
            assert row["suppressed"] == "fewer_than_k_users", key
            continue
        if row["suppressed"]:
            continue
        shown += 1
        assert row["respondent_users"] == len(cell["who"]), key
        if cell["ratings"]:
            ratings = cell["ratings"]
            assert row["mean_rating"] == rounded(Decimal(sum(ratings)) / len(ratings), "0.01"), key
            satisfied = sum(1 for s in ratings if s >= 4)
            assert row["satisfied_share"] == rounded(Decimal(satisfied) / len(ratings), "0.0001"), key
        if cell["nps"]:
            nps = cell["nps"]
            net = Decimal(100 * (sum(1 for s in nps if s >= 9) - sum(1 for s in nps if s <= 6))) / len(nps)
            assert row["net_promoter_score"] == rounded(net, "0.1"), key
    assert shown >= 3


def test_participation_credit_matches_the_rules_applied_to_the_files(
    university: dict, mart: psycopg.Connection
) -> None:
    people = university["people"]
    with open(DBT_PROJECT_DIR / "seeds" / "participation_credit_rules.csv", encoding="utf-8") as handle:
        rules = {r["activity"]: r for r in csv.DictReader(handle)}

    def capped(units: Decimal, activity: str) -> Decimal:
        points = units * Decimal(rules[activity]["points_per_unit"])
        cap = rules[activity]["monthly_cap_points"]
        return min(points, Decimal(cap)) if cap else points

    months: dict[tuple, dict] = defaultdict(
        lambda: {"hours": Decimal(0), "trainings": 0, "suggestions": 0, "responses": set()}
    )
    for person_id, day, hours in university["volunteering"]:
        months[(person_id, day.replace(day=1))]["hours"] += hours
    for person_id, _session, _series, start, _hours, attended in university["registrations"]:
        if attended:
            months[(person_id, moment(start).date().replace(day=1))]["trainings"] += 1
    for response, person_id, day, _area, _kind, _score, status in university["answers"]:
        if person_id:
            month = months[(person_id, day.replace(day=1))]
            month["responses"].add(response)
            month["suggestions"] += status == "accepted"
    expected, balances = {}, defaultdict(Decimal)
    for (person_id, month), m in sorted(months.items(), key=lambda item: (item[0][0], item[0][1])):
        if not people[person_id]["consent"]["profiling"]:
            continue
        total = (
            capped(m["hours"], "volunteer_hour")
            + capped(Decimal(m["trainings"]), "training_attended")
            + capped(Decimal(m["suggestions"]), "suggestion_accepted")
            + capped(Decimal(len(m["responses"])), "feedback_response")
        )
        total = min(total, Decimal(rules["all"]["monthly_cap_points"]))
        balances[person_id] += total
        expected[(people[person_id]["user_key"], month)] = (total, balances[person_id])
    ledger = {
        (r["user_key"], r["month"]): (r["points_earned"], r["balance"])
        for r in mart.execute(
            "select user_key, month, points_earned, balance from marts.participation_credit"
        )
    }
    assert ledger == expected
    assert ledger, "some consenting users earned credit"


def test_second_classroom_transcript_matches_the_training_export(
    university: dict, mart: psycopg.Connection
) -> None:
    people = university["people"]
    expected: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for person_id, _session, series, start, hours, attended in university["registrations"]:
        person = people[person_id]
        if attended and person["person_type"] == "student" and person["consent"]["profiling"]:
            row = expected[(term(moment(start).date()), person["user_key"], series)]
            row[0] += 1
            row[1] += hours
    transcript = {
        (r["term"], r["user_key"], r["series"]): [r["sessions_attended"], r["hours"]]
        for r in mart.execute("select * from marts.second_classroom_transcript")
    }
    assert transcript == dict(expected)
    assert transcript


def test_comments_reach_restricted_redacted_and_no_mart(university: dict, mart: psycopg.Connection) -> None:
    people = university["people"]
    restricted = [
        r["comment_redacted"]
        for r in mart.execute("select comment_redacted from restricted.feedback_comments")
    ]
    assert len(restricted) == len(university["comments"])
    identifiers = {
        value
        for comment in university["comments"]
        for person in people.values()
        for value in (person["phone"], person["email"], person["person_id"], person["national_id"])
        if value in comment
    }
    assert identifiers, "the survey's comments carry phone numbers, e-mails and numbers to redact"
    kept = "\n".join(restricted)
    for value in identifiers:
        assert value not in kept
    # the words survive: every comment's opening (before any identifier) is in restricted
    for comment in university["comments"]:
        assert comment[:8] in kept
    raw = " ".join(str(v) for r in mart.execute("select * from raw.feedback_responses") for v in r.values())
    marts = [
        r["tablename"] for r in mart.execute("select tablename from pg_tables where schemaname = 'marts'")
    ]
    dump = " ".join(
        str(v) for t in marts for r in mart.execute(f'select * from marts."{t}"') for v in r.values()
    )
    for value in identifiers:
        assert value not in dump and value not in raw
    for comment in set(university["comments"]):
        assert comment[:8] not in dump and comment[:8] not in raw
