"""The reference university through the whole platform: `python -m bench.university [--fraction F]`.

What it does, on a database of its own (default `urm_bench_university`, created afresh) of the
warehouse (the embedded PostgreSQL, or the server of URM_WAREHOUSE_URL):

1. generates the synthetic university at a fraction of the reference one (65,000 people, 365 days)
   for one day more than the period, then holds the last day back: day-ordered files are cut
   before their first line of that day (append-only EZproxy logs are written shorter, the other
   formats get the held-back lines as a file of their own), files of that day alone wait;
2. backfill: every DAG through Airflow's local runner, as `urm demo` does (no campaign), timing
   each DAG, each task (Airflow's task instances), each dbt layer (dbt's run_results.json) and
   the validations;
3. per landing table, rows/s of the ingest (the loader's own time in raw.load_log) against psql's
   `\\copy` of the very rows that landed into an empty table of the same layout, in the same run;
4. the naive baseline: pandas `DataFrame.to_sql` of a sample of the same rows;
5. peak resident memory of every process of the run (sampled every 0.5 s), per kind of process;
6. the warehouse's size on disk and its largest relations;
7. the daily run: the held-back day lands, then the ingest DAGs and build_warehouse run again;

then writes the section between `<!-- bench:university start -->` and `<!-- bench:university end -->`
of the output file (BENCHMARKS.md), leaving the rest of the file as it is. Full-size figures are
extrapolated linearly from the fraction, by rows where a source's rows are known, and say so.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH_DATABASE = "urm_bench_university"
BENCH_KEY = "bench-university-key-0123456789abcdef"
COMPARE_SCHEMA = "bench_copy"
START_MARK = "<!-- bench:university start -->"
END_MARK = "<!-- bench:university end -->"
GB = 1024**3

# The reference large university of DESIGN.md, for one academic year.
REFERENCE_PEOPLE = 65_000
REFERENCE_DAYS = 365
REFERENCE_ROWS = {  # landing table -> rows a year
    "koha_statistics": 1_500_000,
    "gate_passages": 6_000_000,
    "ezproxy_requests": 20_000_000,
}
REFERENCE_COUNTER_PLATFORMS = 150
INGEST_DAG_SOURCES = {  # ingest DAG -> landing tables it fills (prefix match on table names)
    "ingest_campus": ("campus_",),
    "ingest_circulation": ("koha_", "folio_"),
    "ingest_ezproxy": ("ezproxy_",),
    "ingest_counter": ("counter_",),
    "ingest_gate": ("gate_",),
    "ingest_services": ("service", "space_", "training_", "consultation", "feedback_", "volunteer_"),
}
# Tables that grow with the people (a roster, a collection) or with the period alone (COUNTER
# reports: platforms x months), not with both; the others grow with people x days.
PER_PERSON_TABLES = ("ils_items", "folio_items", "campus_")
PER_PERIOD_TABLES = ("counter_",)
TARGETS = {
    "backfill_seconds": 600,
    "daily_seconds": 60,
    "copy_ratio": 0.5,
    "to_sql_speedup": 50,
    "peak_rss_bytes": GB,
}


# -- holding the last day back -----------------------------------------------------------------

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
DATE_PATTERN = re.compile(
    rb"(?P<iso>(?P<y>20\d\d)[-/](?P<m>\d\d)[-/](?P<d>\d\d))"
    rb"|(?P<clf>(?P<cd>\d\d)/(?P<cm>[A-Z][a-z]{2})/(?P<cy>20\d\d))"
    rb"|(?P<short>(?P<sd>\d\d)-(?P<sm>[A-Z][a-z]{2})-(?P<sy>\d\d)\b)"
)
LINE_SUFFIXES = (".csv", ".jsonl", ".log", ".log.gz", ".txt")


def line_date(line: bytes) -> date | None:
    """The first date a line holds (2025-09-01, 2025/09/01, 01/Sep/2025, 01-Sep-25), or None."""
    match = DATE_PATTERN.search(line)
    if not match:
        return None
    try:
        if match["iso"]:
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
        if match["clf"]:
            return date(int(match["cy"]), MONTHS[match["cm"].decode()], int(match["cd"]))
        return date(2000 + int(match["sy"]), MONTHS[match["sm"].decode()], int(match["sd"]))
    except (KeyError, ValueError):
        return None


@dataclass
class Split:
    """A file cut before its first line of the held-back day: `head` lines (up to the first
    dated line) start the file; `kept` is the backfill's content, `held` the day's lines."""

    header: bytes
    kept: bytes
    held: bytes


def split_day(content: bytes, day: date, tolerance: float = 0.95) -> Split | None:
    """Cut a day-ordered text at its first line dated `day` or later, when (nearly) every line from
    there on is dated that day or the night after; None when the text is not day-ordered that way
    (a roster, a schedule)."""
    lines = content.splitlines(keepends=True)
    dates = [line_date(line) for line in lines]
    first_dated = next((i for i, d in enumerate(dates) if d is not None), None)
    if first_dated is None:
        return None
    cut = next((i for i, d in enumerate(dates) if d is not None and d >= day), None)
    if cut is None:
        return Split(b"".join(lines[:first_dated]), content, b"")
    tail = [d for d in dates[cut:] if d is not None]
    # the day itself, or the night after it (a visit that ends after midnight); later dates are
    # a schedule (training sessions to come), not a log of the day
    if sum(0 <= (d - day).days <= 1 for d in tail) < tolerance * len(tail):
        return None
    header = b"".join(lines[:first_dated])
    return Split(header, b"".join(lines[:cut]), b"".join(lines[cut:]))


@dataclass
class HoldBack:
    """What the backfill leaves for the daily run (files relative to the landing folder)."""

    day: date
    held_dir: Path
    grown: list[str] = field(default_factory=list)  # append-only logs: the whole file waits
    deltas: list[str] = field(default_factory=list)  # the day's lines, as a file of their own
    whole: list[str] = field(default_factory=list)  # files of that day alone
    untouched: list[str] = field(default_factory=list)  # not day-ordered: loaded whole at once
    held_lines: int = 0


def landing_patterns() -> dict[str, tuple[tuple[str, ...], bool]]:
    """format key -> (landing globs, append-only?) from the registry."""
    from ingest.registry import formats

    return {f"{s}/{n}": (fmt.landing, bool(fmt.append_only)) for (s, n), fmt in formats().items()}


def _matches(rel: str, globs: tuple[str, ...]) -> bool:
    # fnmatch's * crosses folders, which is what `**/` means in the registry's globs too
    return any(fnmatch(rel, g) or fnmatch(rel, g.replace("**/", "")) for g in globs)


def hold_back_last_day(folder: Path, day: date, held_dir: Path) -> HoldBack:
    """Leave in `folder` what the backfill lands; put the day's lines in `held_dir` (same layout)."""
    patterns = landing_patterns()
    plan = HoldBack(day, held_dir)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        matching = [(globs, append) for globs, append in patterns.values() if _matches(rel, globs)]
        if not matching or not rel.endswith(LINE_SUFFIXES) or "/cumulative/" in rel:
            continue  # not landed, not line-oriented, or cumulative counters (a delta means nothing)
        append_only = any(append for _, append in matching)
        zipped = rel.endswith(".gz")
        content = gzip.decompress(path.read_bytes()) if zipped else path.read_bytes()
        split = split_day(content, day)
        if split is None:
            plan.untouched.append(rel)
            continue
        if not split.held:
            continue
        plan.held_lines += split.held.count(b"\n")
        target = held_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if split.kept == split.header:  # nothing before the day: the whole file waits
            path.replace(target)
            plan.whole.append(rel)
        elif append_only:
            shutil.copy2(path, target)
            path.write_bytes(gzip.compress(split.kept, mtime=0) if zipped else split.kept)
            plan.grown.append(rel)
        else:
            name = path.name.split(".", 1)
            delta_name = f"{name[0]}-daily-{day:%Y%m%d}.{name[1]}"
            delta_rel = (Path(rel).parent / delta_name).as_posix()
            if not any(_matches(delta_rel, globs) for globs, _ in matching):
                plan.untouched.append(rel)  # a delta would not be picked up: load it whole now
                continue
            delta = split.header + split.held
            (held_dir / delta_rel).write_bytes(gzip.compress(delta, mtime=0) if zipped else delta)
            path.write_bytes(gzip.compress(split.kept, mtime=0) if zipped else split.kept)
            plan.deltas.append(delta_rel)
    return plan


def land_held_back(plan: HoldBack, folder: Path) -> None:
    for path in (p for p in plan.held_dir.rglob("*") if p.is_file()):
        target = folder / path.relative_to(plan.held_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


# -- memory --------------------------------------------------------------------------------------


def process_kind(cmdline: list[str], parent_cmdline: list[str] | None) -> str:
    """A short name for a process of the run, from its command line."""
    text = " ".join(cmdline)
    if text.startswith("postgres:") or (cmdline and Path(cmdline[0]).name in {"postgres", "postmaster"}):
        return "postgres backend"
    if "psql" in (Path(cmdline[0]).name if cmdline else ""):
        return "psql"
    if "urm.platform.run_dag" in text:
        if parent_cmdline == cmdline:
            return "parse worker (forked from the Airflow run)"
        return "Airflow DAG run (dag.test: tasks in process)"
    if any(Path(c).name == "dbt" for c in cmdline[:2]) or "dbt." in text:
        return "dbt"
    if "bench.university" in text or "bench/university" in text:
        return "bench (this process)"
    if "sushi" in text or "campus" in text:
        return "synthetic services"
    return Path(cmdline[0]).name if cmdline else "other"


class MemorySampler:
    """Every `interval` seconds, the RSS of this process, its descendants and the warehouse's server
    processes; keeps the largest per (stage, kind) and the command line that reached it."""

    def __init__(self, server_pid: int | None, interval: float = 0.5) -> None:
        import psutil

        self._psutil = psutil
        self.server_pid = server_pid
        self.interval = interval
        self.stage = "setup"
        self.peaks: dict[tuple[str, str], tuple[int, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        psutil = self._psutil
        processes = [psutil.Process()]
        processes += processes[0].children(recursive=True)
        if self.server_pid:
            try:
                server = psutil.Process(self.server_pid)
                processes += [server, *server.children(recursive=True)]
            except psutil.Error:
                pass
        for process in processes:
            try:
                cmdline = process.cmdline()
                rss = process.memory_info().rss
                parent = process.parent()
                parent_cmdline = parent.cmdline() if parent else None
            except psutil.Error:
                continue
            key = (self.stage, process_kind(cmdline, parent_cmdline))
            if rss > self.peaks.get(key, (0, ""))[0]:
                self.peaks[key] = (rss, " ".join(cmdline)[:120])

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def by_kind(self) -> dict[str, int]:
        peaks: dict[str, int] = {}
        for (_, kind), (rss, _) in self.peaks.items():
            peaks[kind] = max(peaks.get(kind, 0), rss)
        return dict(sorted(peaks.items(), key=lambda kv: -kv[1]))


def server_pid_of(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# -- dbt and Airflow timings ---------------------------------------------------------------------


def dbt_layer(unique_id: str, node: dict[str, Any] | None) -> str:
    """staging / intermediate / marts / seeds / tests / snapshots for a node of run_results.json."""
    kind = unique_id.split(".", 1)[0]
    if kind in {"test", "unit_test"}:
        return "tests"
    if kind == "seed":
        return "seeds"
    if kind == "snapshot":
        return "snapshots"
    path = (node or {}).get("original_file_path") or (node or {}).get("path") or ""
    parts = Path(path).parts
    if "models" in parts and parts.index("models") + 1 < len(parts) - 1:
        return parts[parts.index("models") + 1]
    return parts[0] if len(parts) > 1 else kind


def summarise_run_results(run_results: dict[str, Any], manifest: dict[str, Any] | None) -> dict[str, dict]:
    """Per dbt layer: nodes, the sum of their execution times, and the span from the first start
    to the last end (with several threads the sum exceeds the span)."""
    nodes = (manifest or {}).get("nodes", {})
    layers: dict[str, dict[str, Any]] = {}
    for result in run_results.get("results", []):
        uid = result["unique_id"]
        layer = dbt_layer(uid, nodes.get(uid))
        entry = layers.setdefault(layer, {"nodes": 0, "seconds": 0.0, "start": None, "end": None})
        entry["nodes"] += 1
        entry["seconds"] += float(result.get("execution_time") or 0.0)
        for timing in result.get("timing") or []:
            for key, pick in (("started_at", min), ("completed_at", max)):
                if timing.get(key):
                    stamp = datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                    slot = "start" if key == "started_at" else "end"
                    entry[slot] = stamp if entry[slot] is None else pick(entry[slot], stamp)
    for layer, entry in layers.items():
        start, end = entry.pop("start"), entry.pop("end")
        entry["span"] = (end - start).total_seconds() if start and end else entry["seconds"]
        if layer == "operation":  # the on-run-start and on-run-end hooks: their span is the build's
            entry["span"] = entry["seconds"]
    order = ["seeds", "staging", "intermediate", "marts", "snapshots", "tests"]
    return dict(sorted(layers.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))


def task_durations(airflow_home: Path, dag_id: str) -> list[tuple[str, int, float]]:
    """(task_id, instances, seconds) of the DAG's latest run, from Airflow's metadata database."""
    import sqlite3

    database = airflow_home / "airflow.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as db:
        try:
            rows = db.execute(
                "select task_id, count(*), sum(coalesce(duration, 0)) from task_instance "
                "where dag_id = ? and run_id = (select run_id from dag_run where dag_id = ? "
                "order by id desc limit 1) group by task_id order by min(start_date)",
                (dag_id, dag_id),
            ).fetchall()
        except sqlite3.Error:
            return []
    return [(r[0], int(r[1]), float(r[2] or 0.0)) for r in rows]


# -- COPY and to_sql baselines -------------------------------------------------------------------


def psql_executable() -> str:
    """psql of the embedded server's wheel, or the one on PATH with an external warehouse."""
    from urm.platform.warehouse import _bin_dir, external_url

    if not external_url():
        candidate = _bin_dir() / "psql"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("psql")
    if not found:
        raise SystemExit("psql not found: install the PostgreSQL client or unset URM_WAREHOUSE_URL")
    return found


def ingest_speeds(conn) -> dict[str, dict[str, Any]]:
    """Per landing table, from the load log: files, rows, the loader's seconds."""
    rows = conn.execute(
        "select target_table, min(source), count(*), sum(rows_loaded), "
        "sum(extract(epoch from finished_at - started_at)) from raw.load_log "
        "where rows_loaded > 0 group by target_table order by sum(rows_loaded) desc"
    ).fetchall()
    return {
        table: {"source": source, "files": files, "rows": int(n), "seconds": float(seconds or 0.0)}
        for table, source, files, n, seconds in rows
    }


def psql_copy_speed(conn, url: str, table: str, folder: Path, psql: str | None = None) -> dict[str, Any]:
    """Export the rows of raw.`table` (off the clock), then time psql's `\\copy` of them into an empty
    table LIKE it (defaults and indexes included: the same table, as the issue asks) of schema
    bench_copy; the copy table is dropped afterwards."""
    data = folder / f"{table}.copy"
    with conn.cursor() as cur, open(data, "wb") as out, cur.copy(f'copy raw."{table}" to stdout') as copy:
        for block in copy:
            out.write(block)
    conn.execute(f"create schema if not exists {COMPARE_SCHEMA}")
    conn.execute(f'drop table if exists {COMPARE_SCHEMA}."{table}"')
    conn.execute(f'create table {COMPARE_SCHEMA}."{table}" (like raw."{table}" including all)')
    command = [psql or psql_executable(), url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"]
    command.append(f"\\copy {COMPARE_SCHEMA}.\"{table}\" from '{data}'")
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    row = conn.execute(f'select count(*) from {COMPARE_SCHEMA}."{table}"').fetchone()
    conn.execute(f'drop table {COMPARE_SCHEMA}."{table}"')
    size = data.stat().st_size
    data.unlink()
    return {"rows": int(row[0]) if row else 0, "seconds": seconds, "bytes": size}


def column_types(db, table: str) -> dict[str, Any]:
    """SQLAlchemy types of raw.`table`'s columns, so that to_sql binds each value as its column's type."""
    from sqlalchemy import types
    from sqlalchemy.dialects import postgresql

    known = {
        "uuid": postgresql.UUID(as_uuid=True),
        "cidr": postgresql.CIDR(),
        "inet": postgresql.INET(),
        "jsonb": postgresql.JSONB(),
        "json": postgresql.JSON(),
        "_text": postgresql.ARRAY(types.Text()),
        "numeric": types.Numeric(),
        "int2": types.SmallInteger(),
        "int4": types.Integer(),
        "int8": types.BigInteger(),
        "float8": types.Float(),
        "bool": types.Boolean(),
        "date": types.Date(),
        "timestamptz": types.TIMESTAMP(timezone=True),
        "timestamp": types.TIMESTAMP(),
        "text": types.Text(),
    }
    rows = db.exec_driver_sql(
        "select column_name, udt_name from information_schema.columns "
        f"where table_schema = 'raw' and table_name = '{table}'"
    ).fetchall()
    return {name: known[udt] for name, udt in rows if udt in known}


def to_sql_speed(url: str, table: str, sample: int, method: str | None) -> dict[str, Any]:
    """pandas `DataFrame.to_sql` (SQLAlchemy + psycopg) of `sample` rows of raw.`table` into an empty
    table LIKE it; the read is off the clock."""
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    copy_table = f"{table}_to_sql"
    try:
        with engine.begin() as db:
            frame = pd.read_sql(f'select * from raw."{table}" limit {int(sample)}', db)
            db.exec_driver_sql(f"create schema if not exists {COMPARE_SCHEMA}")
            db.exec_driver_sql(f'drop table if exists {COMPARE_SCHEMA}."{copy_table}"')
            db.exec_driver_sql(
                f'create table {COMPARE_SCHEMA}."{copy_table}" (like raw."{table}" including all)'
            )
            dtype = column_types(db, table)
        started = time.perf_counter()
        frame.to_sql(
            copy_table,
            engine,
            schema=COMPARE_SCHEMA,
            if_exists="append",
            index=False,
            method=method,
            chunksize=10_000 if method is None else 1_000,
            dtype=dtype,  # pandas would send uuid and cidr values as VARCHAR, which PostgreSQL refuses
        )
        seconds = time.perf_counter() - started
        with engine.begin() as db:
            db.exec_driver_sql(f'drop table {COMPARE_SCHEMA}."{copy_table}"')
    finally:
        engine.dispose()
    return {"rows": len(frame), "seconds": seconds, "method": method or "None"}


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    seconds: float
    detail: str = ""
    kind: str = "dag"  # dag, task, dbt, generate, validation


@dataclass
class Results:
    command: str
    fraction: float
    users: int
    days: int
    seed: int
    started: datetime
    machine: dict[str, str] = field(default_factory=dict)
    generation_seconds: float = 0.0
    generated: dict[str, Any] = field(default_factory=dict)
    hold_back: dict[str, Any] = field(default_factory=dict)
    backfill: list[Stage] = field(default_factory=list)
    daily: list[Stage] = field(default_factory=list)
    landed: dict[str, int] = field(default_factory=dict)
    daily_landed: dict[str, int] = field(default_factory=dict)
    copy: dict[str, dict[str, Any]] = field(default_factory=dict)
    to_sql: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)
    memory_commands: dict[str, str] = field(default_factory=dict)
    database_bytes: int = 0
    relations: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def machine_info(url: str) -> dict[str, str]:
    import psycopg

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / GB:.1f} GiB"
    except ImportError:
        ram = "unknown"
    with psycopg.connect(url) as conn:
        row = conn.execute("show server_version").fetchone()
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": sys.version.split()[0],
        "postgresql": str(row[0]) if row else "unknown",
        "os": platform.platform(),
    }


def fresh_database(base_url: str, database: str) -> str:
    import psycopg

    from ingest.run import connect
    from ingest.schema import migrate

    if database in {"urm", "postgres", "template0", "template1"} or database.startswith("urm_test"):
        raise SystemExit(f"--database {database}: the bench recreates its database; name one of its own")
    admin = urlunsplit(urlsplit(base_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{database}" with (force)')
        conn.execute(f'create database "{database}"')
    url = urlunsplit(urlsplit(base_url)._replace(path=f"/{database}"))
    with connect(url) as conn:
        migrate(conn)
    return url


def drop_database(base_url: str, database: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(base_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{database}" with (force)')


class Runner:
    """Runs the DAGs with the demo's environment, timing DAGs, tasks and dbt layers."""

    def __init__(self, url: str, sources: Path, days: int, seed: int, ils: str, console, sampler) -> None:
        self.url, self.sources, self.days, self.seed = url, sources, days, seed
        self.ils, self.console, self.sampler = ils, console, sampler
        self.logs = Path(os.environ["URM_HOME"]) / "logs" / "bench"
        self.embedded = False  # the bench's database on the embedded server: dbt's embedded target

    @contextmanager
    def services(self) -> Iterator[dict[str, str]]:
        from urm_demo.run import _campus_services, _eresource_services, dag_env

        from urm.platform.airflow_env import ensure_metadata_db
        from urm.platform.dbt import run_dbt

        env = dag_env(self.url, self.sources, self.ils)
        if self.embedded:  # URM_WAREHOUSE_URL names the bench's database, but the server is the
            env["URM_DBT_TARGET"] = "embedded"  # embedded one: its dbt target (2 threads), as the demo
        with self.console.status("preparing Airflow's metadata database and dbt's manifest"):
            ensure_metadata_db(env)
            run_dbt("parse", url=self.url)
        from contextlib import ExitStack

        with ExitStack() as stack:
            env.update(stack.enter_context(_eresource_services(self.sources, days=self.days, seed=self.seed)))
            env.update(stack.enter_context(_campus_services(self.sources)))
            yield env

    def run(self, env: dict[str, str], dag_ids: tuple[str, ...], label: str) -> list[Stage]:
        from urm_demo.sushi import harvest_range

        from urm.platform.airflow_env import run_dag_file
        from urm.platform.settings import DAGS_DIR

        stages: list[Stage] = []
        for dag_id in dag_ids:
            log = self.logs / f"{label}-{dag_id}.log"
            self.sampler.stage = f"{label}:{dag_id}"
            conf = harvest_range(self.days) if dag_id == "ingest_counter" else None
            with self.console.status(f"{label}: DAG {dag_id} (log: {log})"):
                started = time.perf_counter()
                result = run_dag_file(DAGS_DIR / f"{dag_id}.py", env, log, conf=conf)
                seconds = time.perf_counter() - started
            if result.returncode != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise SystemExit(f"{label}: DAG {dag_id} failed after {seconds:.0f}s; see {log}\n{tail}")
            self.console.print(f"[green]✓[/green] {label}: {dag_id} ({seconds:.1f}s)")
            stages += self.dag_stages(env, dag_id, seconds, label)
        return stages

    def run_warm(self, env: dict[str, str], dag_ids: tuple[str, ...], label: str) -> list[Stage]:
        """The DAGs one after the other in one process, as a long-lived worker runs a day's DAGs:
        Airflow imports and starts its in-process execution API once (a stage of its own, kind
        "start"); each DAG's seconds are its run alone."""
        from urm_demo.sushi import harvest_range

        from urm.platform.airflow_env import run_dag_files
        from urm.platform.settings import DAGS_DIR

        log = self.logs / f"{label}-dags.log"
        self.sampler.stage = f"{label}:dags"
        runs = [
            (DAGS_DIR / f"{dag_id}.py", harvest_range(self.days) if dag_id == "ingest_counter" else None)
            for dag_id in dag_ids
        ]
        with self.console.status(f"{label}: DAGs {', '.join(dag_ids)} in one process (log: {log})"):
            started = time.perf_counter()
            process, ran = run_dag_files(runs, env, log)
            seconds = time.perf_counter() - started
        if process.returncode != 0 or len(ran) != len(dag_ids):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"{label}: the DAGs failed after {seconds:.0f}s; see {log}\n{tail}")
        stages = [
            Stage(
                "Airflow start (once for the day's DAGs)",
                max(0.0, seconds - sum(s for _, _, s in ran)),
                "importing Airflow, starting its in-process execution API, parsing the DAG files",
                "start",
            )
        ]
        for dag_id, _state, dag_seconds in ran:
            self.console.print(f"[green]✓[/green] {label}: {dag_id} ({dag_seconds:.1f}s)")
            stages += self.dag_stages(env, dag_id, dag_seconds, label)
        return stages

    def dag_stages(self, env: dict[str, str], dag_id: str, seconds: float, label: str) -> list[Stage]:
        """A DAG run's stage, its tasks' (from Airflow's task instances) and, for the warehouse
        build, dbt's layers (its run_results.json kept beside the logs)."""
        stages = [Stage(dag_id, seconds, kind="dag")]
        for task_id, count, task_seconds in task_durations(Path(env["AIRFLOW_HOME"]), dag_id):
            kind = "validation" if re.search(r"valid|expect|suite|privacy", task_id) else "task"
            detail = f"{count} instances" if count > 1 else ""
            stages.append(Stage(f"{dag_id}.{task_id}", task_seconds, detail, kind))
        if dag_id == "build_warehouse":
            stages += self.dbt_layers()
            self.keep_run_results(label)
        return stages

    def keep_run_results(self, label: str) -> None:
        """dbt's run_results.json of this build next to the DAG logs (the next build overwrites
        the target's), for a per-node look at where a build's time went."""
        target = Path(os.environ["URM_HOME"]) / "dbt" / "target" / "run_results.json"
        if target.exists():
            shutil.copyfile(target, self.logs / f"{label}-run_results.json")

    def dbt_layers(self) -> list[Stage]:
        target = Path(os.environ["URM_HOME"]) / "dbt" / "target"
        try:
            run_results = json.loads((target / "run_results.json").read_text())
        except (OSError, ValueError):
            return []
        try:
            manifest = json.loads((target / "manifest.json").read_text())
        except (OSError, ValueError):
            manifest = None
        return [
            Stage(
                f"dbt {layer}",
                entry["span"],
                f"{entry['nodes']} nodes, {entry['seconds']:.1f}s summed",
                "dbt",
            )
            for layer, entry in summarise_run_results(run_results, manifest).items()
        ]


def landed_rows(conn, since: datetime | None = None) -> dict[str, int]:
    rows = conn.execute(
        "select target_table, sum(rows_loaded) from raw.load_log "
        "where %s::timestamptz is null or started_at >= %s group by 1 order by 2 desc",
        (since, since),
    ).fetchall()
    return {t: int(n) for t, n in rows}


def run(args: argparse.Namespace, console) -> Results:
    import psycopg

    from urm.platform.settings import urm_home
    from urm.platform.warehouse import EmbeddedWarehouse, external_url

    users = max(10, round(REFERENCE_PEOPLE * args.fraction))
    results = Results(
        command="python -m bench.university " + " ".join(sys.argv[1:] if args.argv is None else args.argv),
        fraction=args.fraction,
        users=users,
        days=args.days,
        seed=args.seed,
        started=datetime.now(UTC),
    )
    external = external_url()
    with console.status("starting the warehouse"):
        base = external or EmbeddedWarehouse().ensure_running()
    home = urm_home()
    bench_home = home / "bench-university"
    if bench_home.exists():
        shutil.rmtree(bench_home)  # its Airflow metadata and dbt target: a run starts from nothing
    bench_home.mkdir(parents=True)
    pgdata = None if external else home / "pgdata"
    psql = psql_executable()
    url = fresh_database(base, args.database)
    # Everything the DAGs start reads these: the bench's database, home and pseudonym key.
    os.environ.update({"URM_WAREHOUSE_URL": url, "URM_HOME": str(bench_home), "URM_PSEUDONYM_KEY": BENCH_KEY})
    # a failing task fails the bench within seconds instead of retrying for minutes
    os.environ.setdefault("URM_RETRY_DELAY_SECONDS", "1")
    results.machine = machine_info(url)
    console.print(
        f"[green]✓[/green] database {args.database}; {users:,} people ({args.fraction:g} of "
        f"{REFERENCE_PEOPLE:,}), {args.days} days, seed {args.seed}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="urm-bench-university-") as scratch,
        MemorySampler(server_pid_of(pgdata) if pgdata else None) as sampler,
    ):
        sources, held = Path(scratch) / "sources", Path(scratch) / "held"
        # 1. generate, one day more than the period, and hold that day back
        from urm_demo.synth import generate

        sampler.stage = "generate"
        with console.status(f"generating {users:,} people, {args.days + 1} days"):
            started = time.perf_counter()
            summary = generate(
                sources, users=users, days=args.days + 1, seed=args.seed, history_days=args.history_days
            )
            results.generation_seconds = time.perf_counter() - started
        results.generated = {k: v for k, v in summary.counts.items() if isinstance(v, int)}
        console.print(f"[green]✓[/green] generated in {results.generation_seconds:.1f}s")
        last_day = summary.end
        plan = hold_back_last_day(sources, last_day, held)
        results.hold_back = {
            "day": last_day.isoformat(),
            "lines": plan.held_lines,
            "grown": len(plan.grown),
            "deltas": len(plan.deltas),
            "whole": len(plan.whole),
            "untouched": plan.untouched,
        }
        runner = Runner(url, sources, args.days, args.seed, args.ils, console, sampler)
        runner.embedded = not external
        with runner.services() as env:
            # 2. backfill: every DAG of the demo's order (the campaign left out)
            from urm_demo.run import DAG_ORDER

            backfill_start = datetime.now(UTC)
            results.backfill = runner.run(env, tuple(DAG_ORDER), "backfill")
            with psycopg.connect(url, autocommit=True) as conn:
                results.landed = landed_rows(conn)
                speeds = ingest_speeds(conn)
                # 3. psql COPY of the very rows each table landed
                sampler.stage = "psql copy"
                for table, speed in speeds.items():
                    with console.status(f"psql \\copy of raw.{table} ({speed['rows']:,} rows)"):
                        copy = psql_copy_speed(conn, url, table, Path(scratch), psql)
                    results.copy[table] = {**speed, "copy": copy}
            # 4. to_sql on samples
            sampler.stage = "to_sql"
            for table in [t for t in ("ezproxy_requests", "koha_statistics") if t in speeds]:
                for method, sample in ((None, args.to_sql_rows), ("multi", args.to_sql_rows // 4)):
                    with console.status(f"pandas to_sql of {sample:,} rows of raw.{table} (method={method})"):
                        try:
                            outcome = to_sql_speed(url, table, sample, method)
                        except Exception as error:
                            first = str(error).splitlines()[0][:300]
                            results.notes.append(f"to_sql of {table} (method={method}) failed: {first}")
                            continue
                    results.to_sql.append({"table": table, **outcome})
            # 7. the daily run
            land_held_back(plan, sources)
            daily_start = datetime.now(UTC)
            # the daily run: every DAG of the backfill but the exports
            daily = tuple(d for d in DAG_ORDER if d != "export_profiles")
            results.daily = runner.run_warm(env, daily, "daily")
            with psycopg.connect(url, autocommit=True) as conn:
                results.daily_landed = landed_rows(conn, since=daily_start)
                del backfill_start
                # 6. sizes
                row = conn.execute("select pg_database_size(current_database())").fetchone()
                results.database_bytes = int(row[0]) if row else 0
                results.relations = [
                    (name, int(size))
                    for name, size in conn.execute(
                        "select n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) "
                        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                        "where c.relkind in ('r', 'm', 'p') and n.nspname not in "
                        "('pg_catalog', 'information_schema', 'pg_toast') "
                        "order by 2 desc limit 10"
                    ).fetchall()
                ]
        results.memory = sampler.by_kind()
        for (_, kind), (_rss, command) in sorted(sampler.peaks.items(), key=lambda item: item[1][0]):
            results.memory_commands[kind] = command  # the command of the kind's largest process
    if not args.keep:
        drop_database(base, args.database)
        shutil.rmtree(bench_home, ignore_errors=True)
    return results


# -- the section ---------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    right = right if right is not None else set(range(1, len(header)))
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _mb(n: float) -> str:
    mb = n / 1024**2
    return f"{mb:,.1f}" if mb < 10 else f"{mb:,.0f}"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def scale_factors(results: Results) -> tuple[dict[str, float], float]:
    """Per landing table, the factor to the reference year: by rows where the reference gives a
    table's rows, else by people and days. The second value: the default (people x days)."""
    people, period = REFERENCE_PEOPLE / results.users, REFERENCE_DAYS / results.days
    default = people * period
    factors = {}
    for table, rows in results.landed.items():
        reference = REFERENCE_ROWS.get(table)
        if reference and rows:
            factors[table] = reference / rows
        elif table.startswith(PER_PERSON_TABLES):
            factors[table] = people
        elif table.startswith(PER_PERIOD_TABLES):
            factors[table] = period
        else:
            factors[table] = default
    return factors, default


def scale_basis(table: str) -> str:
    if table in REFERENCE_ROWS:
        return ""
    if table.startswith(PER_PERSON_TABLES):
        return " (people)"
    if table.startswith(PER_PERIOD_TABLES):
        return " (days)"
    return " (people × days)"


def extrapolate_dag(stages: list[Stage], dag_id: str, factors: dict[str, float], default: float) -> float:
    """A DAG at the reference size: its tasks' seconds scaled by its data, plus what lies outside its
    tasks (starting the process, Airflow, importing) as it is. Task times still hold fixed costs
    (imports, connections), so from a small fraction this overstates."""
    wall = sum(s.seconds for s in stages if s.kind == "dag" and s.name == dag_id)
    tasks = sum(
        s.seconds for s in stages if s.kind in {"task", "validation"} and s.name.startswith(dag_id + ".")
    )
    return max(0.0, wall - tasks) + tasks * _dag_factor(dag_id, factors, default)


def render_section(results: Results) -> str:
    """The markdown between the markers."""
    factors, default = scale_factors(results)
    out: list[str] = []
    m = results.machine
    out.append(
        f"## The reference university, backfill and daily run (issue #14)\n\n"
        f"Generated by `{results.command}` on {results.started:%Y-%m-%d %H:%M} UTC; do not edit by "
        f"hand between the markers (`make bench` rewrites it).\n\n"
        f"Machine: {m.get('cpus')} CPUs ({m.get('cpu')}), {m.get('ram')} RAM, Python {m.get('python')}, "
        f"PostgreSQL {m.get('postgresql')}, {m.get('os')}.\n\n"
        f"Size: **{results.fraction:g} of the reference university**: {results.users:,} people "
        f"(reference {REFERENCE_PEOPLE:,}), {results.days} days (reference {REFERENCE_DAYS}), seed "
        f"{results.seed}. Columns marked *extrapolated* scale this run linearly to the reference year: "
        f"a table with a reference volume (circulation, gates, EZproxy) by its rows, a roster or "
        f"collection by people, COUNTER by days, any other by people × days (× {default:,.1f}); a DAG's "
        f"tasks by the largest factor of the tables it loads (dbt and the other DAGs by people × days), "
        f"what lies outside its tasks (process start, Airflow) kept as measured. They are estimates, "
        f"not measurements."
        + (
            f"\n\n**A fraction under 0.05 is a smoke test**: fixed costs (imports, Airflow, dbt's "
            f"per-node overhead) dominate its times, and scaled by {default:,.0f} they overstate the "
            f"reference year by far. Measure at `--fraction 0.1` or more."
            if results.fraction < 0.05
            else ""
        )
    )
    # generated vs reference
    rows = []
    reference_names = {
        "koha_statistics": "circulation events (1.5 M)",
        "gate_passages": "gate passages (6 M)",
        "ezproxy_requests": "EZproxy lines (20 M)",
    }
    for table, landed in results.landed.items():
        reference = REFERENCE_ROWS.get(table)
        rows.append(
            [
                f"raw.{table}",
                f"{landed:,}",
                f"{reference:,}" if reference else "–",
                f"{landed * factors[table]:,.0f}" + scale_basis(table),
                reference_names.get(table, ""),
            ]
        )
    out.append(
        "### What was generated and landed\n\n"
        f"Generation of the synthetic university ({results.days + 1} days, one held back for the daily "
        f"run): **{results.generation_seconds:.1f} s**. Generator counts: "
        + ", ".join(f"{k} {v:,}" for k, v in results.generated.items() if v)
        + ".\n\n"
        + _table(
            [
                "landing table",
                "rows landed (backfill)",
                "reference year",
                "this run at full size",
                "reference",
            ],
            rows,
            right={1, 2, 3},
        )
        + f"\n\nHeld back for the daily run ({results.hold_back.get('day')}): "
        f"{results.hold_back.get('lines', 0):,} lines ({results.hold_back.get('grown', 0)} append-only logs "
        f"grown, {results.hold_back.get('deltas', 0)} files of the day's lines, "
        f"{results.hold_back.get('whole', 0)} whole files). Loaded whole in the backfill because they are "
        f"not day-ordered: {', '.join(results.hold_back.get('untouched', [])) or 'none'}."
    )

    def stage_table(stages: list[Stage], extrapolate: bool) -> str:
        rows = []
        for stage in stages:
            factor = _dag_factor(stage.name.split(".")[0], factors, default)
            row = [
                ("" if stage.kind in ("dag", "start") else "  ") + f"`{stage.name}`",
                stage.kind,
                f"{stage.seconds:,.1f}",
            ]
            if extrapolate:
                if stage.kind == "dag":
                    row.append(f"{extrapolate_dag(stages, stage.name, factors, default):,.0f}")
                else:
                    row.append(f"{stage.seconds * (default if stage.kind == 'dbt' else factor):,.0f}")
            row.append(stage.detail)
            rows.append(row)
        header = ["stage", "kind", "seconds"] + (["extrapolated s"] if extrapolate else []) + ["detail"]
        return _table(header, rows, right={2, 3} if extrapolate else {2})

    backfill_total = sum(s.seconds for s in results.backfill if s.kind == "dag")
    backfill_full = sum(
        extrapolate_dag(results.backfill, s.name, factors, default)
        for s in results.backfill
        if s.kind == "dag"
    )
    daily_total = sum(s.seconds for s in results.daily if s.kind == "dag")
    out.append(
        "### Backfill: every DAG through Airflow\n\n"
        "DAGs in the demo's order, each through `dag.test()` in a process of its own; tasks from "
        "Airflow's task instances (sum over mapped instances); dbt layers from `run_results.json` "
        "(the span from the layer's first start to its last end; the detail gives the per-node sum); "
        "validations are the tasks running GX or privacy suites.\n\n"
        + stage_table(results.backfill, extrapolate=True)
        + f"\n\nBackfill: **{backfill_total:,.0f} s** for this run; extrapolated to the reference year: "
        f"**{backfill_full:,.0f} s** (target ≤ {TARGETS['backfill_seconds']} s: "
        f"{_met(backfill_full <= TARGETS['backfill_seconds'])}; generation not included)."
    )
    daily_rows = sum(results.daily_landed.values())
    daily_start = sum(s.seconds for s in results.daily if s.kind == "start")
    out.append(
        "### Daily run: the held-back day\n\n"
        "The last day's files and lines land, then the ingest DAGs and `build_warehouse` run again "
        f"(rows landed: {daily_rows:,}: "
        + ", ".join(f"{t} {n:,}" for t, n in results.daily_landed.items())
        + "), one after the other in one process, as a scheduler's long-lived worker runs them: "
        "Airflow starts once (its own row, not counted in the day's work; the backfill above "
        "starts a process per DAG).\n\n"
        + stage_table(results.daily, extrapolate=False)
        + f"\n\nDaily run: **{daily_total:,.1f} s** of work at this size (the DAG runs; "
        f"{daily_start:,.1f} s more to start Airflow once). At full size (target ≤ "
        f"{TARGETS['daily_seconds']} s of work) it lies between this figure (the fixed costs: "
        f"Airflow's runs, dbt's start and per-node overhead, the suites) and "
        f"**{_daily_upper(results, factors, default):,.0f} s** (every second of the daily DAGs "
        "scaled with the data: an upper bound, since the incremental models' work grows with the "
        "day's rows only)."
    )
    rows = []
    for table, entry in results.copy.items():
        ingest_rate = entry["rows"] / entry["seconds"] if entry["seconds"] else 0.0
        copy = entry["copy"]
        copy_rate = copy["rows"] / copy["seconds"] if copy["seconds"] else 0.0
        ratio = ingest_rate / copy_rate if copy_rate else 0.0
        rows.append(
            [
                entry["source"],
                f"raw.{table}",
                f"{entry['files']:,}",
                f"{entry['rows']:,}",
                f"{entry['seconds']:,.1f}",
                f"{ingest_rate:,.0f}",
                f"{copy_rate:,.0f}",
                f"{ratio:.2f}",
                _met(ratio >= TARGETS["copy_ratio"]),
            ]
        )
    out.append(
        "### Ingest against psql's COPY of the same rows\n\n"
        "Ingest: the loader's own time per file (`raw.load_log`, started_at to finished_at: checksum, "
        "read, parse, pseudonymise, COPY, quarantine, commit), summed per table. psql COPY: after the "
        "backfill, the rows that landed are exported (off the clock) and `psql -c '\\copy ... from "
        "file'` loads them into an empty table `LIKE` the landing table (defaults and indexes included: the "
        "same table), timed "
        "with the psql process. Small tables are dominated by per-file fixed costs.\n\n"
        + _table(
            [
                "source",
                "table",
                "files",
                "rows",
                "ingest s",
                "ingest rows/s",
                "psql COPY rows/s",
                "ratio",
                "≥ 0.5",
            ],
            rows,
            right={2, 3, 4, 5, 6, 7},
        )
    )
    rows = []
    for entry in results.to_sql:
        ingest = results.copy.get(entry["table"], {})
        ingest_rate = ingest.get("rows", 0) / ingest["seconds"] if ingest.get("seconds") else 0.0
        rate = entry["rows"] / entry["seconds"] if entry["seconds"] else 0.0
        speedup = ingest_rate / rate if rate else 0.0
        rows.append(
            [
                f"raw.{entry['table']}",
                f"`{entry['method']}`",
                f"{entry['rows']:,}",
                f"{entry['seconds']:,.1f}",
                f"{rate:,.0f}",
                f"{speedup:,.1f}×",
                _met(speedup >= TARGETS["to_sql_speedup"]),
            ]
        )
    out.append(
        "### The naive baseline: pandas `to_sql`\n\n"
        "A sample of the landed rows read into a DataFrame (off the clock), then `DataFrame.to_sql` "
        "(SQLAlchemy 2 + psycopg 3, `if_exists='append'`, chunks of 10,000 rows; 1,000 for "
        "`method='multi'`) into an empty table of the same layout. Speed-up: the ingest's rows/s "
        "above (parsing included) over to_sql's (rows already parsed).\n\n"
        + _table(["table", "method", "rows", "seconds", "rows/s", "ingest speed-up", "≥ 50×"], rows)
        + ("\n\n" + "\n".join(f"- {note}" for note in results.notes) if results.notes else "")
    )
    rows = [
        [kind, _mb(rss), _met(rss <= TARGETS["peak_rss_bytes"]), f"`{results.memory_commands.get(kind, '')}`"]
        for kind, rss in results.memory.items()
    ]
    out.append(
        "### Peak memory per process\n\n"
        "Resident set size of every process of the run (this one, the DAG runs with the tasks they "
        "run in process, the parse workers they fork, dbt, psql, the server's backends), sampled "
        "every 0.5 s; the largest per kind of process. A process shorter than 0.5 s can be missed; a "
        "PostgreSQL process's RSS counts the shared buffers it touched (`shared_buffers`, 256 MB on the "
        "embedded server), so its own memory is less.\n\n"
        + _table(["process", "peak RSS MB", "≤ 1 GB", "command (largest)"], rows, right={1})
    )
    rows = [[f"`{name}`", _mb(size)] for name, size in results.relations]
    out.append(
        "### Warehouse size on disk\n\n"
        f"`pg_database_size`: **{_mb(results.database_bytes)} MB** after the daily run (extrapolated to "
        f"the reference year by people × days: {_mb(results.database_bytes * default)} MB). "
        "Largest relations (tables with their indexes and TOAST):\n\n" + _table(["relation", "MB"], rows)
    )
    out.append(
        "### Targets\n\n"
        + _table(
            ["target", "this run", "reference year (extrapolated)", "status"],
            _target_rows(results, factors, default, backfill_total, backfill_full, daily_total),
            right=set(),
        )
        + '\n\n### Profile\n\n_Where a target is missed, where the time goes: see "Where the time goes" '
        "below this generated section (written by hand from profiles of the stages named above)._"
    )
    return "\n\n".join(out) + "\n"


def _dag_factor(dag_id: str, factors: dict[str, float], default: float) -> float:
    prefixes = INGEST_DAG_SOURCES.get(dag_id)
    if not prefixes:
        return default
    chosen = [f for table, f in factors.items() if table.startswith(prefixes)]
    return max(chosen) if chosen else default


def _daily_upper(results: Results, factors: dict[str, float], default: float) -> float:
    """The daily run with every second scaled to the reference year: an upper bound."""
    return sum(
        extrapolate_dag(results.daily, s.name, factors, default) for s in results.daily if s.kind == "dag"
    )


def _target_rows(results, factors, default, backfill_total, backfill_full, daily_total) -> list[list[str]]:
    ratios = []
    for entry in results.copy.values():
        ingest = entry["rows"] / entry["seconds"] if entry["seconds"] else 0.0
        copy = entry["copy"]["rows"] / entry["copy"]["seconds"] if entry["copy"]["seconds"] else 0.0
        ratios.append((ingest / copy if copy else 0.0, entry["source"]))
    worst = min(ratios) if ratios else (0.0, "–")
    speedups = []
    for entry in results.to_sql:
        ingest = results.copy.get(entry["table"], {})
        rate = entry["rows"] / entry["seconds"] if entry["seconds"] else 0.0
        ingest_rate = ingest.get("rows", 0) / ingest["seconds"] if ingest.get("seconds") else 0.0
        speedups.append(ingest_rate / rate if rate else 0.0)
    peak = max(results.memory.values(), default=0)
    daily_full = _daily_upper(results, factors, default)
    return [
        [
            "backfill ≤ 600 s",
            f"{backfill_total:,.0f} s",
            f"{backfill_full:,.0f} s",
            _met(backfill_full <= 600),
        ],
        [
            "daily run ≤ 60 s",
            f"{daily_total:,.1f} s",
            f"between {daily_total:,.0f} and {daily_full:,.0f} s",
            _met(daily_full <= 60) if daily_total <= 60 else _met(False),
        ],
        [
            "every ingest ≥ 0.5 of psql COPY",
            f"lowest {worst[0]:.2f} ({worst[1]})",
            "ratio does not scale",
            _met(worst[0] >= 0.5),
        ],
        [
            "≥ 50× to_sql",
            f"lowest {min(speedups):,.1f}×" if speedups else "–",
            "–",
            _met(bool(speedups) and min(speedups) >= 50),
        ],
        ["peak ≤ 1 GB a process", f"{_mb(peak)} MB", "streaming: should not grow", _met(peak <= GB)],
    ]


def write_section(path: Path, section: str) -> None:
    """Replace the text between the markers in `path` (append the marked section when absent)."""
    text = path.read_text() if path.exists() else ""
    block = f"{START_MARK}\n{section.rstrip()}\n{END_MARK}"
    if START_MARK in text and END_MARK in text:
        before, rest = text.split(START_MARK, 1)
        _, after = rest.split(END_MARK, 1)
        text = before + block + after
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    path.write_text(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.university",
        description="Backfill and daily run of (a fraction of) the reference university through every "
        "DAG, ingest speed against psql COPY and pandas to_sql, peak memory, warehouse size; writes the "
        "marked section of BENCHMARKS.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--fraction",
        type=float,
        default=0.1,
        help=f"share of the reference university's {REFERENCE_PEOPLE:,} people; full-size figures are "
        "extrapolated from it",
    )
    parser.add_argument("--days", type=int, default=REFERENCE_DAYS, help="days of the backfill period")
    parser.add_argument("--seed", type=int, default=5, help="the synthetic university's seed")
    parser.add_argument(
        "--history-days", type=int, default=0, help="days of circulation history before the period"
    )
    parser.add_argument("--ils", choices=("koha", "folio"), default="koha", help="the ILS whose files land")
    parser.add_argument(
        "--to-sql-rows", type=int, default=100_000, help="rows of the pandas to_sql sample (per table)"
    )
    parser.add_argument(
        "--output", type=Path, default=Path("BENCHMARKS.md"), help="file whose section to write"
    )
    parser.add_argument(
        "--database", default=BENCH_DATABASE, help="database of its own, dropped and created afresh"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the run's home afterwards")
    args = parser.parse_args(argv)
    if not 0 < args.fraction <= 1:
        parser.error("--fraction: give a share between 0 and 1, e.g. 0.1")
    if args.days < 1:
        parser.error("--days: give at least 1")
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console

    args = parse_args(argv)
    console = Console()
    started = time.perf_counter()
    results = run(args, console)
    section = render_section(results)
    write_section(args.output, section)
    if args.keep:  # the raw figures next to the output, for a closer look
        raw = args.output.with_suffix(".university.json")
        raw.write_text(json.dumps(_jsonable(results), indent=2, default=str))
    console.print(
        f"[green]✓[/green] {args.output}: section written ({time.perf_counter() - started:.0f}s in all)"
    )


def _jsonable(results: Results) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(results)


if __name__ == "__main__":
    main()
