"""The workers' block parser (ingest.ezproxy.blocks) lands exactly what the one-process path lands.

Every sample log of ../shared/samples that the ezproxy format reads, and generated logs full of
hostile lines, are loaded twice: once in one process (the per-line parser, psycopg formatting each
row) and once through the workers of ingest.pipelined (the block parser writing COPY text, the
per-line parser for what it leaves); every landed row and every quarantine entry (line, field,
reason, raw text) must be the same.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ingest.pipelined as pipelined
from ingest.ezproxy.blocks import ezproxy_block_parser
from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT
from ingest.ezproxy.parser import ezproxy_line_parser
from ingest.model import ParseContext, Rejected
from ingest.pseudonym import Pseudonymiser
from ingest.run import ingest_files
from tests.conftest import TEST_KEY

ROW_COLUMNS = (
    "source_file, source_line, requested_at, login_key, client_network, on_campus, method, site_host, "
    "url_path, http_status, response_bytes, proxy_groups"
)
SAMPLE_FORMATS = {  # as in tests/test_ezproxy_samples.py, from ../shared/samples/README.md
    "univ_lyon": DEFAULT_LOG_FORMAT,
    "univ_limoges": "%t %h %U",
    "univ_strasbourg": "%t %h %h %u %U %b %{ezproxy-session}i",
    "ul": '%h %u %{digit}e %t "%r" %s %b %{ezproxy-groups}i',
    "upmc": '%h %{ezproxy-session}i %u %t "%r" %s %b %{free-text}e',
    "univ_rennes1": '%h %{ezproxy-session}i %{session2}i %t "%r" %s %b %{ezproxy-groups}i',
}
GROUPS_FORMAT = '%h %l %u %t "%r" %s %b "%{user-agent}i" %{ezproxy-groups}i'


def _landed(url: str, path: Path, **options: object) -> tuple[list, list]:
    [result] = ingest_files(
        url, "ezproxy", "ezproxy-log", [path], key=TEST_KEY, max_reject_share=1.0, options=options
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"select {ROW_COLUMNS} from raw.ezproxy_requests where batch_id = %s order by source_line",
            (result.batch_id,),
        ).fetchall()
        rejected = conn.execute(
            "select source_line, field, reason, raw_text from quarantine.rejected_rows "
            "where batch_id = %s order by source_line",
            (result.batch_id,),
        ).fetchall()
        # forget the load, so that the same file loads again through the other path
        conn.execute("delete from raw.load_log where batch_id = %s", (result.batch_id,))
    assert (result.rows_loaded, result.rows_quarantined) == (len(rows), len(rejected))
    return rows, rejected


def _both_ways(url: str, path: Path, monkeypatch: pytest.MonkeyPatch, **options: object) -> tuple[list, list]:
    single = _landed(url, path, single_process=True, **options)
    calls = []
    original = pipelined.parse_in_workers
    with monkeypatch.context() as patch:
        patch.setattr(pipelined, "MIN_BYTES", 0)
        patch.setattr(pipelined, "BLOCK_BYTES", 2048)  # many blocks, cut mid-file
        patch.setattr("ingest.loader.parse_in_workers", lambda *a, **k: calls.append(1) or original(*a, **k))
        workers = _landed(url, path, **options)
    assert calls, "the worker path was not taken"
    assert workers[0] == single[0]
    assert workers[1] == single[1]
    return single


def _sample_logs(samples: Path) -> list[tuple[Path, str]]:
    folder = samples / "ezproxy" / "ezpaarse"
    logs = [(path, DEFAULT_LOG_FORMAT) for path in sorted(folder.glob("*.log"))]
    for name, log_format in SAMPLE_FORMATS.items():
        logs.append((folder / "multiformat" / f"{name}.ezproxy.log", log_format))
    return logs


@pytest.mark.integration
def test_every_sample_log_lands_the_same_both_ways(
    conn: psycopg.Connection, warehouse_url: str, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landed = 0
    for path, log_format in _sample_logs(samples):
        rows, _ = _both_ways(warehouse_url, path, monkeypatch, log_format=log_format)
        landed += len(rows)
    assert landed > 300  # the samples' 300-line day and the others


HOSTILE = [
    # good lines, in several shapes
    "10.1.2.3 - Jane.Doe@Univ.edu [01/Sep/2025:08:00:01 +0800] "
    '"GET https://WWW.Host.org:443/a/b?q=x HTTP/1.1" 200 123',
    '10.1.2.3, 195.221.0.34 - - [01/Sep/2025:08:00:02 -0130] "GET http://host.org?q=1 HTTP/1.0" - -',
    '2001:db8::1 - u1 [01/Sep/2025:08:00:02 +0000] "POST http://user@h.org/x HTTP/1.1" 302 0',
    'proxy - u2 [01/Sep/2025:08:00:03 +0800] "GET /http/www.reverse.org/p/q HTTP/1.1" 200 5',
    '10.9.9.9 - u3 [01/Sep/2025:08:00:03 +0800] "CONNECT host.org:443 HTTP/1.1" 200 5',
    '10.9.9.9 - u3 [01/Sep/2025:08:00:03 +0800] "GET http:///nohost HTTP/1.1" 200 5',
    '10.9.9.9 - u3 [01/Sep/2025:08:00:03 +0800] "-" 400 0',
    '10.9.9.9 - u3 [01/Sep/2025:08:00:03 +0800] "GET https://h.org/caf\u00e9/\u00fcber HTTP/1.1" 200 007',
    '10.9.9.9 - u3 [01/Sep/2025:08:00:03 +0800] "GET https://h.org/a\\"b HTTP/1.1" 200 1',
    # bad dates
    '10.1.2.3 - u4 [32/Sep/2025:08:00:01 +0800] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [31/Feb/2025:08:00:01 +0800] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [01/Foo/2025:08:00:01 +0800] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [01/Sep/2025:08:00:60 +0800] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [01/Sep/2025:08:00:1x +0800] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [01/Sep/2025:08:00X07 +0800] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [01/Sep/2025:08:00: 7 +0800] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [01/Sep/2025:25:00:01 +0800] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [01/Sep/2025:08:00:01 +2500] "GET https://h.org/ HTTP/1.1" 200 1',
    '10.1.2.3 - u4 [01/Sep/2025:08:00:01] "GET https://h.org/ HTTP/1.1" 200 1',
    # odd numbers
    '10.1.2.3 - u5 [01/Sep/2025:08:00:01 +0800] "GET https://h.org/ HTTP/1.1" 200 1234567890123456789',
    '10.1.2.3 - u5 [01/Sep/2025:08:00:01 +0800] "GET https://h.org/ HTTP/1.1" \u0662\u0660\u0660 1',
    '10.1.2.3 - u5 [01/Sep/2025:08:00:01 +0800] "GET https://h.org/ HTTP/1.1" 200 \u0661\u0662',
    # truncated, non-matching, blank
    '10.1.2.3 - u6 [01/Sep/2025:08:00:01 +0800] "GET https://h.org/trunc',
    "this line is not in the LogFormat",
    "",
    "   ",
    # control characters and bytes that are not UTF-8 (written below as bytes)
    '10.1.2.3 - u7 [01/Sep/2025:08:00:01 +0800] "GET https://h.org/nul\x00 HTTP/1.1" 200 1',
    '10.1.2.3 - u7 [01/Sep/2025:08:00:01 +0800] "GET https://h.org/cr HTTP/1.1" 200 1\r',
    '10.1.2.3 - u7 [01/Sep/2025:08:00:01 +0800] "GET https://h.org/v\x0bt HTTP/1.1" 200 1',
    '10.1.2.3 - u7 [01/Sep/2025:08:00:01 +0800] "GET\thttps://h.org/tab HTTP/1.1" 200 1',
    '10.1.2.3 - u7\x85 [01/Sep/2025:08:00:01 +0800] "GET https://h.org/nel HTTP/1.1" 200 1',
]
INVALID_UTF8 = b'10.1.2.3 - u8\xff [01/Sep/2025:08:00:01 +0800] "GET https://h.org/\xc3(x HTTP/1.1" 200 1'


def _hostile_log(path: Path, repeats: int) -> None:
    lines = []
    for n in range(repeats):
        for line in HOSTILE:
            lines.append(line.replace("08:00:0", f"08:{n % 60:02d}:0").encode("utf-8"))
        lines.append(INVALID_UTF8)
    path.write_bytes(b"\n".join(lines))  # no final newline


@pytest.mark.integration
def test_hostile_lines_land_the_same_both_ways(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hostile.log"
    _hostile_log(path, 40)
    rows, rejected = _both_ways(warehouse_url, path, monkeypatch)
    assert len(rows) > 10 * 40 and len(rejected) > 10 * 40
    # campus classified at ingest: the same on_campus both ways
    rows, _ = _both_ways(warehouse_url, path, monkeypatch, campus_networks="10.1.0.0/16,2001:db8::/32")
    assert {row[5] for row in rows} >= {True, False}


@pytest.mark.integration
def test_a_custom_logformat_with_headers_lands_the_same_both_ways(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = []
    for n in range(600):
        groups = ["Default+Staff", "-", "A\\B", "", "with space"][n % 5]
        agent = ["Mozilla/5.0 (X11)", "-", 'quote \\" inside', ""][n % 4]
        lines.append(
            f"10.{n % 3}.0.{n % 250} - user{n % 17} [02/Oct/2025:10:{n // 60 % 60:02d}:{n % 60:02d} +0200] "
            f'"GET https://www.jstor.org/stable/{n}?s=1 HTTP/1.1" {200 + n % 3} {n} "{agent}" {groups}'
        )
        if n % 50 == 0:
            lines.append(f'10.0.0.1 - u [02/Oct/2025:10:00:00 +0200] "GET / HTTP/1.1" 200 {n}')  # no groups
    path = tmp_path / "groups.log"
    path.write_text("\n".join(lines) + "\n")
    rows, _ = _both_ways(warehouse_url, path, monkeypatch, log_format=GROUPS_FORMAT)
    assert {row[11] for row in rows} >= {"Default+Staff", "A\\B", "", None}


def test_clean_lines_take_the_fast_path_and_the_rest_go_to_the_line_parser() -> None:
    ctx = ParseContext(Pseudonymiser(TEST_KEY))
    parse = ezproxy_block_parser(ctx, ("0f5a6b8e-0000-4000-8000-000000000000", "/landing/a\tb.log"))
    text = "\n".join(HOSTILE[:3] + ["not a log line", HOSTILE[9]]) + "\n"
    copy_text, rows, items = parse(10, text)
    assert rows == 3
    lines = copy_text.decode().splitlines()
    assert [line.split("\t")[2] for line in lines] == ["10", "11", "12"]
    assert lines[0].split("\t")[:2] == ["0f5a6b8e-0000-4000-8000-000000000000", "/landing/a\\tb.log"]
    assert lines[0].split("\t")[2:] == [
        "10",
        "2025-09-01 08:00:01+08:00",
        ctx.pseudonymiser.pseudonym("login", "Jane.Doe@Univ.edu") or "",
        "10.1.2.0/24",
        "\\N",
        "GET",
        "www.host.org",
        "/a/b",
        "200",
        "123",
        "\\N",
    ]
    assert [(type(item), item[0]) for item in items] == [(Rejected, 13), (Rejected, 14)]


def _from_copy(value: str) -> str | None:
    if value == "\\N":
        return None
    return value.replace("\\t", "\t").replace("\\\\", "\\")


def _as_line_parser_values(row: str) -> tuple[int, tuple[object, ...]]:
    """A COPY text row of the block parser as the per-line parser's (line, values)."""
    _, _, line, when, login, network, campus, method, site, path, status, size, groups = row.split("\t")
    values = [_from_copy(v) for v in (when, login, network, campus, method, site, path, status, size, groups)]
    values[3] = None if values[3] is None else values[3] == "t"
    values[7] = None if values[7] is None else int(values[7])  # type: ignore[arg-type]
    values[8] = None if values[8] is None else int(values[8])  # type: ignore[arg-type]
    return int(line), tuple(values)


def _with_time_text(item: object) -> object:
    """A line parser's item with its datetime as the text the block parser writes."""
    if type(item) is Rejected:
        return item
    line, values = item  # type: ignore[misc]
    return line, (values[0].isoformat(sep=" "), *values[1:])


FRAGMENTS = {
    "host": ["10.1.2.3", "10.1.2.3, 195.221.0.34", "2001:db8::1", "proxy", "-", "300.1.1.1"],
    "user": ["-", "Jane.Doe@Univ.edu", "u1", "Ünï", "a\\b"],
    "time": [
        "01/Sep/2025:08:00:01 +0800",
        "31/Feb/2025:08:00:01 +0800",
        "01/Sep/2025:08:00:60 -0130",
        "01/Sep/2025:08:00:61 +0800",
        "01/Sep/2025:08:00: 7 +0000",
        "01/Sep/2025:08:00X07 +0800",
        "1/Sep/2025:08:00:01 +0800",
    ],
    "request": [
        "GET https://WWW.Host.org:443/a/b?q=x HTTP/1.1",
        "GET http://host.org?q=1 HTTP/1.0",
        "GET /http/www.reverse.org/p HTTP/1.1",
        "CONNECT host.org:443 HTTP/1.1",
        "GET http:///nohost HTTP/1.1",
        "-",
        "GET https://h.org/caf\u00e9 HTTP/1.1",
        'GET https://h.org/a\\"b HTTP/1.1',
        "GET https://h.org/x\x00y HTTP/1.1",
    ],
    "status": ["200", "-", "20", "\u0662\u0660\u0660", "302"],
    "size": ["0", "-", "007", "1234567890123456789", "12x"],
}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            *(st.sampled_from(values) for values in FRAGMENTS.values()), st.sampled_from(["", "\r", " "])
        ),
        min_size=1,
        max_size=30,
    )
)
def test_block_parser_agrees_with_the_line_parser(parts: list[tuple[str, ...]]) -> None:
    lines = [f'{h} - {u} [{t}] "{r}" {s} {b}{end}' for h, u, t, r, s, b, end in parts]
    numbered = list(enumerate(lines, 5))
    expected = list(ezproxy_line_parser(ParseContext(Pseudonymiser(TEST_KEY)))(numbered))
    copy_text, rows, items = ezproxy_block_parser(ParseContext(Pseudonymiser(TEST_KEY)), ("b", "f"))(
        5, "\n".join(lines) + "\n"
    )
    fast = [_as_line_parser_values(row) for row in copy_text.decode().splitlines()]
    assert rows == len(fast)
    got = sorted([*fast, *map(_with_time_text, items)], key=lambda item: item[0])  # type: ignore[index]
    normalised = [_with_time_text(item) for item in expected]
    assert got == normalised


def test_a_bad_second_is_explained_as_the_line_parser_explains_it() -> None:
    """The line parser's reason for a second past 59 depends on whether it saw that minute
    before; the block parser's slow lines share its resolver, so the minute a fast line saw counts."""
    good = '10.1.2.3 - u [01/Sep/2025:08:00:01 +0800] "GET https://h.org/ HTTP/1.1" 200 1'
    lines = [good, good.replace(":01 +0800", ":61 +0800")]
    expected = list(ezproxy_line_parser(ParseContext(Pseudonymiser(TEST_KEY)))(enumerate(lines, 1)))
    _, rows, items = ezproxy_block_parser(ParseContext(Pseudonymiser(TEST_KEY)), ("b", "f"))(
        1, "\n".join(lines)
    )
    assert rows == 1 and items == expected[1:]
