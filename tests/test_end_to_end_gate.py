"""End to end, the gates: the demo's synthetic university goes through ingest_gate and
build_warehouse, and fct_visits, fct_site_hourly and fct_gate_counts_daily are compared with
figures computed here from the generated files alone (the roster, the swipe exports in their three
shapes, the counter exports) and the gate seeds, with the rules stated in tests/gate_reference.py.
Loading the same gate files again changes nothing; the malformed line is in quarantine."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY
from tests.gate_reference import Site, daily_visitors, pair_visits, read_swipes
from urm.platform.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
SEEDS = DBT_PROJECT_DIR / "seeds"


def _seed(name: str) -> list[dict[str, str]]:
    with open(SEEDS / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _hour(moment: datetime) -> datetime:
    local = moment.astimezone(ZONE)
    return local.replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def truth(demo_run: dict) -> dict:
    """What the warehouse should hold, computed from the generated files and the seeds."""
    sources: Path = demo_run["sources"]
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym
    users = {}
    for page in sorted((sources / "campus").glob("people-*.json")):
        for person in json.loads(page.read_text(encoding="utf-8"))["data"]:
            users[person["library"]["card_number"]] = pseudonym("person", person["person_id"])
    # a lost card was its holder's until its replacement: the hub's change feed lists both
    roster = set(users.values())
    with open(sources / "campus_hub" / "persons.jsonl", encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            key = pseudonym("person", record["person_id"])
            for card in record.get("cards") or [] if key in roster else []:
                users[card["card_number"]] = key
    gate_site = {
        r["device_id"]: r["site_code"] for r in _seed("gate_devices") if r["device_kind"] == "turnstile"
    }
    sites = {
        r["site_code"]: Site(
            time.fromisoformat(r["opens_at"]), time.fromisoformat(r["closes_at"]), r["open_24h"] == "true"
        )
        for r in _seed("gate_sites")
    }

    malformed: list[tuple[str, int]] = []
    swipes = read_swipes(sources / "gate" / "swipes", gate_site, ZONE, malformed)
    visits = pair_visits(swipes, sites, ZONE)
    by_key = {s.key: s for s in swipes}

    # counters: MED-C1 hourly in UTC after its device block, S24-C1 hourly in local time
    counted: dict[tuple[str, datetime], int] = defaultdict(int)
    interval_days: dict[tuple[str, date], int] = defaultdict(int)
    interval = sources / "gate" / "counters" / "interval"
    for path in sorted(interval.glob("med-*.csv")):
        table = path.read_text(encoding="utf-8").split("RuleName,In,Out,StartTime,EndTime\n")[1]
        for _rule, count_in, _out, start, _end in csv.reader(io.StringIO(table)):
            begins = datetime.fromisoformat(start.replace("Z", "+00:00"))
            counted[("MED", _hour(begins))] += int(count_in)
            interval_days[("MED-C1", begins.astimezone(ZONE).date())] += int(count_in)
    for path in sorted(interval.glob("study24-*.csv")):
        for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
            begins = datetime.fromisoformat(f"{row['Date']} {row['Time']}").replace(tzinfo=ZONE)
            counted[("STUDY24", begins)] += int(row["_SUM_IN"])
            interval_days[("S24-C1", begins.date())] += int(row["_SUM_IN"])
    cumulative = sources / "gate" / "counters" / "cumulative" / "MAIN-C1.csv"
    readings: dict[date, int | None] = {}
    noted_closed = set()
    for row in csv.DictReader(io.StringIO(cumulative.read_text(encoding="utf-8"))):
        day = datetime.strptime(row["dates"], "%d-%b-%y").date()
        readings[day] = int(row["counts"]) if row["counts"].isdigit() else None
        if "Closed" in row["counts"]:
            noted_closed.add(day)
    closures = {date.fromisoformat(r["closed_on"]) for r in _seed("gate_closures") if not r["site_code"]}
    return {
        "users": users,
        "swipes": swipes,
        "by_key": by_key,
        "visits": visits,
        "malformed": malformed,
        "counted": counted,
        "interval_days": interval_days,
        "main_days": daily_visitors(
            readings, counter_max=999999, bidirectional=True, closed=closures | noted_closed
        ),
        "closures": closures,
    }


def _rows(url: str, query: str) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchall()


def test_fct_visits_matches_the_swipe_files(demo_run: dict, truth: dict) -> None:
    rows = _rows(demo_run["url"], "select * from marts.fct_visits")
    users = truth["users"]
    expected = Counter(
        (users.get(v.card), v.site, v.entered_at, v.left_at, v.exit_imputed, v.entry_missing, v.clock_skew)
        for v in truth["visits"]
    )
    actual = Counter(
        (r["user_key"], r["site_code"], r["entered_at"], r["left_at"], r["exit_imputed"], r["entry_missing"],
         r["clock_skew"])
        for r in rows
    )  # fmt: skip
    assert actual == expected
    # every kind of visit the university produces is there
    assert all(sum(1 for r in rows if r[flag]) for flag in ("exit_imputed", "entry_missing", "clock_skew"))
    unknown = [r for r in rows if r["user_key"] is None]
    assert unknown and len(unknown) == sum(1 for v in truth["visits"] if v.card not in users)
    overnight = [r for r in rows if r["site_code"] == "STUDY24" and r["entered_at"] and
                 r["left_at"].astimezone(ZONE).date() > r["entered_at"].astimezone(ZONE).date()]  # fmt: skip
    assert overnight, "no study-room evening ran past midnight"
    for row in rows:
        if row["entered_at"] is not None:
            minutes = Decimal((row["left_at"] - row["entered_at"]).total_seconds()) / 60
            assert row["dwell_minutes"] == round(minutes, 2) >= 0
            local = row["entered_at"].astimezone(ZONE)
            assert (row["visit_date"], row["visit_hour"], row["visit_weekday"]) == (
                local.date(),
                local.hour,
                local.isoweekday(),
            )


def test_fct_site_hourly_matches_the_files(demo_run: dict, truth: dict) -> None:
    rows = _rows(demo_run["url"], "select * from marts.fct_site_hourly")
    users, by_key = truth["users"], truth["by_key"]
    expected: dict[tuple[str, datetime], Counter] = defaultdict(Counter)
    for visit in truth["visits"]:
        if visit.entered_at is not None:
            cell = expected[(visit.site, _hour(visit.entered_at))]
            cell["entries"] += 1
            cell["identified_entries"] += visit.card in users
            hour_end = _hour(visit.entered_at) + timedelta(hours=1)
            while hour_end < visit.left_at:
                expected[(visit.site, hour_end - timedelta(hours=1))]["estimated_occupancy"] += 1
                hour_end += timedelta(hours=1)
        if visit.exit is not None:
            expected[(visit.site, _hour(by_key[visit.exit].at))]["exits"] += 1
    for swipe in truth["swipes"]:
        if swipe.result == "denied" and swipe.site:
            expected[(swipe.site, _hour(swipe.at))]["denied_passages"] += 1
    actual = {(r["site_code"], r["hour_start"].astimezone(ZONE)): r for r in rows}
    assert len(actual) == len(rows)
    for key, cell in expected.items():
        row = actual[key]
        for column in ("entries", "exits", "identified_entries", "denied_passages", "estimated_occupancy"):
            assert row[column] == cell[column], (key, column)
    for key, row in actual.items():
        if key not in expected:
            assert (row["entries"], row["exits"], row["denied_passages"], row["estimated_occupancy"]) == (
                0,
                0,
                0,
                0,
            )
        site, hour = key
        counted = truth["counted"].get((site, hour)) if site != "MAIN" else None
        assert row["counted_visitors"] == counted, key
        if counted:
            share = (Decimal(row["identified_entries"]) / counted).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            assert row["identified_share"] == share, key
    # each site runs without a hole from its first to its last active hour
    for site in {s for s, _ in actual}:
        hours = sorted(h for s, h in actual if s == site)
        assert len(hours) == (hours[-1] - hours[0]) // timedelta(hours=1) + 1
    # the swipes never identify more visitors than the counters counted
    assert all(
        r["identified_entries"] <= r["counted_visitors"] for r in rows if r["counted_visitors"] is not None
    )


def test_fct_gate_counts_daily_matches_the_counter_files(demo_run: dict, truth: dict) -> None:
    rows = _rows(demo_run["url"], "select * from marts.fct_gate_counts_daily")
    by_counter: dict[str, dict[date, dict]] = defaultdict(dict)
    for row in rows:
        by_counter[row["counter_id"]][row["count_date"]] = row
    main = by_counter["MAIN-C1"]
    assert set(main) == set(truth["main_days"])
    for day, visitors in truth["main_days"].items():
        assert abs(main[day]["visitors"] - visitors) <= Decimal("0.0001"), day
    assert sum(r["rollover"] for r in main.values()) == 1
    assert sum(r["estimated"] for r in main.values()) >= 3  # the broken days
    closed = [d for d, r in main.items() if r["closed"]]
    assert closed and set(closed) <= truth["closures"]
    assert sum(r["closed_visitors"] for r in main.values()) > 0  # staff counted on a holiday, kept aside
    for counter in ("MED-C1", "S24-C1"):
        for day, row in by_counter[counter].items():
            figure = truth["interval_days"][(counter, day)]
            if day in truth["closures"]:
                assert (row["visitors"], row["closed_visitors"], row["closed"]) == (0, figure, True)
            else:
                assert row["visitors"] == figure and not row["estimated"], (counter, day)
    # the counter at the main door saw at least everyone who swiped in there (and the guests)
    entries = Counter(
        v.entered_at.astimezone(ZONE).date() for v in truth["visits"] if v.site == "MAIN" and v.entered_at
    )
    for day, row in main.items():
        if not row["estimated"] and not row["closed"]:
            assert row["visitors"] >= entries[day], day


def test_loading_the_gate_files_again_changes_nothing(demo_run: dict) -> None:
    from urm.steps.landing import ingest_landing

    tables = ("raw.gate_passages", "raw.gate_counter_readings", "raw.gate_counter_intervals", "raw.load_log")
    with psycopg.connect(demo_run["url"]) as conn:
        before = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
    results = ingest_landing("gate", root=demo_run["sources"])
    assert results and all(r["skipped"] for r in results)
    with psycopg.connect(demo_run["url"]) as conn:
        after = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
    assert after == before


def test_the_malformed_line_is_quarantined_with_its_line_and_reason(demo_run: dict, truth: dict) -> None:
    rows = _rows(
        demo_run["url"],
        "select source_file, source_line, field, reason, raw_text from quarantine.rejected_rows "
        "where source = 'gate'",
    )
    assert [(Path(r["source_file"]).name, r["source_line"]) for r in rows] == truth["malformed"]
    assert rows[0]["field"] == "passed_at" and "not a real date and time" in rows[0]["reason"]
    cards = {s.card for s in truth["swipes"]}
    assert not any(card in rows[0]["raw_text"] for card in cards)  # the card only as a pseudonym
