"""Large files parsed in worker processes land exactly as they would parsed in this process:
same rows, same line numbers, same quarantine, plain or gzip, and a worker's error surfaces."""

from __future__ import annotations

import gzip
from pathlib import Path

import psycopg
import pytest

import ingest.pipelined as pipelined
from ingest.run import ingest_files
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration

ROW_COLUMNS = (
    "source_line, requested_at, login_key, client_network, on_campus, method, site_host, url_path, "
    "http_status, response_bytes, proxy_groups"
)


def _log_text(lines: int) -> str:
    out = []
    for n in range(1, lines + 1):
        if n % 97 == 0:
            out.append("this line is not in the LogFormat")
        elif n % 131 == 0:
            out.append("")  # blank lines carry no request and are skipped
        else:
            out.append(
                f"10.{n % 200}.{n % 7}.{n % 250} - user{n % 300}@univ.edu [01/Sep/2025:08:{n // 60 % 60:02d}:"
                f'{n % 60:02d} +0800] "GET https://www.sciencedirect.com/science/article/pii/S{n} '
                f'HTTP/1.1" {200 if n % 5 else 302} {n * 7}'
            )
    return "\n".join(out)  # no final newline, as in some real logs


def _load(url: str, path: Path, **options: object) -> tuple[list, list]:
    [result] = ingest_files(
        url, "ezproxy", "ezproxy-log", [path], key=TEST_KEY, max_reject_share=0.5, options=options
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"select {ROW_COLUMNS} from raw.ezproxy_requests where batch_id = %s order by 1",
            (result.batch_id,),
        ).fetchall()
        rejected = conn.execute(
            "select source_line, field, reason from quarantine.rejected_rows where batch_id = %s order by 1",
            (result.batch_id,),
        ).fetchall()
    assert (result.rows_loaded, result.rows_quarantined) == (len(rows), len(rejected))
    return rows, rejected


@pytest.mark.parametrize("compressed", [False, True])
def test_workers_load_exactly_what_one_process_loads(
    conn: psycopg.Connection,
    warehouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    compressed: bool,
) -> None:
    text = _log_text(5_000)
    plain = tmp_path / "a.log"
    plain.write_text(text)
    other = tmp_path / "b.log.gz" if compressed else tmp_path / "b.log"
    # different bytes (a trailing newline), same lines: the checksum must not make it a repeat
    with gzip.open(other, "wt") if compressed else open(other, "w") as handle:
        handle.write(text + "\n")
    single = _load(warehouse_url, plain, single_process=True)
    # b begins with every byte of a: as a grown append-only log it would go on from a's load.
    # Forget that load, so that both paths read the whole file.
    conn.execute("truncate raw.load_log")

    calls = []
    original = pipelined.parse_in_workers
    monkeypatch.setattr(pipelined, "MIN_BYTES", 0)
    monkeypatch.setattr(pipelined, "BLOCK_BYTES", 4096)  # many blocks, cut mid-file
    monkeypatch.setattr(
        "ingest.loader.parse_in_workers", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    parallel = _load(warehouse_url, other)
    assert calls, "the worker path was not taken"
    assert parallel == single
    assert len(single[1]) == 5_000 // 97 and single[1][0][0] == 97


def test_a_worker_error_fails_the_load_with_its_message(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipelined, "MIN_BYTES", 0)
    path = tmp_path / "x.log"
    path.write_text(_log_text(300))
    with pytest.raises(ValueError, match="no %t"):
        ingest_files(
            warehouse_url,
            "ezproxy",
            "ezproxy-log",
            [path],
            key=TEST_KEY,
            max_reject_share=0.5,
            options={"log_format": "%h %u"},
        )
    assert conn.execute("select count(*) from raw.ezproxy_requests").fetchone() == (0,)


def test_workers_are_chosen_by_the_content_size_not_the_gzip_size(tmp_path: Path) -> None:
    """A month's log compresses six times or more: the parsing work follows its lines."""
    text = ("x" * 99 + "\n").encode() * 2000
    plain, packed, cut = tmp_path / "a.log", tmp_path / "a.log.gz", tmp_path / "cut.log.gz"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text))
    cut.write_bytes(gzip.compress(text)[:10])  # too short to hold a trailer: its own size
    assert pipelined.content_size(plain) == len(text)
    assert pipelined.content_size(packed) == len(text) > packed.stat().st_size
    assert pipelined.content_size(cut) == 10
