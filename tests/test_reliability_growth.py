"""Append-only logs that grew since they were loaded: only the new lines land, numbered on.

An EZproxy log read before the day ended is read again later, longer: its first lines must not
land twice. The loader recognises the earlier load by the bytes it covered (SHA-256 of that
prefix), on either load path, plain or gzip, and re-reads a last line that was cut mid-write.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import psycopg
import pytest

import ingest.pipelined as pipelined
from ingest.run import ingest_files
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration


def log_lines(first: int, last: int) -> list[str]:
    return [
        f"10.1.{n % 200}.{n % 250} - user{n % 40}@univ.edu "
        f"[01/Sep/2025:{8 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d} +0800] "
        f'"GET https://www.jstor.org/stable/{n} HTTP/1.1" 200 {n * 3}'
        for n in range(first, last + 1)
    ]


def load(url: str, path: Path, **options: object):
    [result] = ingest_files(
        url, "ezproxy", "ezproxy-log", [path], key=TEST_KEY, max_reject_share=0.5, options=options
    )
    return result


def landed(conn: psycopg.Connection) -> list[tuple[int, str]]:
    """(source_line, url_path) of every landed row, in order."""
    return conn.execute("select source_line, url_path from raw.ezproxy_requests order by 1, 2").fetchall()


def expected(last: int) -> list[tuple[int, str]]:
    return [(n, f"/stable/{n}") for n in range(1, last + 1)]


@pytest.mark.parametrize("workers", [False, True], ids=["one-process", "workers"])
def test_a_log_grown_by_500_lines_loads_only_those(
    conn: psycopg.Connection,
    warehouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: bool,
) -> None:
    if workers:
        monkeypatch.setattr(pipelined, "MIN_BYTES", 0)
        monkeypatch.setattr(pipelined, "BLOCK_BYTES", 4096)
    path = tmp_path / "ezproxy-2025-09-01.log"
    path.write_text("\n".join(log_lines(1, 1000)) + "\n")
    first = load(warehouse_url, path)
    assert (first.rows_loaded, first.first_line) == (1000, 1)

    with open(path, "a") as handle:  # the rest of the day
        handle.write("\n".join(log_lines(1001, 1500)) + "\n")
    second = load(warehouse_url, path)
    assert (second.rows_loaded, second.first_line, second.skipped) == (500, 1001, False)
    assert landed(conn) == expected(1500)  # every request once, lines numbered as in the file

    again = load(warehouse_url, path)  # nothing new: the same bytes as the second load
    assert again.skipped
    log = conn.execute(
        "select first_line, rows_loaded, content_lines from raw.load_log order by finished_at"
    ).fetchall()
    assert log == [(1, 1000, 1000), (1001, 500, 1500)]


def test_a_last_line_cut_mid_write_is_read_again_whole(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    lines = log_lines(1, 30)
    path = tmp_path / "ezproxy.log"
    cut = len(lines[9]) // 2
    path.write_text("\n".join(lines[:9]) + "\n" + lines[9][:cut])  # EZproxy was writing line 10
    first = load(warehouse_url, path)
    assert first.rows_loaded + first.rows_quarantined == 10  # the half line is one way or the other

    path.write_text("\n".join(lines) + "\n")
    second = load(warehouse_url, path)
    assert second.first_line == 10 and second.rows_loaded == 21
    assert landed(conn) == expected(30)
    # the half line's quarantine entry (or row) went with its earlier copy
    assert conn.execute("select count(*) from quarantine.rejected_rows").fetchone() == (0,)


def test_an_unterminated_last_line_that_was_complete_is_not_loaded_twice(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "ezproxy.log"
    path.write_text("\n".join(log_lines(1, 10)))  # no final newline, as many real logs
    assert load(warehouse_url, path).rows_loaded == 10
    path.write_text("\n".join(log_lines(1, 12)) + "\n")
    assert load(warehouse_url, path).rows_loaded == 3  # line 10 again (replacing it), 11, 12
    assert landed(conn) == expected(12)


def test_the_rotated_gzip_of_a_loaded_log_adds_only_what_it_grew_by(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    live = tmp_path / "site" / "ezproxy.log"
    live.parent.mkdir()
    live.write_text("\n".join(log_lines(1, 200)) + "\n")
    load(warehouse_url, live)
    rotated = tmp_path / "site" / "ezproxy-2025-09-01.log.gz"  # the whole day, compressed
    with gzip.open(rotated, "wt") as handle:
        handle.write("\n".join(log_lines(1, 260)) + "\n")
    result = load(warehouse_url, rotated)
    assert (result.rows_loaded, result.first_line) == (60, 201)
    assert landed(conn) == expected(260)


def test_a_different_log_with_the_same_first_line_loads_whole(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    one, other = tmp_path / "a.log", tmp_path / "b.log"
    one.write_text("\n".join(log_lines(1, 50)) + "\n")
    lines = log_lines(1, 60)
    lines[20] = lines[20].replace("stable/21", "stable/21x")  # a changed line: not a prefix
    other.write_text("\n".join(lines) + "\n")
    load(warehouse_url, one)
    result = load(warehouse_url, other)
    assert (result.rows_loaded, result.first_line) == (60, 1)
