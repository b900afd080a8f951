"""Line/CSV ingest speed against psql's COPY of the same rows: `python -m bench.csv_ingest`.

For each CSV source of a synthetic university (generated with `urm_demo.synth.generator` into a
temp dir, or `--sources DIR`), every landing file of the format is loaded with
`ingest.run.ingest_files` two ways, alternately, `--repeat` times:
- `line`: the formats' per-line code (`Format.parse`, psycopg formatting every row: the
  `single_process` option, the path every fast path is tested against);
- `fast`: the default path (a format's `copy_parser` writing COPY text itself, or its block parser).
After each load, the rows it landed are exported (untimed) and loaded by psql's `\\copy` into an
empty table of the same layout (bench.university.psql_copy_speed): the limit of the comparison.
Wall time and this process's CPU time are both shown: on a shared machine the CPU time per row is
the steadier figure. All land in a database of its own (`urm_bench_csv`) on the warehouse.
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DATABASE = "urm_bench_csv"
KEY = b"bench-key-0123456789abcdef"
# (source, format, landing table, glob under the sources folder, options)
CASES: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    ("gate", "turnstile-csv", "gate_passages", "gate/swipes/*.csv", {}),
    ("circulation", "koha-csv", "koha_statistics", "circulation/koha/statistics-*.csv", {}),
    (
        "spaces",
        "bookings-csv",
        "space_bookings",
        "services/spaces/seats/seats-*.csv",
        {"columns": "columns.json"},
    ),
    ("ezproxy", "ezproxy-log", "ezproxy_requests", "ezproxy/main/*.log*", {}),
    ("circulation", "koha-items-csv", "ils_items", "circulation/koha/items.csv", {}),
)


def bench_url() -> str:
    import psycopg

    from ingest.run import connect
    from ingest.schema import migrate
    from urm.platform.warehouse import EmbeddedWarehouse, external_url

    base = external_url() or EmbeddedWarehouse().ensure_running()
    admin = urlunsplit(urlsplit(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"drop database if exists {BENCH_DATABASE} with (force)")
        conn.execute(f"create database {BENCH_DATABASE}")
    url = urlunsplit(urlsplit(base)._replace(path=f"/{BENCH_DATABASE}"))
    with connect(url) as conn:
        migrate(conn)
    return url


def measure(url: str, case: tuple[str, str, str, str, dict[str, str]], folder: Path, mode: str) -> dict:
    from bench.university import psql_copy_speed
    from ingest.run import connect, ingest_files

    source, fmt, table, pattern, options = case
    files = sorted(glob.glob(str(folder / pattern)))
    given: dict[str, object] = {
        k: str(Path(files[0]).parent / v) if k == "columns" else v for k, v in options.items()
    }
    if mode == "line":
        given["single_process"] = True
    with connect(url) as conn:
        conn.execute(f"truncate raw.{table}")
        conn.execute("delete from raw.load_log where target_table = %s", (table,))
        conn.execute("delete from quarantine.rejected_rows where target_table = %s", (table,))
    wall, cpu = time.perf_counter(), time.process_time()
    results = ingest_files(url, source, fmt, files, key=KEY, max_reject_share=0.5, options=given)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = sum(r.rows_loaded for r in results)
    with connect(url) as conn, tempfile.TemporaryDirectory() as scratch:
        copied = psql_copy_speed(conn, url, table, Path(scratch))
    return {
        "table": table,
        "mode": mode,
        "files": len(files),
        "rows": rows,
        "wall": wall,
        "cpu_us": cpu / max(rows, 1) * 1e6,
        "psql": copied["seconds"],
        "load": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, help="a folder of `urm synth` output (default: generate one)")
    parser.add_argument("--users", type=int, default=6500)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=("line", "fast"), default=["line", "fast"])
    parser.add_argument("--tables", nargs="+", help="only these landing tables (default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.sources
        if folder is None:
            from urm_demo.synth.generator import generate

            folder = Path(scratch)
            generate(folder, users=args.users, days=args.days, seed=args.seed)
        url = bench_url()
        print(
            "| table | path | files | rows | ingest s | rows/s | client CPU µs/row | psql \\copy s | ratio "
            "| load |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for _ in range(args.repeat):
            for case in CASES:
                if args.tables and case[2] not in args.tables:
                    continue
                for mode in args.modes:
                    m = measure(url, case, folder, mode)
                    print(
                        f"| {m['table']} | {m['mode']} | {m['files']} | {m['rows']:,} | {m['wall']:.2f} | "
                        f"{m['rows'] / m['wall']:,.0f} | {m['cpu_us']:.1f} | {m['psql']:.2f} | "
                        f"{m['psql'] / m['wall']:.2f} | {m['load']:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
