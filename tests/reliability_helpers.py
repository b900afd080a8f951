"""Helpers of the reliability tests: forked processes, a load paused in mid-COPY, test files."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from ingest.model import Format, ParseContext, ParsedItem
from tests.helpers import write
from tests.test_circulation_parsers import HEADER

FORK = multiprocessing.get_context("fork")  # children inherit the test's setup; no pickling


class Flag:
    """A one-way signal between processes that survives one of them being killed: a file.
    (multiprocessing.Event.set() waits for every waiter to wake: a waiter killed with SIGKILL
    never does, and set() hangs.)"""

    _count = 0

    def __init__(self) -> None:
        Flag._count += 1
        self.path = (
            Path(tempfile.gettempdir()) / f"urm-test-flag-{os.getpid()}-{Flag._count}-{time.time_ns()}"
        )
        self.path.unlink(missing_ok=True)

    def set(self) -> None:
        self.path.touch()

    def is_set(self) -> bool:
        return self.path.exists()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.path.exists():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def __del__(self) -> None:
        if os.getpid() == int(self.path.name.split("-")[3]):
            self.path.unlink(missing_ok=True)


def koha_file(path: Path, rows: int, first_item: int = 1) -> Path:
    body = "".join(
        f"2025-09-{1 + n % 28:02d} {n // 60 % 24:02d}:{n % 60:02d}:00,MAIN,0,issue,,{first_item + n},BK,"
        f"STACKS,{n % 500},,UG,intranet\n"
        for n in range(rows)
    )
    return write(path, HEADER + "\n" + body)


def in_processes(*targets: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Run each target in its own process, all released at once; their results (or the
    exception each raised, as (type name, message)) in order."""
    barrier = FORK.Barrier(len(targets))
    results = FORK.Queue()

    def run(number: int, target: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results.put((number, target()))
        except BaseException as error:
            results.put((number, ("error", type(error).__name__, str(error), traceback.format_exc())))

    processes = [FORK.Process(target=run, args=(n, t)) for n, t in enumerate(targets)]
    for process in processes:
        process.start()
    collected = dict(results.get(timeout=timeout) for _ in processes)
    for process in processes:
        process.join(timeout=10)
    return [collected[n] for n in range(len(targets))]


class Started:
    """A target running in a forked process; get() its result (or re-raise what it raised)."""

    def __init__(self, target: Callable[[], Any]) -> None:
        self.results = FORK.Queue()

        def run() -> None:
            try:
                self.results.put(("ok", target()))
            except BaseException as error:
                self.results.put(("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"))

        self.process = FORK.Process(target=run)
        self.process.start()

    def get(self, timeout: float) -> Any:
        kind, value = self.results.get(timeout=timeout)
        self.process.join(timeout=10)
        assert kind == "ok", value
        return value

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def no_errors(results: list[Any]) -> None:
    errors = [r for r in results if isinstance(r, tuple) and r and r[0] == "error"]
    assert not errors, "\n".join(e[3] for e in errors)


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"select count(*) from {table}").fetchone()[0]


def paused(fmt: Format, reached: Any, go: Any, after: int = 10) -> Format:
    """The format with a parser that stops after `after` rows until `go` is set: a load caught
    in the middle of its COPY, its transaction open."""

    def parse(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
        for number, item in enumerate(fmt.parse(path, ctx)):
            if number == after:
                reached.set()
                assert go.wait(60), "the test never let the paused load go on"
            yield item

    # no fast path either (a line or COPY-text parser would bypass the paused `parse`)
    return dataclasses.replace(fmt, parse=parse, line_parser=None, block_parser=None, copy_parser=None)


def waiting_for_advisory_lock(url: str, within: float = 15) -> bool:
    with psycopg.connect(url, autocommit=True) as watcher:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if watcher.execute(
                "select count(*) from pg_locks where locktype = 'advisory' and not granted"
            ).fetchone()[0]:
                return True
            time.sleep(0.05)
    return False
