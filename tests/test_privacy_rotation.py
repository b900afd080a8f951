"""Rule 2, key rotation: `urm privacy rotate-key` re-keys every pseudonym of the warehouse in one
transaction, without changing any mart's figures, so that loads with the new key join with
everything loaded before; the old key is refused afterwards; no key appears in any output or in
dbt's compiled SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from ingest.errors import KeyMismatch
from ingest.privacy.keys import key_fingerprint
from ingest.pseudonym import Pseudonymiser
from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.helpers import write
from tests.privacy_helpers import LI, WANG, ZHANG, ezproxy_line, koha_file, roster_page, search_everywhere
from urm.cli import app
from urm.platform.dbt import run_dbt
from urm.privacy.rotation import rotate_key

pytestmark = pytest.mark.integration

NEW_KEY = b"the-new-pseudonym-key-0123456789"
WALK_IN_LOGIN, UNKNOWN_BORROWER = "walkin-reader", "77777"
MODELS = "+user_persona +fct_loans +consent_ledger"


def _build(url: str, target: Path) -> None:
    result = run_dbt(
        "build",
        "--select",
        *MODELS.split(),
        "--resource-type",
        "model",
        "--resource-type",
        "seed",
        "--target-path",
        str(target),
        url=url,
    )
    assert "Completed successfully" in result.stdout, result.stdout[-3000:]


def figures(conn: psycopg.Connection) -> dict[str, list[Any]]:
    """Each mart's row count, and per column its sum (numbers) or its number of distinct values."""
    found: dict[str, list[Any]] = {}
    for (table,) in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' "
        "and table_type = 'BASE TABLE' order by 1"
    ).fetchall():
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns where table_schema = 'marts' "
            "and table_name = %s order by ordinal_position",
            (table,),
        ).fetchall()
        parts = [sql.SQL("count(*)")]
        for name, data_type in columns:
            column = sql.Identifier(name)
            numeric = data_type in ("integer", "bigint", "numeric", "smallint", "double precision")
            template = "sum({})" if numeric else "count(distinct {})"
            parts.append(sql.SQL(template).format(column))
        row = conn.execute(
            sql.SQL("select {} from marts.{}").format(sql.SQL(", ").join(parts), sql.Identifier(table))
        ).fetchone()
        found[table] = list(row or ())
    return found


@pytest.fixture
def loaded(conn: psycopg.Connection, tmp_path: Path) -> psycopg.Connection:
    url = conn.info.dsn
    load = dict(key=TEST_KEY, max_reject_share=0.6)
    roster = roster_page(
        tmp_path / "people.json", [ZHANG.record(), LI.record(), WANG.record()], date(2025, 9, 1)
    )
    ingest_files(url, "campus", "campus-json", [roster], **load)
    issued, returned = datetime(2025, 9, 2, 10), datetime(2025, 9, 20, 10)
    events = [(issued, "issue", str(1001 + i), p.borrowernumber) for i, p in enumerate((ZHANG, LI, WANG))]
    events += [
        (returned, "return", "1001", ZHANG.borrowernumber),
        (issued, "issue", "1009", UNKNOWN_BORROWER),
    ]
    events += [(issued, "borrow", "1010", ZHANG.borrowernumber)]  # quarantined, with its pseudonym
    ingest_files(url, "circulation", "koha-csv", [koha_file(tmp_path / "statistics.csv", events)], **load)
    log = [ezproxy_line(issued, ZHANG.login), ezproxy_line(issued, WALK_IN_LOGIN)]
    ingest_files(
        url, "ezproxy", "ezproxy-log", [write(tmp_path / "site" / "a.log", "\n".join(log) + "\n")], **load
    )
    return conn


@pytest.fixture
def built(loaded: psycopg.Connection, warehouse_url: str, tmp_path: Path) -> Iterator[psycopg.Connection]:
    _build(warehouse_url, tmp_path / "target")
    yield loaded


def _old_pseudonyms() -> list[str]:
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym
    found = [p for person in (ZHANG, LI, WANG) for p in person.pseudonyms(TEST_KEY)]
    return [*found, pseudonym("login", WALK_IN_LOGIN) or "", pseudonym("patron", UNKNOWN_BORROWER) or ""]


def test_rotation_rekeys_everything_and_changes_no_figure(
    built: psycopg.Connection, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 2: after rotation no table holds a pseudonym made with the old key; every mart's
    figures are the same, in place and after a rebuild; a load with the new key joins the person
    loaded before; a load with the old key is refused."""
    conn = built
    url = conn.info.dsn
    before = figures(conn)
    assert before["user_persona"][0] == 3 and before["fct_loans"][0] >= 4
    assert search_everywhere(conn, _old_pseudonyms())

    result = rotate_key(url, TEST_KEY, NEW_KEY)

    assert result.pseudonyms_without_identity >= 2  # the walk-in login and the unknown borrower
    assert search_everywhere(conn, _old_pseudonyms()) == []
    assert figures(conn) == before
    assert conn.execute("select key_fingerprint, key_rotations from restricted.privacy_state").fetchone() == (
        key_fingerprint(NEW_KEY),
        1,
    )
    _build(warehouse_url, tmp_path / "target")
    assert figures(conn) == before

    new = Pseudonymiser(NEW_KEY).pseudonym
    later = koha_file(
        tmp_path / "later.csv", [(datetime(2025, 10, 1, 9), "issue", "1020", ZHANG.borrowernumber)]
    )
    ingest_files(url, "circulation", "koha-csv", [later], key=NEW_KEY, max_reject_share=0.25)
    joined = conn.execute(
        "select count(*) from raw.koha_statistics as k join raw.campus_people as p "
        "on p.koha_patron_key = k.patron_key where k.itemnumber = '1020' and p.person_key = %s",
        (new("person", ZHANG.person_id),),
    ).fetchone()
    assert joined == (1,)
    with pytest.raises(KeyMismatch):
        ingest_files(url, "circulation", "koha-csv", [later], key=TEST_KEY, max_reject_share=0.2)

    compiled = "\n".join(
        p.read_text(errors="replace") for p in (tmp_path / "target").rglob("*") if p.is_file()
    )
    assert TEST_KEY.decode() not in compiled and NEW_KEY.decode() not in compiled

    newest = b"yet-another-pseudonym-key-98765"
    monkeypatch.setenv("URM_PSEUDONYM_KEY", NEW_KEY.decode())
    monkeypatch.setenv("URM_PSEUDONYM_KEY_NEW", newest.decode())
    shown = CliRunner().invoke(app, ["privacy", "rotate-key"])
    assert shown.exit_code == 0, shown.output
    assert key_fingerprint(newest) in shown.output
    for key in (TEST_KEY, NEW_KEY, newest):
        assert key.decode() not in shown.output
    assert figures(conn) == before


def test_rotation_with_a_wrong_old_key_changes_nothing(loaded: psycopg.Connection) -> None:
    """Rule 2: rotating from a key that is not the warehouse's is refused and changes nothing."""
    before = search_everywhere(loaded, _old_pseudonyms())
    with pytest.raises(KeyMismatch):
        rotate_key(loaded.info.dsn, b"not-the-warehouse-key-at-all", NEW_KEY)
    assert search_everywhere(loaded, _old_pseudonyms()) == before != []
