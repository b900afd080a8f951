"""The pieces of `python -m bench.university` (the whole bench runs every DAG: `make bench` only).

Holding the last day back, the dbt timing summary, the section writer and renderer, and (against
the test database) the psql COPY and pandas to_sql baselines on a small table.
"""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from bench.university import (
    COMPARE_SCHEMA,
    END_MARK,
    START_MARK,
    Results,
    Stage,
    hold_back_last_day,
    land_held_back,
    line_date,
    process_kind,
    psql_copy_speed,
    render_section,
    split_day,
    summarise_run_results,
    to_sql_speed,
    write_section,
)


def test_line_date_reads_every_date_style_of_the_sources() -> None:
    assert line_date(b"2025-09-01 12:58:18,SCI,0.0000,issue") == date(2025, 9, 1)
    assert line_date(b"S1,S2022,x,2025/09/06 18:00,2025/09/05 20:44") == date(2025, 9, 6)
    assert line_date(b'1.2.3.4 - s1 [05/Sep/2025:20:42:39 +0800] "GET /"') == date(2025, 9, 5)
    assert line_date(b"06-Sep-25,210") == date(2025, 9, 6)
    assert line_date(b"Device Name,MED-C1") is None


def test_split_day_cuts_a_day_ordered_text_before_the_day() -> None:
    text = b"when,what\n2025-09-01 10:00,a\n2025-09-02 11:00,b\n2025-09-03 09:00,c\n2025-09-04 00:10,d\n"
    split = split_day(text, date(2025, 9, 3))
    assert split is not None
    assert split.header == b"when,what\n"
    assert split.kept == b"when,what\n2025-09-01 10:00,a\n2025-09-02 11:00,b\n"
    assert split.held == b"2025-09-03 09:00,c\n2025-09-04 00:10,d\n"
    # a roster whose dates are not in order, or a schedule of later sessions, is left whole
    assert split_day(b"2025-09-03,a\n2025-01-01,b\n2024-05-01,c\n", date(2025, 9, 3)) is None
    assert split_day(b"2025-09-01,a\n2025-10-20,b\n2025-11-03,c\n", date(2025, 9, 3)) is None


def test_holding_the_last_day_back_then_landing_it_gives_the_generated_files(tmp_path: Path) -> None:
    from urm_demo.synth import generate

    generated, backfill, held = tmp_path / "generated", tmp_path / "backfill", tmp_path / "held"
    summary = generate(generated, users=60, days=4, seed=3)
    shutil.copytree(generated, backfill)
    plan = hold_back_last_day(backfill, summary.end, held)
    assert plan.held_lines > 0 and plan.grown and plan.deltas and plan.whole

    def text(path: Path) -> bytes:
        return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()

    for rel in plan.whole:  # a file of the day alone waits for the daily run
        assert not (backfill / rel).exists()
    for rel in plan.grown:  # an append-only log is shorter, and a prefix of what it grows to
        assert text(generated / rel).startswith(text(backfill / rel))
        assert len(text(backfill / rel)) < len(text(generated / rel))
    land_held_back(plan, backfill)
    for rel in plan.whole + plan.grown:
        assert text(backfill / rel) == text(generated / rel)
    for delta_rel in plan.deltas:  # the file the backfill loaded, then its day's lines, header apart
        original = delta_rel.replace(f"-daily-{summary.end:%Y%m%d}", "")
        kept, delta = text(backfill / original), text(backfill / delta_rel)
        header = split_day(text(generated / original), summary.end)
        assert header is not None
        assert kept + delta[len(header.header) :] == text(generated / original)


def test_run_results_are_summed_per_layer() -> None:
    def result(uid: str, seconds: float, start: str, end: str) -> dict:
        return {
            "unique_id": uid,
            "execution_time": seconds,
            "timing": [{"name": "execute", "started_at": start, "completed_at": end}],
        }

    run_results = {
        "results": [
            result("model.urm.stg_a", 1.0, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"),
            result("model.urm.stg_b", 2.0, "2026-01-01T00:00:00Z", "2026-01-01T00:00:02Z"),
            result("model.urm.fct_x", 5.0, "2026-01-01T00:00:03Z", "2026-01-01T00:00:08Z"),
            result("test.urm.not_null_x", 0.5, "2026-01-01T00:00:08Z", "2026-01-01T00:00:08.5Z"),
            result("seed.urm.codes", 0.2, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.2Z"),
        ]
    }
    manifest = {
        "nodes": {
            "model.urm.stg_a": {"original_file_path": "models/staging/a/stg_a.sql"},
            "model.urm.stg_b": {"original_file_path": "models/staging/b/stg_b.sql"},
            "model.urm.fct_x": {"original_file_path": "models/marts/core/fct_x.sql"},
        }
    }
    layers = summarise_run_results(run_results, manifest)
    assert list(layers) == ["seeds", "staging", "marts", "tests"]
    assert layers["staging"] == {"nodes": 2, "seconds": 3.0, "span": 2.0}
    assert layers["marts"]["span"] == 5.0
    assert layers["tests"]["nodes"] == 1


def test_process_kinds() -> None:
    run_dag = ["/v/bin/python", "-m", "urm.platform.run_dag", "dags/ingest_ezproxy.py"]
    assert process_kind(run_dag, ["/v/bin/python", "-m", "bench.university"]).startswith("Airflow")
    assert process_kind(run_dag, run_dag).startswith("parse worker")
    assert process_kind(["postgres: postgres urm 127.0.0.1 COPY"], None) == "postgres backend"
    assert process_kind(["/v/bin/python", "/v/bin/dbt", "build"], None) == "dbt"


def sample_results() -> Results:
    results = Results(
        command="python -m bench.university --fraction 0.01",
        fraction=0.01,
        users=650,
        days=365,
        seed=5,
        started=datetime(2026, 11, 22, 4, 0, tzinfo=UTC),
        machine={"cpus": "2", "cpu": "AMD EPYC", "ram": "23 GiB", "python": "3.11", "postgresql": "18.4"},
        generation_seconds=3.2,
        generated={"people": 650, "ezproxy_lines": 200_000},
        hold_back={"day": "2026-09-01", "lines": 900, "grown": 2, "deltas": 5, "whole": 1, "untouched": []},
        backfill=[
            Stage("ingest_ezproxy", 20.0),
            Stage("ingest_ezproxy.ingest", 12.0, kind="task"),
            Stage("build_warehouse", 60.0),
            Stage("dbt staging", 5.0, "30 nodes", "dbt"),
        ],
        daily=[
            Stage("Airflow start (once for the day's DAGs)", 9.0, "", "start"),
            Stage("ingest_ezproxy", 8.0),
            Stage("build_warehouse", 40.0),
        ],
        landed={"ezproxy_requests": 200_000, "campus_people": 650},
        daily_landed={"ezproxy_requests": 550},
        memory={"dbt": 300 * 1024**2, "postgres backend": 1200 * 1024**2},
        database_bytes=500 * 1024**2,
        relations=[("raw.ezproxy_requests", 100 * 1024**2)],
    )
    copy = {"rows": 200_000, "seconds": 0.6, "bytes": 1}
    results.copy = {
        "ezproxy_requests": {"source": "ezproxy", "files": 3, "rows": 200_000, "seconds": 2.0, "copy": copy}
    }
    results.to_sql = [{"table": "ezproxy_requests", "rows": 10_000, "seconds": 5.0, "method": "None"}]
    return results


def test_the_section_has_every_table_and_says_what_is_extrapolated() -> None:
    section = render_section(sample_results())
    for heading in (
        "### What was generated and landed",
        "### Backfill: every DAG through Airflow",
        "### Daily run: the held-back day",
        "### Ingest against psql's COPY of the same rows",
        "### The naive baseline: pandas `to_sql`",
        "### Peak memory per process",
        "### Warehouse size on disk",
        "### Targets",
        "### Profile",
    ):
        assert heading in section
    assert "0.01 of the reference university" in section
    assert "extrapolated" in section
    assert "| 0.30 | **missed** |" in section  # 100,000 rows/s against 333,333
    assert "50.0×" in section  # 100,000 rows/s against to_sql's 2,000
    assert "| postgres backend | 1,200 | **missed** |" in section
    # the daily run's work is its DAG runs; Airflow's one start is shown apart, not counted
    assert "Daily run: **48.0 s** of work at this size" in section
    assert "9.0 s more to start Airflow once" in section


def test_the_section_is_written_between_its_markers_only(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nby hand, before\n")
    write_section(path, "first")
    assert path.read_text() == f"# Benchmarks\n\nby hand, before\n\n{START_MARK}\nfirst\n{END_MARK}\n"
    path.write_text(path.read_text() + "\n## by hand, after\n")
    write_section(path, "second")
    text = path.read_text()
    assert "first" not in text and f"{START_MARK}\nsecond\n{END_MARK}" in text
    assert text.startswith("# Benchmarks\n\nby hand, before\n") and text.endswith("## by hand, after\n")


@pytest.fixture
def probe_table(warehouse_url: str):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop table if exists raw.bench_probe")
        conn.execute(
            "create table raw.bench_probe (batch_id uuid not null, id bigint not null, label text, "
            "at timestamptz, network cidr, roles text[], hours numeric, loaded boolean not null default true)"
        )
        conn.execute(
            "insert into raw.bench_probe (batch_id, id, label, at, network, roles, hours) "
            "select gen_random_uuid(), n, 'row ' || n, timestamptz '2026-01-01' + n * interval '1 second', "
            "cidr '10.1.2.0/24', array['student'], n / 4.0 from generate_series(1, 2000) n"
        )
        yield conn
        conn.execute("drop table if exists raw.bench_probe")


@pytest.mark.integration
def test_psql_copies_the_rows_that_landed_into_a_table_like_it(
    probe_table: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    outcome = psql_copy_speed(probe_table, warehouse_url, "bench_probe", tmp_path)
    assert outcome["rows"] == 2000 and outcome["seconds"] > 0 and outcome["bytes"] > 0
    assert not list(tmp_path.iterdir())  # the exported rows are removed
    left = probe_table.execute(f"select to_regclass('{COMPARE_SCHEMA}.bench_probe')").fetchone()
    assert left == (None,)


@pytest.mark.integration
def test_to_sql_loads_a_sample_into_a_table_like_it(
    probe_table: psycopg.Connection, warehouse_url: str
) -> None:
    outcome = to_sql_speed(warehouse_url, "bench_probe", 500, None)  # uuid, cidr, arrays bound as such
    assert outcome["rows"] == 500 and outcome["seconds"] > 0
    assert to_sql_speed(warehouse_url, "bench_probe", 100, "multi")["rows"] == 100
    left = probe_table.execute(f"select to_regclass('{COMPARE_SCHEMA}.bench_probe_to_sql')").fetchone()
    assert left == (None,)
