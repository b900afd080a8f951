"""End to end, privacy: the demo's university through every DAG publishes its marts through the
privacy suite, records its key, fills the identity vault from the roster, and leaves no roster
identifier in any table outside `restricted` (quarantine included). Read-only: the demo's
warehouse is shared with the other end-to-end files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ingest.privacy.keys import key_fingerprint
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.e2e

TOKEN = re.compile(r"[0-9A-Za-z@._+-]+")


def _people(sources: Path) -> list[dict]:
    people = []
    for page in sorted((sources / "campus").glob("people-*.json")):
        people.extend(json.loads(page.read_text(encoding="utf-8"))["data"])
    return people


def test_the_marts_were_published_through_the_privacy_suite(demo_run: dict) -> None:
    """Rule 4: build_warehouse ran the privacy suite on every mart, and it passed."""
    with psycopg.connect(demo_run["url"]) as conn:
        last = conn.execute(
            "select success, marts, failures from restricted.privacy_suite_runs order by ran_at desc limit 1"
        ).fetchone()
        marts = conn.execute("select count(*) from pg_tables where schemaname = 'marts'").fetchone()[0]
        readable = conn.execute(
            "select bool_and(has_table_privilege('urm_bi', 'marts.' || quote_ident(tablename), 'select')) "
            "from pg_tables where schemaname = 'marts'"
        ).fetchone()[0]
    assert last is not None and last[0] is True, last
    assert last[1] == marts >= 5 and readable


def test_the_key_is_recorded_and_the_vault_lists_the_roster(demo_run: dict) -> None:
    """Rules 2 and 7: the warehouse knows its key's fingerprint; every roster person is in the
    identity vault (what rotation and erasure need), with every identifier they carry."""
    people = _people(demo_run["sources"])
    with psycopg.connect(demo_run["url"]) as conn:
        fingerprint = conn.execute("select key_fingerprint from restricted.privacy_state").fetchone()
        persons = conn.execute(
            "select count(distinct person_key) from restricted.identity where identifier_kind = 'person'"
        ).fetchone()[0]
    assert fingerprint == (key_fingerprint(TEST_KEY),)
    # the campus hub also serves people the roster pages' snapshot does not list (arrivals after it,
    # deletions): the vault holds at least every roster person
    assert persons >= len({p["person_id"] for p in people}) > 0


def test_no_roster_identifier_outside_restricted(demo_run: dict) -> None:
    """Rule 1 and the landing rules: no person id, card, login, e-mail, phone or ID number of any
    roster person is in any table of raw, quarantine, intermediate or marts."""
    needles: set[str] = set()
    for person in _people(demo_run["sources"]):
        library = person.get("library") or {}
        for value in (
            person["person_id"],
            person.get("email"),
            person.get("phone"),
            person.get("national_id"),
            library.get("card_number"),
            library.get("login"),
            library.get("folio_user_id"),
        ):
            if value:
                needles.add(str(value).lower())
    hits: set[str] = set()
    with psycopg.connect(demo_run["url"]) as conn:
        tables = conn.execute(
            "select schemaname, tablename from pg_tables "
            "where schemaname in ('raw', 'quarantine', 'intermediate', 'marts') order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            relation = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            with conn.cursor(name=f"scan_{schema}_{table}") as cur:
                cur.execute(sql.SQL("select row_to_json(t)::text from {} as t").format(relation))
                for (text,) in cur:
                    found = {t.lower() for t in TOKEN.findall(text)} & needles
                    if found:
                        hits.add(f"{schema}.{table}")
    assert hits == set()
