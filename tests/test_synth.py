"""The synthetic university: deterministic, realistic enough, and in the exact file formats."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from urm_demo.synth import campus_range, generate
from urm_demo.synth.academic_calendar import EXAM, VACATION, library_day

SMALL = {"users": 300, "days": 60}
KOHA_HEADER = (
    "datetime,branch,value,type,other,itemnumber,itemtype,location,borrowernumber,"
    "ccode,categorycode,interface,cardnumber"
)
# One named group per LogFormat directive.
LOG_LINE = {
    "main": re.compile(
        r"^(?P<h>\d{1,3}(?:\.\d{1,3}){3}) (?P<session>[A-Za-z0-9]{15}|-) (?P<u>[a-z0-9]+|-) "
        r"\[(?P<t>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0800)\] "
        r'"(?P<r>(?:GET|POST) https?://\S+ HTTP/1\.1)" (?P<s>\d{3}) (?P<b>\d+|-)$'
    ),
    "medical": re.compile(
        r"^(?P<h>\d{1,3}(?:\.\d{1,3}){3}) - (?P<u>[a-z0-9]+|-) "
        r"\[(?P<t>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0800)\] "
        r'"(?P<r>(?:GET|POST) https?://\S+ HTTP/1\.1)" (?P<s>\d{3}) (?P<b>\d+|-)$'
    ),
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _people(folder: Path) -> list[dict]:
    people, page = [], "people-0001.json"
    while page:
        body = json.loads((folder / "campus" / page).read_text(encoding="utf-8"))
        people += body["data"]
        page = body["next"]
    return people


def _koha_rows(folder: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted((folder / "circulation" / "koha").glob("statistics-*.csv")):
        encoding = "utf-8" if int(path.stem[-2:]) % 2 else "gb18030"
        with path.open(encoding=encoding, newline="") as stream:
            rows += list(csv.DictReader(stream))
    return rows


@pytest.fixture(scope="module")
def autumn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("autumn")
    generate(folder, seed=11, start=date(2025, 9, 1), **SMALL)
    return folder


@pytest.fixture(scope="module")
def full_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole academic year: every group is active at some point, shares settle."""
    folder = tmp_path_factory.mktemp("year")
    generate(folder, users=600, days=365, seed=5, start=date(2025, 9, 1))
    return folder


def test_same_seed_same_bytes_other_seed_other_bytes(autumn: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again, seed=11, start=date(2025, 9, 1), **SMALL)
    generate(other, seed=12, start=date(2025, 9, 1), **SMALL)
    assert _digest(again) == _digest(autumn)
    different = _digest(other)
    assert different.keys() == _digest(autumn).keys()
    assert all(
        different[name] != digest
        for name, digest in _digest(autumn).items()
        if name.startswith(("campus/", "circulation/koha/statistics", "ezproxy/main"))
    )


def test_manifest_lists_every_file_with_its_rows(autumn: Path) -> None:
    manifest = json.loads((autumn / "manifest.json").read_text(encoding="utf-8"))
    listed = {entry["path"] for entry in manifest["files"]}
    written = {p.relative_to(autumn).as_posix() for p in autumn.rglob("*") if p.is_file()}
    assert listed == written - {"manifest.json"}
    assert manifest["counts"]["people"] == SMALL["users"]
    assert manifest["counts"]["koha_statistics_rows"] == len(_koha_rows(autumn))


def test_roster_pages_and_groups(full_year: Path) -> None:
    first = json.loads((full_year / "campus" / "people-0001.json").read_text(encoding="utf-8"))
    assert (first["page"], first["page_size"], first["total"]) == (1, 500, 600)
    assert first["next"] == "people-0002.json" and first["snapshot_date"] == "2026-08-31"
    people = _people(full_year)
    assert len(people) == 600 == len({p["person_id"] for p in people})
    assert len({p["library"]["card_number"] for p in people}) == 600
    students = [p for p in people if p["person_type"] == "student"]
    bachelors = [p for p in students if p["degree_level"] == "bachelor"]
    groups = {
        "freshmen": [p for p in bachelors if p["entry_year"] == 2025],
        "upper years": [p for p in bachelors if p["entry_year"] in (2022, 2023)],
        "graduating": [p for p in students if p["expected_graduation_year"] == 2026],
        "master": [p for p in students if p["degree_level"] == "master"],
        "doctoral": [p for p in students if p["degree_level"] == "doctoral"],
        "faculty": [p for p in people if p["person_type"] == "faculty"],
        "staff": [p for p in people if p["person_type"] == "staff"],
    }
    assert all(groups.values()), {name: len(members) for name, members in groups.items()}
    # By the snapshot (31 August) this year's graduating students have graduated.
    statuses = Counter(p["enrollment_status"] for p in groups["graduating"])
    assert statuses["graduated"] > 0 and statuses["enrolled"] == 0
    assert all(re.fullmatch(r"S\d{10}", p["person_id"]) for p in students)
    assert all(re.fullmatch(r"[A-Z]{2}\d{4}-\d+", p["class"]) for p in bachelors)
    colleges = {p["college"]["code"] for p in students}
    assert 8 <= len(colleges) <= 12


def test_consent_shares(full_year: Path) -> None:
    people = _people(full_year)
    profiling = sum(p["consent"]["profiling"] for p in people) / len(people)
    ranking = sum(p["consent"]["ranking"] for p in people) / len(people)
    assert 0.9 <= profiling <= 0.99
    assert 0.12 <= ranking <= 0.3


def test_about_a_third_never_borrow_in_a_year(full_year: Path) -> None:
    people = _people(full_year)
    borrowers = {row["borrowernumber"] for row in _koha_rows(full_year) if row["type"] == "issue"}
    never = sum(p["library"]["koha_borrowernumber"] not in borrowers for p in people) / len(people)
    assert 0.28 <= never <= 0.45


def test_faculty_borrow_more_and_longer(full_year: Path) -> None:
    issues = Counter(row["categorycode"] for row in _koha_rows(full_year) if row["type"] == "issue")
    people = Counter({"student": 0, "faculty": 0} | Counter(p["person_type"] for p in _people(full_year)))
    assert issues["FAC"] / people["faculty"] > (issues["UG"] + issues["PG"]) / people["student"]
    loans = []
    for path in (full_year / "circulation" / "folio").glob("loans-*.json"):
        loans += json.loads(path.read_text(encoding="utf-8"))["loans"]
    periods = Counter()
    for loan in loans:
        if loan["renewalCount"] == 0:
            start = datetime.fromisoformat(loan["loanDate"].replace("Z", "+00:00"))
            due = datetime.fromisoformat(loan["dueDate"].replace("Z", "+00:00"))
            periods[(due - start).days // 10 * 10] += 1
    assert set(periods) <= {20, 30, 80, 90}


def test_koha_header_encodings_and_line_ends(autumn: Path) -> None:
    for path in sorted((autumn / "circulation" / "koha").glob("statistics-*.csv")):
        data = path.read_bytes()
        if int(path.stem[-2:]) % 2:  # odd month: UTF-8, LF
            text = data.decode("utf-8")
            assert "\r\n" not in text
        else:
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
            text = data.decode("gb18030")
            assert text.count("\r\n") == text.count("\n")
        assert text.splitlines()[0] == KOHA_HEADER
    rows = _koha_rows(autumn)
    assert {row["type"] for row in rows} >= {"issue", "return", "renew"}
    assert {row["value"] for row in rows} == {"0.0000"}
    assert {row["interface"] for row in rows} <= {"intranet", "opac"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["datetime"]) for row in rows)
    assert any(row["location"] == "中文图书阅览室" for row in rows)


def test_every_koha_issue_is_one_folio_loan(autumn: Path) -> None:
    rows = _koha_rows(autumn)
    issues = [row for row in rows if row["type"] == "issue"]
    loans = []
    for path in sorted((autumn / "circulation" / "folio").glob("loans-*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        assert body["totalRecords"] == len(body["loans"])
        loans += body["loans"]
    assert len(loans) == len(issues) > 0
    assert len({loan["id"] for loan in loans}) == len(loans)
    # Anonymised on both sides alike: an empty borrowernumber, no userId.
    assert sum("userId" not in loan for loan in loans) == sum(not row["borrowernumber"] for row in issues)
    closed = [loan for loan in loans if loan["status"]["name"] == "Closed"]
    assert closed and all("returnDate" in loan and loan["action"] == "checkedin" for loan in closed)
    assert sum(row["type"] == "return" for row in rows) == len(closed)
    assert {loan["loanDate"][19:] for loan in loans} == {"Z", ".000Z", "+08:00"}


def test_items_are_the_same_in_both_ils_files(autumn: Path) -> None:
    with (autumn / "circulation" / "koha" / "items.csv").open(encoding="utf-8") as stream:
        koha = list(csv.DictReader(stream))
    folio = json.loads((autumn / "circulation" / "folio" / "items.json").read_text("utf-8"))
    assert [row["barcode"] for row in koha] == [item["barcode"] for item in folio["items"]]
    assert 15 * SMALL["users"] <= len(koha) <= 30 * SMALL["users"]
    call_number = re.compile(r"[A-Z]{1,2}\d+(?:\.\d+)?/\d+")
    assert all(call_number.fullmatch(row["itemcallnumber"]) for row in koha)


def test_ezproxy_lines_match_their_logformat(autumn: Path) -> None:
    formats = json.loads((autumn / "ezproxy" / "logformats.json").read_text(encoding="utf-8"))
    assert formats == {"main": '%h %{ezproxy-session}i %u %t "%r" %s %b', "medical": '%h %l %u %t "%r" %s %b'}
    hosts = json.loads((autumn / "ezproxy" / "platform_hosts.json").read_text("utf-8"))
    statuses: Counter[str] = Counter()
    for site, pattern in LOG_LINE.items():
        suffix = ".log.gz" if site == "main" else ".log"
        paths = sorted((autumn / "ezproxy" / site).glob(f"ezproxy-*{suffix}"))
        assert len(paths) == 2  # September and October
        for path in paths:
            opener = gzip.open if site == "main" else open
            with opener(path, "rt", encoding="utf-8") as stream:
                for line in stream:
                    match = pattern.fullmatch(line.rstrip("\n"))
                    assert match, f"{path.name}: {line!r}"
                    statuses[match["s"]] += 1
                    host = match["r"].split()[1].split("/")[2]
                    assert host in hosts["platforms"] or host.startswith("ezproxy.")
    assert statuses["200"] > 0 and statuses["302"] > 0 and statuses["403"] > 0


def test_campus_range_covers_campus_addresses() -> None:
    import ipaddress

    ranges = [ipaddress.ip_network(cidr) for cidr in campus_range()]
    assert any(ipaddress.ip_address("202.120.3.4") in net for net in ranges)
    assert any(ipaddress.ip_address("10.20.3.4") in net for net in ranges)
    assert not any(ipaddress.ip_address("58.14.128.23") in net for net in ranges)


def test_exam_weeks_are_busier_than_vacation_weeks(tmp_path: Path) -> None:
    # 15 December to 12 February: end of the autumn term, its exams, then the winter vacation.
    generate(tmp_path, seed=3, start=date(2025, 12, 15), **SMALL)
    per_day: Counter[str] = Counter()
    days: Counter[str] = Counter()
    for row in _koha_rows(tmp_path):
        if row["type"] == "issue":
            per_day[library_day(date.fromisoformat(row["datetime"][:10])).phase] += 1
    for offset in range(SMALL["days"]):
        days[library_day(date.fromordinal(date(2025, 12, 15).toordinal() + offset)).phase] += 1
    assert days[EXAM] and days[VACATION]
    assert per_day[EXAM] / days[EXAM] > 2 * per_day[VACATION] / days[VACATION]


def test_library_opening_hours(autumn: Path) -> None:
    for row in _koha_rows(autumn):
        if row["type"] in ("issue", "return"):
            moment = datetime.fromisoformat(row["datetime"])
            day = library_day(moment.date())
            assert day.open_hour <= moment.hour < day.close_hour, row
