"""Faults an operator meets: the loader killed (during COPY, just before and during its commit),
the warehouse server killed during a load, a full disk in the landing folder. After each, a
re-run ends with exactly the rows of one clean run."""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest.errors import LandingFull
from ingest.loader import load_file
from ingest.model import Format
from ingest.registry import get_format
from ingest.run import ingest_files
from ingest.schema import migrate
from tests.conftest import TEST_KEY
from tests.helpers import context
from tests.reliability_helpers import Flag, Started, count, koha_file, paused

pytestmark = pytest.mark.integration

ROWS = 5_000


def settle(url: str, within: float = 20) -> None:
    """Wait until no other session of this database is inside a transaction (a killed client's
    backend rolls back and ends when it notices the closed socket)."""
    with psycopg.connect(url, autocommit=True) as watcher:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            others = watcher.execute(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and pid <> pg_backend_pid() and backend_type = 'client backend' and state <> 'idle'"
            ).fetchone()[0]
            if not others:
                return
            time.sleep(0.05)
    raise AssertionError("a killed loader's session is still there")


def clean_run_rows(url: str, path: Path, fmt: Format) -> tuple[int, int]:
    """Load again (waiting at most 5 s for a lock: nothing may be left holding one)."""
    with psycopg.connect(url, autocommit=True) as own:
        result = load_file(own, fmt, path, context(), max_reject_share=0.25, lock_wait=5)
        rows = own.execute(
            f"select count(*), count(distinct source_line) from raw.{fmt.table.name}"
        ).fetchone()
    assert not result.skipped
    return rows


def test_sigkill_during_copy_leaves_nothing_and_the_rerun_lands_every_row_once(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    path = koha_file(tmp_path / "statistics.csv", ROWS)
    fmt = get_format("circulation", "koha-csv")
    reached, go = Flag(), Flag()

    def load() -> None:
        with psycopg.connect(warehouse_url, autocommit=True) as own:
            load_file(own, paused(fmt, reached, go, after=ROWS // 2), path, context(), max_reject_share=0.25)

    loader = Started(load)
    try:
        assert reached.wait(30)
        copied = conn.execute(
            "select coalesce(sum(bytes_processed), 0) from pg_stat_progress_copy"
        ).fetchone()
        assert copied[0] > 0, "the server has not received rows yet: not mid-COPY"
        os.kill(loader.process.pid, signal.SIGKILL)
    finally:
        go.set()
        loader.stop()
    settle(warehouse_url)
    for table in ("raw.koha_statistics", "raw.load_log", "quarantine.rejected_rows"):
        assert count(conn, table) == 0, table
    assert clean_run_rows(warehouse_url, path, fmt) == (ROWS, ROWS)
    assert count(conn, "raw.load_log") == 1


def test_sigkill_just_before_the_commit_leaves_nothing(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    path = koha_file(tmp_path / "statistics.csv", ROWS)
    fmt = get_format("circulation", "koha-csv")
    reached, go = Flag(), Flag()

    def after_load(*_: Any) -> list[str]:  # every row copied, quarantine written, not committed
        reached.set()
        go.wait(60)
        return []

    def load() -> None:
        with psycopg.connect(warehouse_url, autocommit=True) as own:
            load_file(
                own, dataclasses.replace(fmt, after_load=after_load), path, context(), max_reject_share=0.25
            )

    loader = Started(load)
    try:
        assert reached.wait(30)
        os.kill(loader.process.pid, signal.SIGKILL)
    finally:
        go.set()
        loader.stop()
    settle(warehouse_url)
    assert count(conn, "raw.koha_statistics") == 0 and count(conn, "raw.load_log") == 0
    assert clean_run_rows(warehouse_url, path, fmt) == (ROWS, ROWS)


@pytest.fixture
def slow_commit(conn: psycopg.Connection) -> Iterator[None]:
    """A deferred trigger that makes every commit of a load take a second and a half, so that a
    test can kill the loader while its COMMIT is being carried out by the server."""
    conn.execute(
        "create or replace function raw.test_slow_commit() returns trigger language plpgsql as "
        "$$ begin perform pg_sleep(1.5); return null; end $$"
    )
    conn.execute(
        "create constraint trigger test_slow_commit after insert on raw.load_log deferrable "
        "initially deferred for each row execute function raw.test_slow_commit()"
    )
    try:
        yield
    finally:
        conn.execute("drop trigger if exists test_slow_commit on raw.load_log")
        conn.execute("drop function if exists raw.test_slow_commit()")


def test_sigkill_during_the_commit_gives_one_copy_after_the_rerun(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, slow_commit: None
) -> None:
    path = koha_file(tmp_path / "statistics.csv", ROWS)
    fmt = get_format("circulation", "koha-csv")

    def load() -> None:
        with psycopg.connect(warehouse_url, autocommit=True) as own:
            load_file(own, fmt, path, context(), max_reject_share=0.25)

    loader = Started(load)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            committing = conn.execute(
                "select count(*) from pg_stat_activity where query = 'COMMIT' and wait_event = 'PgSleep'"
            ).fetchone()[0]
            if committing:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the load never reached its commit")
        os.kill(loader.process.pid, signal.SIGKILL)
    finally:
        loader.stop()
    settle(warehouse_url)
    # The server had the COMMIT: it completes it, or (had it been cut short) nothing is there.
    after_kill = (count(conn, "raw.koha_statistics"), count(conn, "raw.load_log"))
    assert after_kill in ((ROWS, 1), (0, 0))
    with psycopg.connect(warehouse_url, autocommit=True) as own:
        again = load_file(own, fmt, path, context(), max_reject_share=0.25, lock_wait=5)
    assert again.skipped == (after_kill == (ROWS, 1))
    assert (count(conn, "raw.koha_statistics"), count(conn, "raw.load_log")) == (ROWS, 1)


def _postgres_processes(postmaster: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry.name))
    return [postmaster, *children]


def _wait_gone(pids: list[int], within: float = 30) -> None:
    """Wait until every process has ended (a zombie counts as ended: it holds nothing)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state not in {"Z", "X"}:
                alive.append(pid)
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"killed server processes still running: {alive}")


def test_warehouse_server_killed_during_a_load_then_the_rerun_lands_every_row_once(tmp_path: Path) -> None:
    from urm.platform.warehouse import EmbeddedWarehouse

    # Its own server, since this one gets killed; its home outside pytest's folder, which a
    # concurrent pytest session may close to other users (the server runs as one when root).
    home = Path(tempfile.mkdtemp(prefix="urm-throwaway-"))
    server = EmbeddedWarehouse(home=home)
    url = server.ensure_running()
    try:
        with psycopg.connect(url, autocommit=True) as setup:
            migrate(setup)
            # the embedded server commits asynchronously (synchronous_commit = off): make the
            # set-up durable before the crash, which otherwise may take the new tables with it
            setup.execute("checkpoint")
        path = koha_file(tmp_path / "statistics.csv", ROWS)
        fmt = get_format("circulation", "koha-csv")
        reached, go = Flag(), Flag()

        def load() -> None:
            with psycopg.connect(url, autocommit=True) as own:
                load_file(
                    own, paused(fmt, reached, go, after=ROWS // 2), path, context(), max_reject_share=0.25
                )

        loader = Started(load)
        try:
            assert reached.wait(30)
            postmaster = int((server.pgdata / "postmaster.pid").read_text().split()[0])
            killed = _postgres_processes(postmaster)
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            _wait_gone(killed)  # a restart while one still holds shared memory would be refused
            go.set()
            kind, message = loader.results.get(timeout=30)
            assert kind == "error"  # the loader saw the server go; nothing to retry by itself
        finally:
            go.set()
            loader.stop()
        url = server.ensure_running()  # crash recovery
        with psycopg.connect(url, autocommit=True) as check:
            assert check.execute("select count(*) from raw.koha_statistics").fetchone() == (0,)
            assert check.execute("select count(*) from raw.load_log").fetchone() == (0,)
        assert clean_run_rows(url, path, fmt) == (ROWS, ROWS)
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Any]:
    """A landing folder on a 1 MiB tmpfs, and fill(free_bytes) that fills it up to that much
    free space; deleting the filler is what an operator does to free space."""
    landing = tmp_path / "landing"
    landing.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(landing)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?): the simulated ENOSPC test covers it")
    filler = landing / "filler"

    def fill(free_bytes: int) -> Path:
        size = shutil.disk_usage(landing).free - free_bytes
        with open(filler, "wb") as handle:
            handle.write(b"\0" * max(size, 0))
        return filler

    try:
        yield landing, fill
    finally:
        subprocess.run(["umount", "-l", str(landing)], check=False)


def test_a_log_cut_short_by_a_full_landing_disk_then_copied_whole_lands_each_line_once(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, small_disk: Any
) -> None:
    landing, fill = small_disk
    filler = fill(100_000)
    lines = [
        f'10.0.{n % 250}.1 - u{n % 90} [01/Sep/2025:08:{n // 60 % 60:02d}:{n % 60:02d} +0800] "GET '
        f'https://www.jstor.org/stable/{n} HTTP/1.1" 200 {n}'
        for n in range(1, 4001)
    ]
    source = tmp_path / "ezproxy.log"
    source.write_text("\n".join(lines) + "\n")  # ~330 KiB: more than is free
    target = landing / "ezproxy.log"
    with pytest.raises(OSError) as full:
        shutil.copyfile(source, target)
    assert full.value.errno == errno.ENOSPC

    def load() -> Any:
        [result] = ingest_files(
            warehouse_url, "ezproxy", "ezproxy-log", [target], key=TEST_KEY, max_reject_share=0.25
        )
        return result

    cut = load()  # the landing step saw the file as it was: cut mid-line
    assert 0 < cut.rows_loaded + cut.rows_quarantined < 4000
    filler.unlink()
    shutil.copyfile(source, target)
    whole = load()
    assert whole.first_line == cut.rows_loaded + cut.rows_quarantined  # the cut line, read again
    rows = conn.execute("select count(*), count(distinct source_line) from raw.ezproxy_requests").fetchone()
    assert rows == (4000, 4000)
    assert count(conn, "quarantine.rejected_rows") == 0


def test_a_sushi_harvest_into_a_full_landing_disk_leaves_no_part_file_then_loads_once(
    conn: psycopg.Connection, warehouse_url: str, small_disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urm_demo.sushi_server import SushiServer

    from tests.test_counter_sushi import USAGE, load

    landing, fill = small_disk
    filler = fill(8_000)
    with SushiServer(USAGE) as server:
        with pytest.raises(LandingFull, match="disk is full"):
            load(warehouse_url, server, landing)
        left = [p for p in landing.rglob("*") if p.is_file()]
        assert all(p.stat().st_size > 0 and not p.name.startswith(".") for p in left)
        assert count(conn, "raw.counter_usage") == 0
        filler.unlink()
        results = load(warehouse_url, server, landing)
        clean = conn.execute("select count(*), sum(count) from raw.counter_usage").fetchone()
        assert all(r.rows_loaded for r in results)
        again = load(warehouse_url, server, landing.parent / "elsewhere")  # a clean run's files
    assert all(r.skipped for r in again)
    assert conn.execute("select count(*), sum(count) from raw.counter_usage").fetchone() == clean


def test_a_full_disk_without_tmpfs_is_reported_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.landing_files as landing_files

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(landing_files.os, "fsync", full)
    target = tmp_path / "counter" / "harvested" / "tr.json"
    with pytest.raises(LandingFull, match="tr.json: the landing folder's disk is full"):
        landing_files.write_landing_file(target, b"{}" * 1000)
    assert list(target.parent.iterdir()) == []  # no part file left behind
