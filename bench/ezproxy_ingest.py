"""EZproxy ingest speed and memory: `python -m bench.ezproxy_ingest [--lines N ...]`.

For each size it generates an EZproxy log (default LogFormat) in a temp dir, then:
1. ingest: `ingest.run.ingest_files` (read, parse, pseudonymise, COPY, load log), timed end to end
   in a child process of its own, so that its peak memory is its own;
2. psql COPY, the limit to compare with: the very rows the ingest landed are exported (off the
   clock) and loaded with `psql -c '\\copy ... from file'` into an empty table of the same layout
   (`create table ... (like raw.ezproxy_requests including defaults)`), timed with the psql process.
Both in the same run, in a database of its own (`urm_bench`) on the warehouse. (An earlier baseline
formatted each row in Python with psycopg's `Copy.write_row`: that carries most of the cost being
measured, so it was not the limit.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DATABASE = "urm_bench"
KEY = b"bench-key-0123456789abcdef"
HOSTS = (
    "www.sciencedirect.com",
    "pdn.sciencedirect.com",
    "link.springer.com",
    "kns.cnki.net",
    "onlinelibrary.wiley.com",
    "ieeexplore.ieee.org",
    "www.jstor.org",
    "www.wanfangdata.com.cn",
    "qikan.cqvip.com",
    "www.nature.com",
    "pubs.acs.org",
    "www.tandfonline.com",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def generate(path: Path, lines: int, seed: int = 7) -> None:
    """A day-ordered log: 20,000 logins, 5,000 client addresses, 12 platforms."""
    rng = random.Random(seed)
    users = [f"user{n:05d}@univ.edu.cn" for n in range(20_000)]

    def address() -> str:
        first = 10 if rng.random() < 0.6 else rng.randrange(11, 223)  # 60 % on campus
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    addresses = [address() for _ in range(5_000)]
    second = 0
    with open(path, "w", encoding="utf-8") as out:
        for n in range(lines):
            second += rng.random() < 0.3  # about 3 lines a second
            day, rest = divmod(second, 86_400)
            stamp = (
                f"{1 + day % 28:02d}/{MONTHS[(day // 28) % 12]}/2024:"
                f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d} +0800"
            )
            host = HOSTS[n % 7 if n % 3 else rng.randrange(len(HOSTS))]
            path_part = f"/static/app.{n % 97}.css" if n % 11 == 0 else f"/article/{rng.randrange(10**9)}"
            status = 403 if n % 53 == 0 else (302 if n % 7 == 0 else 200)
            size = rng.randrange(100, 10**6)
            out.write(
                f"{addresses[rng.randrange(5_000)]} - {users[rng.randrange(20_000)]} [{stamp}] "
                f'"GET https://{host}{path_part}?q=x HTTP/1.1" {status} {size}\n'
            )


def bench_url() -> str:
    from urm.platform.warehouse import EmbeddedWarehouse, external_url

    base = external_url() or EmbeddedWarehouse().ensure_running()
    return urlunsplit(urlsplit(base)._replace(path=f"/{BENCH_DATABASE}"))


def fresh_database(url: str) -> None:
    import psycopg

    from ingest.run import connect
    from ingest.schema import migrate

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"drop database if exists {BENCH_DATABASE} with (force)")
        conn.execute(f"create database {BENCH_DATABASE}")
    with connect(url) as conn:
        migrate(conn)


def child_ingest(url: str, log: Path) -> dict:
    from ingest.run import connect, ingest_files

    started = time.perf_counter()
    [result] = ingest_files(url, "ezproxy", "ezproxy-log", [log], key=KEY, max_reject_share=0.01)
    seconds = time.perf_counter() - started
    with connect(url) as conn:  # count what landed, not what the loader says it sent
        row = conn.execute(
            "select count(*) from raw.ezproxy_requests where batch_id = %s", (result.batch_id,)
        ).fetchone()
    landed = row[0] if row else 0
    assert landed == result.rows_loaded, (landed, result.rows_loaded)
    return {"rows": landed, "seconds": seconds}


def run_child(phase: str, url: str, log: Path) -> dict:
    """Run a phase in a fresh interpreter; add its peak RSS (the child's own ru_maxrss)."""
    code = (
        "import json, resource, sys; from pathlib import Path; import bench.ezproxy_ingest as b; "
        f"r = b.child_{phase}({url!r}, Path({str(log)!r})); "
        "r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; "
        "r['worker_peak_rss_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024; "
        "print(json.dumps(r))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def truncate(url: str) -> None:
    from ingest.run import connect

    with connect(url) as conn:
        conn.execute("truncate raw.ezproxy_requests, raw.load_log, quarantine.rejected_rows")


def _mb(result: dict, key: str) -> str:
    return f"{result[key]:.0f}" if key in result else "-"  # psql's memory is not measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[200_000, 2_000_000])
    args = parser.parse_args(argv)
    from bench.university import psql_copy_speed, psql_executable
    from ingest.run import connect

    url = bench_url()
    fresh_database(url)
    psql = psql_executable()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, database {BENCH_DATABASE}")
    header = (
        f"{'lines':>10} {'phase':<12} {'rows/s':>10} {'seconds':>8} {'peak RSS MB':>12} {'workers MB':>11}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="urm-bench-") as folder:
        for lines in args.lines:
            log = Path(folder) / f"ezproxy-{lines}.log"
            generate(log, lines)
            truncate(url)
            ingest = run_child("ingest", url, log)
            assert ingest["rows"] == lines, ingest
            with connect(url) as conn:
                copy = psql_copy_speed(conn, url, "ezproxy_requests", Path(folder), psql)
            assert copy["rows"] == lines, copy
            for phase, result in (("ingest", ingest), ("psql COPY", copy)):
                print(
                    f"{lines:>10} {phase:<12} {result['rows'] / result['seconds']:>10,.0f} "
                    f"{result['seconds']:>8.1f} {_mb(result, 'peak_rss_mb'):>12} "
                    f"{_mb(result, 'worker_peak_rss_mb'):>11}"
                )
            ratio = copy["seconds"] / ingest["seconds"]
            print(f"{lines:>10} ingest speed / psql COPY speed = {ratio:.2f} (goal >= 0.50)")
            log.unlink()
    truncate(url)


if __name__ == "__main__":
    main()
