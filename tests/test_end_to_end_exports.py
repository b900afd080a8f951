"""End to end: on the demo's warehouse (the shared `demo_run`), the export_profiles DAG has
published every contract; with restricted.identity filled from the generated roster, every
contract is exported again and read back against its manifest and contract; no opted-out person
is in any individual export; both reports draw every chart; mart column comments reach BI tools;
`urm docs --no-serve` builds dbt's site."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import yaml

from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY
from tests.test_exports import _read_back
from urm.exports.contract import list_contracts, load_contract_file
from urm.exports.export import consumer_pseudonymiser, k_anonymity, run_export
from urm.platform.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def roster(demo_run: dict) -> list[dict]:
    people = []
    for page in sorted((demo_run["sources"] / "campus").glob("people-*.json")):
        people.extend(json.loads(page.read_text(encoding="utf-8"))["data"])
    return people


@pytest.fixture(scope="module")
def identity(demo_run: dict, roster: list[dict]) -> dict[str, str]:
    """restricted.identity as campus ingest fills it: user_key -> student or staff number, as the
    roster writes it (a re-identified export gives the campus its own numbers)."""
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym
    rows = [
        (
            pseudonym("person", p["person_id"]),
            "student_number" if p["person_type"] == "student" else "staff_number",
            p["person_id"],
        )
        for p in roster
    ]
    # the demo's roster loads filled the identity vault (ingest.privacy.identity): check it holds them
    with psycopg.connect(demo_run["url"], autocommit=True) as conn:
        held = set(
            conn.execute(
                "select person_key, identifier from restricted.identity where identifier_kind = 'person'"
            ).fetchall()
        )
    assert {(key, number) for key, _kind, number in rows} <= held
    return {key: number for key, _, number in rows}


def test_the_export_dag_published_every_contract_in_the_demo(demo_run: dict) -> None:
    with psycopg.connect(demo_run["url"]) as conn:
        published = {
            c
            for (c,) in conn.execute(
                "select consumer from restricted.export_audit where status = 'published'"
            )
        }
    assert published >= {path.stem for path in list_contracts()}


def test_every_contract_exports_and_reads_back_against_its_manifest(
    demo_run: dict, roster: list[dict], identity: dict[str, str], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("URM_EXPORT_DIR", str(tmp_path))
    opted_out = {p["person_id"] for p in roster if not p["consent"]["profiling"]}
    no_ranking = {p["person_id"] for p in roster if not p["consent"]["ranking"]}
    assert opted_out, "the synthetic university has people who opted out"
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym
    seen: dict[str, set[str]] = {}
    for path in list_contracts():
        contract = load_contract_file(path)
        result = run_export(contract.consumer, url=demo_run["url"])
        rows, manifest = _read_back(result)
        assert manifest["row_count"] == len(rows)
        if contract.level == "aggregate":
            assert rows
            for row in rows:
                for column in (c for c in row if c.endswith("_users")):
                    assert row[column] is None or row[column] == 0 or row[column] >= k_anonymity()
            continue
        mine = consumer_pseudonymiser(contract.consumer, TEST_KEY)
        keys = {r["export_user_key"] for r in rows}
        assert not keys & {mine(pseudonym("person", p)) for p in opted_out}
        seen[contract.consumer] = keys
        if contract.reidentification.allowed:
            assert rows, f"{contract.consumer}: no row although restricted.identity is filled"
            numbers = {r[contract.reidentification.identifier] for r in rows}
            assert not numbers & opted_out
            if "ranking" in contract.consent:
                assert not numbers & no_ranking
            assert numbers <= set(identity.values())
    consumers = sorted(seen)
    for i, one in enumerate(consumers):
        for other in consumers[i + 1 :]:
            assert not seen[one] & seen[other], f"{one} and {other} share pseudonyms"


def test_both_reports_draw_every_chart(demo_run: dict, tmp_path: Path) -> None:
    from tests.test_reports import _drawn
    from urm.reports.build import write_report

    [html] = write_report(tmp_path / "library", url=demo_run["url"])
    tally = _drawn(html)
    assert tally["charts"] >= 5 and tally["charts-drawn"] == tally["charts"]
    with psycopg.connect(demo_run["url"]) as conn:
        (college,) = conn.execute(
            "select college_code from marts.dim_user where user_type = 'student' "
            "group by 1 order by count(*) desc limit 1"
        ).fetchone()
    html, pdf = write_report(tmp_path / "college", college=college, url=demo_run["url"])
    tally = _drawn(html)
    assert tally["charts"] >= 4 and tally["charts-drawn"] == tally["charts"]
    assert pdf.read_bytes().startswith(b"%PDF")


def test_the_demo_wrote_both_reports(demo_run: dict) -> None:
    output = demo_run["console"].file.getvalue()
    written = [
        Path(line.split("report: ", 1)[1].strip()) for line in output.splitlines() if "report: " in line
    ]
    assert {p.name for p in written} >= {"index.html"}
    assert any(p.parent.name == "library" for p in written)
    assert any(p.parent.name.startswith("college-") for p in written)
    assert all(p.exists() and p.stat().st_size > 1000 for p in written)


def test_mart_column_comments_are_visible_to_bi_tools(demo_run: dict) -> None:
    models = yaml.safe_load((DBT_PROJECT_DIR / "models/marts/core/_core__models.yml").read_text())
    dim_user = next(m for m in models["models"] if m["name"] == "dim_user")
    expected = next(c["description"] for c in dim_user["columns"] if c["name"] == "consent_ranking")
    with psycopg.connect(demo_run["url"], autocommit=True) as conn:
        conn.execute("set role urm_bi")  # what a BI tool connected through the read-only role sees
        comment = conn.execute(
            """select d.description from pg_description d
            join pg_attribute a on a.attrelid = d.objoid and a.attnum = d.objsubid
            where d.objoid = 'marts.dim_user'::regclass and a.attname = 'consent_ranking'"""
        ).fetchone()
        table_comment = conn.execute("select obj_description('marts.dim_user'::regclass)").fetchone()
    assert comment and comment[0].strip() == expected.strip()
    assert table_comment and "One row per person" in table_comment[0]


def test_urm_docs_builds_the_documentation_site(demo_run: dict) -> None:
    from typer.testing import CliRunner

    from urm.cli import app

    result = CliRunner().invoke(app, ["docs", "--no-serve"])
    assert result.exit_code == 0, result.output
    from urm.platform.settings import urm_home

    target = urm_home() / "dbt" / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    assert (target / "index.html").exists()
    assert any(node.endswith(".dim_user") for node in catalog["nodes"])
