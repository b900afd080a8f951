"""Shared fixtures: the real samples, and a real PostgreSQL database per test session.

Integration tests run on a database of their own (`urm_test`) on the embedded server, or on the
server named by URM_WAREHOUSE_URL, so that they never touch the demo's data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

# Airflow reads its settings when first imported: point it at the project's DAGs and a local
# SQLite metadata database before any test imports it.
from urm.platform.airflow_env import airflow_env
from urm.platform.settings import PROJECT_ROOT

for _name, _value in airflow_env().items():
    os.environ.setdefault(_name, _value)

SAMPLES = PROJECT_ROOT.parent / "shared" / "samples"
# Each concurrent developer or worker can take its own database.
TEST_DATABASE = os.environ.get("URM_TEST_DATABASE", "urm_test")
TEST_KEY = b"test-key-0123456789abcdef"


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"real-world samples not found at {SAMPLES}: they live in ../shared (CI has them)")
    return SAMPLES


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def warehouse_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated test database; URM_WAREHOUSE_URL points at it for the whole session."""
    from ingest.run import connect
    from ingest.schema import migrate
    from urm.platform.warehouse import EmbeddedWarehouse, external_url

    base = external_url() or EmbeddedWarehouse().ensure_running()
    admin_url = _with_database(base, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
            (TEST_DATABASE,),
        )
        admin.execute(f"drop database if exists {TEST_DATABASE}")
        admin.execute(f"create database {TEST_DATABASE}")
    url = _with_database(base, TEST_DATABASE)
    with connect(url) as conn:
        migrate(conn)
    previous = os.environ.get("URM_WAREHOUSE_URL")
    os.environ["URM_WAREHOUSE_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("URM_WAREHOUSE_URL", None)
    else:
        os.environ["URM_WAREHOUSE_URL"] = previous


def empty_landing(connection: psycopg.Connection) -> None:
    """Empty raw, quarantine and restricted (the load log included): a test starts from nothing."""
    tables = connection.execute(
        "select schemaname || '.' || tablename from pg_tables "
        "where schemaname in ('raw', 'quarantine', 'restricted')"
    ).fetchall()
    if tables:
        connection.execute("truncate " + ", ".join(t for (t,) in tables))


@pytest.fixture
def conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to an emptied test database (raw, quarantine, load log)."""
    with psycopg.connect(warehouse_url, autocommit=True) as connection:
        empty_landing(connection)
        yield connection


# One demo run serves every end-to-end test file (tests/test_end_to_end*.py, which run one after
# another): a small synthetic university through every DAG.
DEMO_USERS, DEMO_DAYS, DEMO_SEED = 620, 40, 11  # more than one campus API page (500 people a page)


@pytest.fixture(scope="session")
def demo_run(
    warehouse_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch_session: pytest.MonkeyPatch,
) -> dict:
    import io

    from rich.console import Console
    from urm_demo.run import run_demo

    monkeypatch_session.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        empty_landing(conn)  # other tests' rows must not count here
    sources = tmp_path_factory.mktemp("university")
    console = Console(file=io.StringIO(), width=160)
    first = run_demo(
        users=DEMO_USERS, days=DEMO_DAYS, seed=DEMO_SEED, ils="koha", console=console, sources_dir=sources
    )
    return {"sources": sources, "counts": first, "console": console, "url": warehouse_url}


@pytest.fixture(scope="session")
def monkeypatch_session():
    with pytest.MonkeyPatch.context() as patch:
        yield patch
