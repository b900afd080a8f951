"""The campus file formats: roster pages with roles and cards, the registrar's CSV / XLSX export
(UTF-8 and GB18030, Chinese headers, column mapping), FOLIO users (every real sample user), and
the JSON Lines a campus API sync writes. No direct identifier ever reaches a row or the quarantine."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ingest.campus.campus_json import parse_campus_json
from ingest.campus.folio_users import parse_folio_users
from ingest.campus.registrar import parse_registrar
from ingest.campus.sync_file import parse_campus_sync, read_header
from ingest.campus.tables import CAMPUS_PEOPLE, CAMPUS_PERSON_RECORDS, FOLIO_USERS
from ingest.errors import InvalidOption
from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY
from tests.helpers import context, split, write

pseudonym = Pseudonymiser(TEST_KEY).pseudonym


def person(person_id: str = "S2023000123", **fields: object) -> dict:
    return {
        "person_id": person_id,
        "person_type": "student",
        "name": "张伟",
        "email": "zw@example.edu",
        "phone": "13800000000",
        "national_id": "110101200001011234",
        "college": {"code": "CS", "name": "计算机学院"},
        "major": {"code": "CS01", "name": "软件工程"},
        "class": "CS2023-1",
        "degree_level": "bachelor",
        "entry_year": 2023,
        "expected_graduation_year": 2027,
        "enrollment_status": "enrolled",
        "library": {"card_number": "2100012345", "login": "s2023000123", "koha_borrowernumber": "77"},
        "consent": {"profiling": True, "ranking": False},
        **fields,
    }


def rows_of(table, good):
    return [dict(zip(table.column_names, values, strict=True)) for _, values in good]


def test_roster_pages_carry_roles_and_keep_old_pages_working(tmp_path: Path) -> None:
    page = {
        "snapshot_date": "2025-10-01",
        "data": [person(), person("T2010001", person_type="faculty", roles=["Principal Investigator"])],
    }
    good, bad = split(parse_campus_json(write(tmp_path / "p.json", json.dumps(page)), context()))
    assert bad == []
    first, second = rows_of(CAMPUS_PEOPLE, good)
    assert first["roles"] is None and second["roles"] == ["principal_investigator"]
    assert first["person_key"] == pseudonym("person", "S2023000123")
    assert first["card_key"] == pseudonym("card", "2100012345")


def test_quarantine_keeps_a_pseudonym_not_the_person_id(tmp_path: Path) -> None:
    page = {"snapshot_date": "2025-10-01", "data": [person(person_type="alien")]}
    _, bad = split(parse_campus_json(write(tmp_path / "p.json", json.dumps(page)), context()))
    assert [b.field for b in bad] == ["person_type"]
    for secret in ("S2023000123", "张伟", "13800000000", "110101200001011234", "2100012345"):
        assert secret not in bad[0].raw
    assert pseudonym("person", "S2023000123") in bad[0].raw


def sync_file(tmp_path: Path, *records: dict, hub: str = "hub-a") -> Path:
    lines = [json.dumps({"campus_sync": 1, "hub": hub, "resources": {}})]
    lines += [json.dumps({"resource": "persons", "record": r}, ensure_ascii=False) for r in records]
    return write(tmp_path / "campus" / "api" / hub / "sync-1.jsonl", "\n".join(lines) + "\n")


def test_sync_records_tombstones_and_cards(tmp_path: Path) -> None:
    path = sync_file(
        tmp_path,
        person(
            updated_at="2025-10-02T08:00:00Z",
            roles=["academic_leader"],
            cards=[
                {"card_number": "2100012345", "valid_from": "2025-10-01T00:00:00Z"},
                {"card_number": "2200000001", "valid_from": "2023-09-01", "valid_to": "2025-09-30"},
            ],
        ),
        {"person_id": "S2023000999", "deleted": True, "updated_at": "2025-10-03T00:00:00+08:00"},
        person("S1", updated_at="not a time"),
        person(
            "S2",
            updated_at="2025-10-02T08:00:00Z",
            cards=[{"card_number": "X", "valid_from": "2025-10-02", "valid_to": "2025-10-01"}],
        ),
    )
    assert read_header(path)["hub"] == "hub-a"
    good, bad = split(parse_campus_sync(path, context()))
    live, tombstone = rows_of(CAMPUS_PERSON_RECORDS, good)
    assert live["hub"] == "hub-a" and live["deleted"] is False
    assert live["updated_at"] == datetime(2025, 10, 2, 8, tzinfo=UTC)
    assert tombstone == {
        **{c: None for c in CAMPUS_PERSON_RECORDS.column_names},
        "hub": "hub-a",
        "updated_at": datetime(2025, 10, 2, 16, tzinfo=UTC),
        "deleted": True,
        "person_key": pseudonym("person", "S2023000999"),
    }
    assert [(b.line, b.field) for b in bad] == [(4, "updated_at"), (5, "cards[0].valid_to")]


def test_a_file_that_is_not_a_sync_says_what_to_use(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", json.dumps({"data": []}) + "\n")
    with pytest.raises(ValueError, match="campus-json"):
        list(parse_campus_sync(path, context()))


REGISTRAR_HEADER = (
    "学号,姓名,性别,身份证号,学院代码,学院,专业代码,专业,班级,年级,学制,学历层次,学籍状态,校园卡号,手机号"
)
REGISTRAR_ROWS = [
    "2023001,李雷,男,110101200501011234,CS,计算机学院,CS01,软件工程,CS2023-1,2023级,4年,本科,在读,2100000001,13900000001",
    "2024101,韩梅梅,女,110101200201011234,EE,电子信息学院,EE01,电子信息工程,,2024,3,硕士研究生,休学,,13900000002",
    "2022002,王五,男,110101200401011234,CS,计算机学院,CS02,计算机科学与技术,CS2022-1,2022,4,本科,去火星,,",
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_registrar_csv_in_either_encoding(tmp_path: Path, encoding: str) -> None:
    text = "\r\n".join([REGISTRAR_HEADER, *REGISTRAR_ROWS]) + "\r\n"
    path = write(tmp_path / "registrar-2025-09-30.csv", text.encode(encoding))
    good, bad = split(parse_registrar(path, context()))
    first, second = rows_of(CAMPUS_PEOPLE, good)
    assert first["snapshot_date"] == date(2025, 9, 30)
    assert first["person_key"] == pseudonym("person", "2023001")
    assert (first["person_type"], first["college_code"], first["college_name"], first["major_code"]) == (
        "student",
        "CS",
        "计算机学院",
        "CS01",
    )
    assert (first["entry_year"], first["expected_graduation_year"], first["degree_level"]) == (
        2023,
        2027,
        "bachelor",
    )
    assert first["enrollment_status"] == "enrolled" and first["card_key"] == pseudonym("card", "2100000001")
    assert (second["degree_level"], second["enrollment_status"], second["expected_graduation_year"]) == (
        "master",
        "suspended",
        2027,
    )
    assert [(b.line, b.field) for b in bad] == [(4, "enrollment_status")]
    dumped = json.dumps([list(map(str, g[1])) for g in good], ensure_ascii=False) + bad[0].raw
    for secret in ("李雷", "110101200501011234", "13900000001", "2100000001", "王五", "2022002"):
        assert secret not in dumped


def test_registrar_xlsx_with_a_column_mapping(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "学生名单"
    sheet.append(["XH", "XM", "YXDM", "YXMC", "ZYDM", "NJ", "PYCC", "XJZT"])
    sheet.append([2023001, "李雷", "CS", "计算机学院", "CS01", 2023.0, "本科", "在校"])
    sheet.append([None, None, None, None, None, None, None, None])
    sheet.append([2021005, "张三", "LAW", "法学院", "LA01", datetime(2021, 9, 1), "博士", "毕业"])
    path = tmp_path / "students.xlsx"
    workbook.save(path)
    mapping = {
        "person_id": "XH",
        "college_code": "YXDM",
        "college_name": "YXMC",
        "major_code": "ZYDM",
        "entry_year": "NJ",
        "degree_level": "PYCC",
        "enrollment_status": "XJZT",
    }
    ctx = context(columns=json.dumps(mapping), snapshot_date="2025-10-01", sheet="学生名单")
    good, bad = split(parse_registrar(path, ctx))
    assert bad == []
    rows = rows_of(CAMPUS_PEOPLE, good)
    assert [g[0] for g in good] == [2, 4]
    assert rows[0]["person_key"] == pseudonym("person", "2023001")
    assert (rows[1]["entry_year"], rows[1]["degree_level"], rows[1]["enrollment_status"]) == (
        2021,
        "doctoral",
        "graduated",
    )


def test_registrar_export_without_a_date_or_a_student_number_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "students.csv", REGISTRAR_HEADER + "\n" + REGISTRAR_ROWS[0] + "\n")
    with pytest.raises(InvalidOption, match="--snapshot-date"):
        list(parse_registrar(path, context()))
    other = write(tmp_path / "s-20250930.csv", "姓名,学院\n李雷,CS\n")
    with pytest.raises(ValueError, match="student number"):
        list(parse_registrar(other, context()))


def _folio_sample_users(samples: Path) -> list[tuple[Path, dict]]:
    folder = samples / "campus" / "folio_mod-users"
    found = [(p, json.loads(p.read_text())) for p in sorted((folder / "sample-users").glob("*.json"))]
    collection = folder / "user_collection.sample.json"
    found += [(collection, user) for user in json.loads(collection.read_text())["users"]]
    return found


def test_every_folio_sample_user_parses_without_personal_data(samples: Path) -> None:
    users = _folio_sample_users(samples)
    assert len(users) == 21
    for path in sorted({p for p, _ in users}):
        expected = [u for p, u in users if p == path]
        good, bad = split(parse_folio_users(path, context()))
        assert bad == [], f"{path}: {bad}"
        rows = rows_of(FOLIO_USERS, good)
        assert len(rows) == len(expected)
        for row, user in zip(rows, expected, strict=True):
            assert row["patron_key"] == pseudonym("patron", user["id"])
            assert row["card_key"] == pseudonym("card", user.get("barcode"))
            assert row["login_key"] == pseudonym("login", user.get("username"))
            assert row["active"] == user.get("active")
            dumped = " ".join(map(str, row.values()))
            personal = user.get("personal", {})
            for value in (
                user["id"],
                user.get("barcode"),
                user.get("username"),
                personal.get("lastName"),
                personal.get("email"),
                personal.get("phone"),
            ):
                if value:
                    assert value not in dumped


def test_folio_users_links_and_bad_records(tmp_path: Path) -> None:
    users = {
        "users": [
            {
                "id": "u-1",
                "barcode": "2100000001",
                "username": "s2023001",
                "externalSystemId": "S2023001",
                "type": "patron",
                "active": True,
                "expirationDate": "2027-07-31T00:00:00.000+00:00",
                "metadata": {"updatedDate": "2025-09-01T08:00:00.000+00:00"},
                "personal": {"lastName": "李", "email": "li@example.edu"},
            },
            {"barcode": "2100000002", "personal": {"lastName": "王"}},
        ],
        "totalRecords": 2,
    }
    good, bad = split(parse_folio_users(write(tmp_path / "users.json", json.dumps(users)), context()))
    (row,) = rows_of(FOLIO_USERS, good)
    assert row["person_key"] == pseudonym("person", "S2023001")
    assert row["expiration_date"] == date(2027, 7, 31)
    assert row["updated_at"] == datetime(2025, 9, 1, 8, tzinfo=UTC)
    assert [b.field for b in bad] == ["id"] and "王" not in bad[0].raw and "2100000002" not in bad[0].raw
