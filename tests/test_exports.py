"""Contracted exports against a real PostgreSQL: small hand-made marts in a schema of their own
(so that dbt's marts in the test database are never touched), the repository's contracts and
contracts written here to be refused."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import TEST_KEY
from urm.exports import export as export_module
from urm.exports.contract import ContractRefused, contracts_dir, load_contract, parse_contract
from urm.exports.export import consumer_pseudonymiser, run_export
from urm.exports.ledger import ensure_tables
from urm.exports.suppression import suppress

pytestmark = pytest.mark.integration

SCHEMA = "export_test_marts"
K = 10
OPTED_OUT = "u00"  # consent_profiling false: in no individual export
NO_RANKING = "u01"  # a heavy reader who did not opt in to rankings


def _people() -> list[tuple]:
    """60 students in three colleges; u00 opted out of profiling; even users opted in to rankings."""
    people = []
    for n in range(60):
        key = f"u{n:02d}"
        college = "LAW" if n < 12 else "SCI" if n < 40 else "ENG"
        group = "freshman" if n % 2 else "postgraduate"
        people.append((key, "student", group, college, college.title(), True, n % 2 == 0))
    people[0] = (OPTED_OUT, "student", "postgraduate", "LAW", "Law", False, False)
    return people


def _loans(people: list[tuple]) -> list[tuple]:
    """Users 0..19 borrow (u00 and u01 a lot); 20..59 borrow nothing."""
    loans = []
    for n, person in enumerate(people[:20]):
        for i in range(8 if n < 2 else 1 + n % 6):
            loans.append((f"{person[0]}-{i}", person[0], "B" if i % 2 else "I"))
    return loans


@pytest.fixture
def marts(conn: psycopg.Connection) -> psycopg.Connection:
    ensure_tables(conn)
    conn.execute(f"drop schema if exists {SCHEMA} cascade")
    conn.execute(f"create schema {SCHEMA}")
    conn.execute(
        f"""create table {SCHEMA}.dim_user (user_key text, user_type text, user_group text,
        college_code text, college_name text, consent_profiling boolean, consent_ranking boolean)"""
    )
    conn.execute(f"create table {SCHEMA}.fct_loans (loan_key text, user_key text, subject_class text)")
    people = _people()
    with conn.cursor() as cur:
        cur.executemany(f"insert into {SCHEMA}.dim_user values (%s, %s, %s, %s, %s, %s, %s)", people)
        cur.executemany(f"insert into {SCHEMA}.fct_loans values (%s, %s, %s)", _loans(people))
        cur.executemany(
            "insert into restricted.identity (identifier_kind, identifier, identifier_key, person_key) "
            "values ('person', %s, %s, %s)",
            [(f"2025{int(p[0][1:]):04d}", p[0], p[0]) for p in people],
        )
    conn.execute(
        f"""create table {SCHEMA}.user_persona as
        select d.user_key, d.user_type, d.user_group, d.college_name as college, 'History' as major,
            1 as year_of_study, count(l.loan_key)::integer as loans_in_window,
            count(distinct l.subject_class)::integer as distinct_subject_classes,
            case when count(l.loan_key) > 0 then date '2025-10-01' end as last_activity_date
        from {SCHEMA}.dim_user d left join {SCHEMA}.fct_loans l using (user_key)
        where d.consent_profiling group by 1, 2, 3, 4"""
    )
    # exports read as urm_exporter, which dbt grants the marts to (macros/privacy_grants.sql)
    conn.execute(f"grant usage on schema {SCHEMA} to urm_exporter")
    conn.execute(f"grant select on all tables in schema {SCHEMA} to urm_exporter")
    return conn


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "exports"
    monkeypatch.setenv("URM_EXPORT_DIR", str(folder))
    return folder


def _export(consumer: str, url: str, folder: Path | None = None):
    return run_export(consumer, url=url, schema=SCHEMA, contracts_folder=folder, key=TEST_KEY)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _read_back(result) -> tuple[list[dict], dict]:
    """The exported rows and the manifest, after checking the file against the manifest."""
    path = Path(result.file)
    manifest = json.loads(Path(result.manifest).read_text())
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == manifest["sha256"] == result.sha256
    if manifest["format"] == "parquet":
        table = pq.read_table(path)
        assert [{"name": f.name, "type": str(f.type)} for f in table.schema] == manifest["schema"]
        rows = table.to_pylist()
    elif manifest["format"] == "csv":
        assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for spreadsheet users
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    else:
        rows = [json.loads(line) for line in data.decode().splitlines()]
    assert len(rows) == manifest["row_count"]
    contract = load_contract(manifest["consumer"])
    assert manifest["contract_version"] == contract.version
    assert [c["name"] for c in manifest["schema"]] == contract.output_columns()
    assert all(list(row) == contract.output_columns() for row in rows)
    return rows, manifest


def test_every_contract_in_the_repository_is_valid() -> None:
    consumers = [p.stem for p in sorted(contracts_dir().glob("*.yml"))]
    assert len(consumers) >= 3
    contracts = [load_contract(c) for c in consumers]
    levels = {(c.level, c.reidentification.allowed) for c in contracts}
    assert {("individual", False), ("individual", True), ("aggregate", False)} <= levels


def test_pseudonymous_export_matches_its_manifest_and_leaves_out_opted_out_users(marts, out, warehouse_url):
    result = _export("library_assessment", warehouse_url)
    rows, manifest = _read_back(result)
    pseudonym = consumer_pseudonymiser("library_assessment", TEST_KEY)
    exported = {r["export_user_key"] for r in rows}
    consenting = {p[0] for p in _people() if p[5]}
    assert exported == {pseudonym(k) for k in consenting}
    assert pseudonym(OPTED_OUT) not in exported
    assert not exported & {p[0] for p in _people()}  # no mart user_key leaves
    assert manifest["data_interval"] == {"start": None, "end": None}
    assert any("consent_profiling" in rule for rule in manifest["rules_applied"])
    audit = marts.execute(
        "select status, row_count, sha256 from restricted.export_audit where consumer = 'library_assessment'"
    ).fetchall()
    assert audit == [("published", len(rows), manifest["sha256"])]


def test_two_consumers_get_different_pseudonyms_for_the_same_user() -> None:
    one = consumer_pseudonymiser("library_assessment", TEST_KEY)
    other = consumer_pseudonymiser("student_affairs_non_borrowers", TEST_KEY)
    assert one("u05") != other("u05")
    assert one("u05") == consumer_pseudonymiser("library_assessment", TEST_KEY)("u05")  # stable
    assert len({one(f"u{n:02d}") for n in range(40)} & {other(f"u{n:02d}") for n in range(40)}) == 0


def test_reidentifying_exports_carry_the_identifier_only_under_their_contract(marts, out, warehouse_url):
    rows, manifest = _read_back(_export("student_affairs_non_borrowers", warehouse_url))
    # students 20..59 borrow nothing; all consented to profiling
    assert sorted(r["student_number"] for r in rows) == [f"2025{n:04d}" for n in range(20, 60)]
    rows, _ = _read_back(_export("study_board_rankings", warehouse_url))
    numbers = {r["student_number"] for r in rows}
    assert "20250001" not in numbers  # u01 borrowed most but did not opt in to rankings
    assert "20250000" not in numbers  # u00 opted out of profiling
    assert numbers and all(int(n[4:]) % 2 == 0 for n in numbers)


def _write_contract(folder: Path, **changes) -> Path:
    data = yaml.safe_load((contracts_dir() / "library_assessment.yml").read_text())
    data.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{data['consumer']}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"columns": ["user_key", "shoe_size"]}, "column 'shoe_size' is in none of user_persona"),
        (
            {"reidentification": {"allowed": False, "identifier": "student_number"}},
            "without re-identification",
        ),
        ({"columns": ["user_key", "student_number"]}, "are identifiers"),
        ({"columns": ["email"]}, "never exported"),
        ({"sources": ["no_such_mart"]}, "no mart"),
        ({"row_filter": "user_key in (select user_key from restricted.identity)"}, "may only read"),
    ],
)
def test_a_refused_contract_writes_nothing(marts, out, warehouse_url, tmp_path, changes, message):
    folder = tmp_path / "contracts"
    _write_contract(folder, **changes)
    with pytest.raises(ContractRefused, match=message):
        _export("library_assessment", warehouse_url, folder)
    assert _files(out) == []
    statuses = marts.execute("select status from restricted.export_audit").fetchall()
    assert statuses == [("refused",)]


@pytest.mark.parametrize("consumer", ["library_assessment", "college_reading_summary"])
def test_a_crash_while_writing_leaves_no_partial_file_under_the_final_name(
    marts, out, warehouse_url, monkeypatch, consumer
):
    def crash(fs, path, data):
        with fs.open(path, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "_write_bytes", crash)
    with pytest.raises(OSError, match="disk full"):
        _export(consumer, warehouse_url)
    assert _files(out) == []  # neither the final name nor the partial one
    audit = marts.execute("select status, message from restricted.export_audit").fetchall()
    assert audit == [("failed", "OSError: disk full")]
    assert marts.execute("select count(*) from restricted.export_ledger").fetchone() == (0,)


def test_aggregate_export_suppresses_small_cells_and_differences_between_releases(marts, out, warehouse_url):
    first_rows, manifest = _read_back(_export("college_reading_summary", warehouse_url))
    for row in first_rows:
        for column in ("roster_users", "borrowing_users"):
            assert row[column] is None or row[column] == 0 or row[column] >= K
    assert manifest["cells_suppressed"]["total"] > 0
    types = {c["name"]: c["type"] for c in manifest["schema"]}
    assert types == {  # from the marts' types, even for a column that is all NULL in a release
        "college_code": "string",
        "user_group": "string",
        "roster_users": "int64",
        "borrowing_users": "int64",
        "loans": "int64",
        "suppressed": "string",
    }
    # LAW has 6 people per group: below k; SCI 14 and ENG 10 per group: ENG goes with LAW.
    law = [r for r in first_rows if r["college_code"] == "LAW"]
    assert law and all(r["roster_users"] is None for r in law)
    # Three more SCI freshmen borrow: published next to the first release, the difference would
    # show a group of 3.
    marts.execute(
        f"insert into {SCHEMA}.dim_user values ('n1', 'student', 'freshman', 'SCI', 'Sci', true, false),"
        " ('n2', 'student', 'freshman', 'SCI', 'Sci', true, false),"
        " ('n3', 'student', 'freshman', 'SCI', 'Sci', true, false)"
    )
    marts.execute(f"insert into {SCHEMA}.fct_loans values ('n1-0', 'n1', 'B'), ('n2-0', 'n2', 'B')")
    second_rows, second = _read_back(_export("college_reading_summary", warehouse_url))
    assert second["cells_suppressed"]["difference_with_earlier_release"] > 0
    before = {(r["college_code"], r["user_group"]): r for r in first_rows}
    for row in second_rows:
        old = before.get((row["college_code"], row["user_group"]))
        for column in ("roster_users", "borrowing_users"):
            if old and old[column] is not None and row[column] is not None:
                assert row[column] == old[column] or abs(row[column] - old[column]) >= K


def test_complementary_suppression_protects_a_lone_small_cell() -> None:
    contract = parse_contract(yaml.safe_load((contracts_dir() / "college_reading_summary.yml").read_text()))
    rows = [
        {"college_code": "A", "user_group": g, "roster_users": n, "borrowing_users": n, "loans": n}
        for g, n in (("freshman", 3), ("graduating", 40), ("faculty", 25))
    ]
    assert contract.aggregate is not None
    result = suppress(rows, contract.aggregate, K)
    hidden = [r["user_group"] for r in result.rows if r["roster_users"] is None]
    assert hidden == ["freshman", "faculty"]  # the smallest other cell goes with it
    assert result.rows[1]["suppressed"] is None and result.rows[2]["suppressed"] == "complementary"


def test_manifest_data_interval_and_file_name_follow_the_run(marts, out, warehouse_url):
    from datetime import UTC, datetime

    end = datetime(2025, 12, 1, tzinfo=UTC)
    result = run_export(
        "library_assessment",
        url=warehouse_url,
        schema=SCHEMA,
        key=TEST_KEY,
        interval_start=datetime(2025, 11, 1, tzinfo=UTC),
        interval_end=end,
    )
    assert result.file.endswith("library_assessment-20251201.parquet")
    _, manifest = _read_back(result)
    assert manifest["data_interval"]["end"] == end.isoformat()
    assert date.fromisoformat(manifest["generated_at"][:10])


def test_an_export_with_another_pseudonym_key_is_refused_before_writing(marts, out, warehouse_url) -> None:
    """Privacy rule 2 (keys): the warehouse records its key's fingerprint; an export made with
    another key fails before anything is written."""
    from ingest.errors import KeyMismatch
    from ingest.privacy.keys import ensure_pseudonym_key

    ensure_pseudonym_key(marts, b"the-warehouse-key-0123456789")
    with pytest.raises(KeyMismatch):
        run_export("library_assessment", url=warehouse_url, schema=SCHEMA, key=b"another-key-0123456789abc")
    assert _files(out) == []


# -- the export role and the privacy suite -------------------------------------------------------
def _refused(marts, out, warehouse_url, folder, error=ContractRefused, consumer="library_assessment") -> str:
    with pytest.raises(error) as caught:
        _export(consumer, warehouse_url, folder)
    message = str(caught.value)
    assert "\n" not in message  # one line
    assert _files(out) == []
    assert marts.execute("select status from restricted.export_audit").fetchall() == [("refused",)]
    return message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sources": ["raw.campus_people"]}, "reads marts only"),
        ({"sources": ["campus_people"]}, "no mart export_test_marts.campus_people"),
        ({"row_filter": 'user_key in (select person_key from "restricted".identity)'}, "may only read"),
    ],
)
def test_a_contract_naming_a_raw_table_is_refused(marts, out, warehouse_url, tmp_path, changes, message):
    folder = tmp_path / "contracts"
    _write_contract(folder, **changes)
    assert message in _refused(marts, out, warehouse_url, folder)


def test_a_contract_reads_only_what_the_export_role_may(marts, out, warehouse_url, tmp_path) -> None:
    """SQL the contract check does not catch still runs as urm_exporter: a table outside the
    marts is refused by PostgreSQL, and the export is refused in one line."""
    marts.execute("drop table if exists public.export_test_secret")
    marts.execute("create table public.export_test_secret (user_key text)")
    folder = tmp_path / "contracts"
    _write_contract(folder, row_filter="user_key not in (select user_key from public.export_test_secret)")
    try:
        message = _refused(marts, out, warehouse_url, folder)
    finally:
        marts.execute("drop table public.export_test_secret")
    assert "the export role urm_exporter refused the contract's query" in message
    assert "permission denied for table export_test_secret" in message


def test_a_column_or_mart_outside_the_grants_is_refused(marts, out, warehouse_url, tmp_path) -> None:
    marts.execute(f"revoke select on {SCHEMA}.user_persona from urm_exporter")
    marts.execute(
        f"grant select (user_key, user_type, user_group, loans_in_window) on {SCHEMA}.user_persona "
        "to urm_exporter"
    )
    message = _refused(marts, out, warehouse_url, None)
    assert "column 'college' of user_persona is not granted to the export role urm_exporter" in message
    marts.execute("truncate restricted.export_audit")
    marts.execute(f"revoke select on {SCHEMA}.user_persona from urm_exporter")  # the suite withdrew it
    message = _refused(marts, out, warehouse_url, None)
    assert f"the export role urm_exporter may not read {SCHEMA}.user_persona" in message


def test_the_rows_pass_the_projects_privacy_suite(marts, out, warehouse_url) -> None:
    """A student number in a text column: the export's own pattern check does not know the
    roster's formats, the privacy suite (config/privacy.yml) does; the re-identifying export's own
    student_number column is exempt."""
    from urm.exports.checks import PrivacyCheckFailed

    marts.execute(f"update {SCHEMA}.user_persona set major = 'S2025123456' where user_key = 'u03'")
    message = _refused(marts, out, warehouse_url, None, error=PrivacyCheckFailed)
    assert "refused by the privacy suite: no identifier in values (column major)" in message
    assert "S2025123456" not in message  # the rule and the count, never the value
    assert marts.execute(
        "select count(*) from pg_tables where schemaname = 'restricted' and tablename like 'export_check_%'"
    ).fetchone() == (0,)
    marts.execute(f"update {SCHEMA}.user_persona set major = 'History'")
    marts.execute(f"update {SCHEMA}.user_persona set user_group = 'S2025123456' where user_key = 'u21'")
    with pytest.raises(PrivacyCheckFailed, match="column user_group"):
        _export("student_affairs_non_borrowers", warehouse_url)
    marts.execute(f"update {SCHEMA}.user_persona set user_group = 'postgraduate'")
    rows, manifest = _read_back(_export("student_affairs_non_borrowers", warehouse_url))
    assert rows and any("privacy suite" in rule for rule in manifest["rules_applied"])
