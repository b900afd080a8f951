"""The synthetic university's circulation history: the months before the period, as an ILS keeps
them, so that the lifecycle marts have users who lapse and come back."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from urm_demo.synth import generate
from urm_demo.synth.history import history_period

ARGS = {"users": 300, "days": 30, "seed": 4, "start": date(2025, 9, 1)}


def koha_issues(folder: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted((folder / "circulation" / "koha").glob("statistics-*.csv")):
        data = path.read_bytes()
        text = data.decode("utf-8") if int(path.stem[-2:]) % 2 else data.decode("gb18030")
        rows += [r for r in csv.DictReader(io.StringIO(text)) if r["type"] == "issue"]
    return rows


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    plain, with_history = tmp_path_factory.mktemp("plain"), tmp_path_factory.mktemp("history")
    generate(plain, **ARGS)
    generate(with_history, history_days=150, **ARGS)
    return plain, with_history


def test_history_fills_the_months_before_the_period_and_changes_nothing_in_it(
    folders: tuple[Path, Path],
) -> None:
    plain, with_history = folders
    assert history_period(date(2025, 9, 1), 150) == (date(2025, 4, 4), date(2025, 8, 31))
    months = sorted(p.stem[-7:] for p in (with_history / "circulation" / "koha").glob("statistics-*.csv"))
    assert months == ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09"]
    for name in ("campus/people-0001.json", "circulation/koha/statistics-2025-09.csv", "ezproxy/medical"):
        for path in sorted((plain / name).rglob("*")) if (plain / name).is_dir() else [plain / name]:
            twin = with_history / path.relative_to(plain)
            assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(twin.read_bytes()).digest()
    manifest = json.loads((with_history / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["args"]["history_days"] == 150 and manifest["counts"]["history_loans"] > 0
    issues = koha_issues(with_history)
    assert manifest["counts"]["history_loans"] == sum(r["datetime"] < "2025-09-01" for r in issues)


def test_history_borrowers_were_at_the_university_then(folders: tuple[Path, Path]) -> None:
    _, with_history = folders
    people = json.loads((with_history / "campus" / "people-0001.json").read_text(encoding="utf-8"))["data"]
    by_borrower = {p["library"]["koha_borrowernumber"]: p for p in people}
    before = [r for r in koha_issues(with_history) if r["datetime"] < "2025-09-01" and r["borrowernumber"]]
    assert before
    for row in before:
        person = by_borrower[row["borrowernumber"]]
        assert person["entry_year"] is None or person["entry_year"] < 2025, (
            "this year's entrants came in September"
        )
        if person["enrollment_status"] == "graduated":
            assert datetime.fromisoformat(row["datetime"]).date() <= date(2025, 6, 30)


def test_every_card_is_its_holders_at_each_event(folders: tuple[Path, Path]) -> None:
    """Loans (history included) and gate swipes use a card the campus hub says was valid then: a
    lost card until its replacement, the new one from then, every first card from before the
    history began."""
    _, with_history = folders
    zone = ZoneInfo("Asia/Shanghai")
    validity: dict[str, tuple[datetime, datetime | None]] = {}
    for line in (with_history / "campus_hub" / "persons.jsonl").read_text(encoding="utf-8").splitlines():
        for card in json.loads(line).get("cards") or []:
            validity[card["card_number"]] = (
                datetime.fromisoformat(card["valid_from"]),
                datetime.fromisoformat(card["valid_to"]) if card["valid_to"] else None,
            )
    uses = []
    for path in sorted((with_history / "circulation" / "koha").glob("statistics-*.csv")):
        data = path.read_bytes()
        text = data.decode("utf-8") if int(path.stem[-2:]) % 2 else data.decode("gb18030")
        uses += [
            (r["cardnumber"], r["datetime"]) for r in csv.DictReader(io.StringIO(text)) if r["cardnumber"]
        ]
    for path in sorted((with_history / "gate" / "swipes").glob("main-*.csv")):
        rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
        uses += [(r["card_number"], r["passed_at"]) for r in rows if r["passed_at"][11:13] < "24"]
    assert uses
    replaced = 0
    for card, at in uses:
        if card.startswith("29"):  # the gates' visiting readers: on no roster
            continue
        moment = datetime.fromisoformat(at).replace(tzinfo=zone)
        valid_from, valid_to = validity[card]
        assert valid_from <= moment and (valid_to is None or moment < valid_to), (card, at)
        replaced += valid_to is not None
    assert replaced, "some events on a card that was later replaced"
