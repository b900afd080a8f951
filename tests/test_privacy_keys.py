"""Rule 2, one key per warehouse: the first load records the pseudonym key's fingerprint, and a
load, build or DAG build with another key fails before writing, saying what to do; the key
itself is never shown, and never in the repository."""

from __future__ import annotations

import subprocess
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ingest.errors import KeyMismatch
from ingest.privacy.keys import key_fingerprint
from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.privacy_helpers import LI, ZHANG, koha_file, roster_page
from urm.cli import app
from urm.platform.settings import PROJECT_ROOT

OTHER_KEY = b"another-key-that-is-not-the-warehouse-one"
runner = CliRunner()


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = conn.execute(
        "select schemaname || '.' || tablename from pg_tables "
        "where schemaname in ('raw', 'quarantine', 'restricted') order by 1"
    ).fetchall()
    return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}


def _load(url: str, key: bytes, tmp_path: Path, name: str) -> None:
    roster = roster_page(tmp_path / f"{name}-people.json", [ZHANG.record(), LI.record()], date(2025, 9, 1))
    koha = koha_file(
        tmp_path / f"{name}-statistics.csv", [(datetime(2025, 9, 2, 10), "issue", name, ZHANG.borrowernumber)]
    )
    ingest_files(url, "campus", "campus-json", [roster], key=key, max_reject_share=0.25)
    ingest_files(url, "circulation", "koha-csv", [koha], key=key, max_reject_share=0.25)


@pytest.mark.integration
def test_a_load_with_a_second_key_fails_and_changes_nothing(conn: psycopg.Connection, tmp_path: Path) -> None:
    """Rule 2: the first load records the key's fingerprint; a load with another key is refused
    before it writes anything, with a message that says what to do and shows no key."""
    url = conn.info.dsn
    _load(url, TEST_KEY, tmp_path, "1001")
    recorded = conn.execute("select key_fingerprint from restricted.privacy_state").fetchone()
    assert recorded == (key_fingerprint(TEST_KEY),)
    before = _counts(conn)
    assert before["raw.campus_people"] == 2 and before["raw.koha_statistics"] == 1

    with pytest.raises(KeyMismatch) as refused:
        _load(url, OTHER_KEY, tmp_path, "1002")
    message = str(refused.value)
    assert "URM_PSEUDONYM_KEY" in message and "urm privacy rotate-key" in message
    assert key_fingerprint(TEST_KEY) in message and key_fingerprint(OTHER_KEY) in message
    assert TEST_KEY.decode() not in message and OTHER_KEY.decode() not in message
    assert _counts(conn) == before

    _load(url, TEST_KEY, tmp_path, "1003")  # the right key still loads
    assert _counts(conn)["raw.koha_statistics"] == 2


@pytest.mark.integration
def test_a_build_with_another_key_fails_before_dbt_runs(
    conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 2: `urm build` and the build_warehouse DAG's first task refuse another key."""
    _load(conn.info.dsn, TEST_KEY, tmp_path, "1001")
    ran: list[tuple[str, ...]] = []
    monkeypatch.setattr("urm.platform.dbt.run_dbt", lambda *args, **kw: ran.append(args))
    monkeypatch.setenv("URM_PSEUDONYM_KEY", OTHER_KEY.decode())
    result = runner.invoke(app, ["build", "--select", "dim_user"])
    assert result.exit_code == 2, result.output
    assert "not the one this warehouse was built with" in result.output
    assert OTHER_KEY.decode() not in result.output and TEST_KEY.decode() not in result.output
    assert ran == []

    from urm.steps.privacy import check_pseudonym_key

    with pytest.raises(KeyMismatch):
        check_pseudonym_key()
    monkeypatch.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())
    assert check_pseudonym_key() == key_fingerprint(TEST_KEY)


def test_the_key_never_enters_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule 2: the local key file is git-ignored and no tracked file holds the key in use."""
    from urm.platform.settings import pseudonym_key, urm_home

    # the key a user gets without configuring one (the demo run sets the tests' key for the session)
    monkeypatch.delenv("URM_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("URM_HOME", raising=False)
    key = pseudonym_key(announce=False).decode()
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(urm_home() / "pseudonym.key")], cwd=PROJECT_ROOT, check=False
    )
    assert ignored.returncode == 0, "the local key file is not git-ignored"
    tracked = subprocess.run(
        ["git", "grep", "-l", "-F", key], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    assert tracked.stdout.strip() == ""


def test_the_fingerprint_does_not_reveal_the_key() -> None:
    """Rule 2: the fingerprint is a keyed digest, never a prefix or a plain hash of the key."""
    import hashlib

    fingerprint = key_fingerprint(TEST_KEY)
    assert len(fingerprint) == 16 and fingerprint not in TEST_KEY.hex()
    assert fingerprint not in hashlib.sha256(TEST_KEY).hexdigest()
    assert key_fingerprint(OTHER_KEY) != fingerprint
