"""The synthetic university's services: deterministic, shaped by the calendar and the people, and
written in the formats the service parsers read (each deliberately broken row quarantined, and
nothing else)."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from urm_demo.synth.academic_calendar import EXAM, TEACHING, library_day
from urm_demo.synth.people import build_roster
from urm_demo.synth.services import ServicesSimulation, term_starts
from urm_demo.synth.writers import Manifest

from ingest.model import Rejected
from ingest.registry import get_source
from ingest.services.csvinput import landing_columns
from tests.helpers import context

START = date(2025, 9, 1)


def simulate(folder: Path, *, users: int, days: int, seed: int) -> Path:
    end = START + timedelta(days=days - 1)
    people = build_roster(random.Random(f"{seed}:roster"), users, START, end)
    ServicesSimulation(people, START, end, seed, folder, Manifest(folder)).run()
    return folder


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(tmp_path_factory.mktemp("services-year"), users=400, days=365, seed=5)


def parsed(folder: Path) -> dict[str, tuple[list, list[Rejected]]]:
    """Every service file of the folder through its registered format, as the DAG would load it."""
    out = {}
    for source in ("spaces", "training", "consultations", "feedback", "volunteering"):
        (fmt,) = get_source(source).formats
        good, bad = [], []
        for pattern in fmt.landing:
            for path in sorted(folder.glob(pattern)):
                options = landing_columns(folder, path)
                for item in fmt.parse(path, context(**options)):
                    (bad if isinstance(item, Rejected) else good).append(item)
        out[source] = (good, bad)
    return out


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = digest(simulate(tmp_path / "a", users=200, days=30, seed=3))
    assert first == digest(simulate(tmp_path / "b", users=200, days=30, seed=3))
    assert first != digest(simulate(tmp_path / "c", users=200, days=30, seed=4))


def test_every_file_parses_and_only_the_planted_rows_are_quarantined(year: Path) -> None:
    results = parsed(year)
    reasons = {source: [(r.field, r.reason) for r in bad] for source, (_, bad) in results.items()}
    assert [f for f, _ in reasons["spaces"]] == ["end_time"]
    assert [f for f, _ in reasons["consultations"]] == ["channel"]
    assert [f for f, _ in reasons["feedback"]] == ["score"]
    assert [f for f, _ in reasons["volunteering"]] == ["hours"]
    assert reasons["training"] == []
    for source, (good, _) in results.items():
        assert len(good) > 50, source


def test_bookings_peak_in_exam_weeks_and_freshmen_miss_more(year: Path) -> None:
    per_day: Counter[date] = Counter()
    for path in (year / "services" / "spaces").rglob("*.csv"):
        text = path.read_bytes().decode("gb18030" if "seats" in path.parts else "utf-8")
        for start in re.findall(r"(\d{4})[-/](\d\d)[-/](\d\d) \d\d:\d\d,\d{4}", text):
            per_day[date(*map(int, start))] += 1

    def mean(phase: str) -> float:
        days = [d for d in per_day if library_day(d).phase == phase and d.weekday() < 5]
        return sum(per_day[d] for d in days) / len(days)

    assert mean(EXAM) > 1.3 * mean(TEACHING)


def test_training_crowds_the_first_weeks_of_each_term(year: Path) -> None:
    starts = [first for first, *_ in term_starts(START, START + timedelta(days=364))]
    assert len(starts) == 2
    early = late = 0
    for path in (year / "services" / "training").glob("*.csv"):
        for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]:
            fields = line.split(",")
            if not fields[7]:
                continue
            day = datetime.fromisoformat(fields[4]).date()
            first = max(s for s in starts if s <= day)
            if (day - first).days < 28:
                early += 1
            else:
                late += 1
    assert early > late  # four weeks against the rest of the term


def test_each_term_has_a_survey_whose_comments_carry_contact_details(year: Path) -> None:
    surveys = sorted((year / "services" / "feedback").glob("survey-*.csv"))
    assert [p.name for p in surveys] == ["survey-2025-2026-1.csv", "survey-2025-2026-2.csv"]
    text = "\n".join(p.read_text(encoding="utf-8") for p in surveys)
    assert re.search(r"1[3-9]\d{9}", text), "a phone number in some comment"
    assert re.search(r"@(stu\.)?example\.edu\.cn", text), "an e-mail address in some comment"
    assert re.search(r"[\u4e00-\u9fff]{6}", text) and re.search(r"[A-Za-z]+ [a-z]+ [a-z]+", text)
