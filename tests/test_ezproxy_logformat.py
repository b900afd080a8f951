"""LogFormat compilation and the streaming parser, on generated lines (no database)."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.ezproxy.logformat import LogFormatError, LogPattern, TimestampError, parse_log_time
from ingest.ezproxy.parser import client_network, parse_ezproxy_log, split_url
from ingest.model import ParseContext, Rejected
from ingest.pseudonym import Pseudonymiser

from .conftest import TEST_KEY

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def context(log_format: str | None = None) -> ParseContext:
    options = {"log_format": log_format} if log_format else {}
    return ParseContext(pseudonymiser=Pseudonymiser(TEST_KEY), options=options)


def parse_lines(tmp_path: Path, lines: list[str], log_format: str | None = None, *, gz=False):
    path = tmp_path / ("access.log.gz" if gz else "access.log")
    data = "\n".join(lines).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return list(parse_ezproxy_log(path, context(log_format)))


def apache_time(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return (
        f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year:04d}:"
        f"{moment:%H:%M:%S} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def test_time_is_the_instant_written_whatever_the_offset() -> None:
    # Rennes writes +0100 in June: the instant is what counts, not the season.
    parsed = parse_log_time("26/Jun/2013:14:10:18 +0100")
    assert parsed.astimezone(UTC) == datetime(2013, 6, 26, 13, 10, 18, tzinfo=UTC)
    assert parse_log_time("01/Jan/2020:00:00:00 -0530").astimezone(UTC) == datetime(
        2020, 1, 1, 5, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text",
    [
        "31/Feb/2012:00:00:00 +0100",
        "30/Foo/2012:00:00:00 +0100",
        "30/Nov/2012 00:00:00",
        "30/Nov/2012:25:00:00 +0100",
        "30/Nov/2012:00:00:00 +2500",
    ],
)
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(TimestampError):
        parse_log_time(text)


def test_default_format_line(tmp_path: Path) -> None:
    [(line, values)] = parse_lines(
        tmp_path,
        [
            "1.2.3.4 - Jane.Doe@Univ.EDU [30/Nov/2012:00:14:17 +0100] "
            '"GET http://www.ScienceDirect.com:80/science/journal/0012?_user=42 HTTP/1.1" 200 2248'
        ],
    )
    assert line == 1
    requested_at, login_key, network, on_campus, method, host, path, status, size, groups = values
    assert requested_at == datetime(2012, 11, 29, 23, 14, 17, tzinfo=UTC)
    assert login_key == Pseudonymiser(TEST_KEY).pseudonym("login", "jane.doe@univ.edu")
    assert login_key != "Jane.Doe@Univ.EDU" and len(login_key) == 32
    assert (network, method, host, path) == (
        "1.2.3.0/24",
        "GET",
        "www.sciencedirect.com",
        "/science/journal/0012",
    )
    assert (status, size, groups) == (200, 2248, None)


def test_missing_fields_are_null_and_bad_lines_quarantined_with_their_number(
    tmp_path: Path,
) -> None:
    items = parse_lines(
        tmp_path,
        [
            "junk first line",
            '- - - [30/Nov/2012:00:14:17 +0100] "-" - -',
            "",  # blank lines carry nothing and are not counted as bad
            '1.2.3.4 - bob [31/Feb/2012:00:14:17 +0100] "GET http://a.org/ HTTP/1.1" 200 1',
            '1.2.3.4 - bob [30/Nov/2012:00:14:17 +0100] "GET http://a.org/ HTTP/1.1" 200 12 extra',
        ],
    )
    rejected = [item for item in items if isinstance(item, Rejected)]
    good = [item for item in items if not isinstance(item, Rejected)]
    assert [(r.line, r.field) for r in rejected] == [(1, "line"), (4, "time"), (5, "line")]
    assert "LogFormat" in rejected[0].reason and rejected[0].raw == "junk first line"
    assert "31/Feb/2012" in rejected[1].reason
    assert good == [
        (
            2,
            (
                datetime(2012, 11, 29, 23, 14, 17, tzinfo=UTC),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ),
        )
    ]


def test_groups_headers_variables_and_free_text(tmp_path: Path) -> None:
    log_format = '%h %{ezproxy-session}i %u %t "%r" %>s %B %{ezproxy-groups}i %{note}e'
    [(_, values)] = parse_lines(
        tmp_path,
        [
            '10.1.2.3 SeSsIoN u1 [01/Mar/2024:08:00:00 +0800] "GET https://kns.cnki.net/kcms/detail'
            ' HTTP/1.1" 200 10 Default+staff free text with $ signs'
        ],
        log_format,
    )
    assert values[2] == "10.1.2.0/24" and values[5] == "kns.cnki.net" and values[9] == "Default+staff"


def test_unsupported_directive_is_named() -> None:
    with pytest.raises(LogFormatError, match="%X"):
        LogPattern("%h %X")


def test_quoted_request_may_hold_escaped_quotes(tmp_path: Path) -> None:
    [(_, values)] = parse_lines(
        tmp_path,
        ['1.2.3.4 - u [30/Nov/2012:00:14:17 +0100] "GET http://a.org/x\\"y HTTP/1.1" 200 5'],
    )
    assert values[5] == "a.org" and values[7] == 200


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://www.jstor.org:80/stable/123?x=1", ("www.jstor.org", "/stable/123")),
        ("https://user@Link.Springer.com/article/1#frag", ("link.springer.com", "/article/1")),
        ("http://ieeexplore.ieee.org?x=/y", ("ieeexplore.ieee.org", "/")),
        ("www.wanfangdata.com.cn:443", ("www.wanfangdata.com.cn", None)),
        ("/login?url=http://x", (None, "/login")),
        ("http://[2001:db8::1]:8080/a", ("2001:db8::1", "/a")),
    ],
)
def test_split_url(url: str, expected: tuple[str | None, str | None]) -> None:
    assert split_url(url) == expected


def test_client_network_keeps_only_the_network() -> None:
    assert client_network("172.28.4.47, 195.221.0.34") == "172.28.4.0/24"
    assert client_network("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert client_network("proxy") is None


# ---- property: any line we render in any supported layout parses back to what we wrote ----

LAYOUTS = [
    '%h %l %u %t "%r" %s %b',
    "%t %h %h %u %U %b %{ezproxy-session}i",
    '%h %u %{digit}e %t "%r" %s %b %{ezproxy-groups}i',
    '%h %{ezproxy-session}i %u %t "%r" %s %b %{note}e',
]

users = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789._@-", min_size=1, max_size=20
).filter(lambda u: u not in ("-",) and u.strip())
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.integers(-12 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q))),
).map(lambda moment: moment.replace(microsecond=0))  # the log has whole seconds
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z0-9-]{1,8}){1,3}", fullmatch=True)
paths = st.from_regex(r"(/[A-Za-z0-9._%~-]{0,12}){1,4}", fullmatch=True)
records = st.fixed_dictionaries(
    {
        "ip": st.ip_addresses(v=4).map(str),
        "user": users,
        "moment": moments,
        "method": st.sampled_from(["GET", "POST", "HEAD"]),
        "host": hosts,
        "path": paths,
        "query": st.from_regex(r"(\?[a-z]=[A-Za-z0-9%]{0,8})?", fullmatch=True),
        "status": st.integers(100, 599),
        "size": st.integers(0, 10**12),
        "groups": st.from_regex(r"[A-Za-z]{1,6}(\+[A-Za-z0-9]{1,6}){0,3}", fullmatch=True),
        "note": st.text(alphabet="abc $:,.!", max_size=20),
    }
)


def render(layout: str, r: dict) -> str:
    url = f"http://{r['host']}:80{r['path']}{r['query']}"
    values = {
        "%h": r["ip"],
        "%l": "-",
        "%u": r["user"],
        "%t": f"[{apache_time(r['moment'])}]",
        "%r": f"{r['method']} {url} HTTP/1.1",
        "%s": str(r["status"]),
        "%b": str(r["size"]),
        "%U": url,
        "%{ezproxy-session}i": "S3ss10n",
        "%{digit}e": "0",
        "%{ezproxy-groups}i": r["groups"],
        "%{note}e": r["note"],
    }
    # One pass, so that a value holding `%s` is never taken for a directive.
    return re.sub(r"%\{[^}]+\}[ie]|%[a-zA-Z]", lambda found: values[found.group()], layout)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    layout=st.sampled_from(LAYOUTS),
    batch=st.lists(records, min_size=1, max_size=5),
    gz=st.booleans(),
)
def test_rendered_lines_parse_back(tmp_path: Path, layout: str, batch: list[dict], gz: bool) -> None:
    items = parse_lines(tmp_path, [render(layout, r) for r in batch], layout, gz=gz)
    assert [item[0] for item in items] == list(range(1, len(batch) + 1))
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym
    for (_, values), r in zip(items, batch, strict=True):
        requested_at, login_key, network, on_campus, method, host, path, status, size, groups = values
        assert requested_at == r["moment"] and requested_at.utcoffset() == r["moment"].utcoffset()
        assert login_key == pseudonym("login", r["user"])
        assert network == client_network(r["ip"]) and network.endswith(".0/24")
        assert (host, path) == (r["host"], r["path"] or "/")
        assert size == r["size"]
        if '"%r"' in layout:
            assert (method, status) == (r["method"], r["status"])
        if "groups" in layout:
            assert groups == r["groups"]


def test_campus_networks_option_classifies_the_full_address(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text(
        '202.120.5.200 - u [30/Nov/2012:00:14:17 +0100] "GET http://a.org/ HTTP/1.1" 200 5\n'
        '202.120.5.10 - u [30/Nov/2012:00:14:18 +0100] "GET http://a.org/ HTTP/1.1" 200 5\n'
        'proxy - u [30/Nov/2012:00:14:19 +0100] "GET http://a.org/ HTTP/1.1" 200 5\n'
    )
    ctx = ParseContext(Pseudonymiser(TEST_KEY), {"campus_networks": "10.0.0.0/8, 202.120.5.128/25"})
    assert [values[3] for _, values in parse_ezproxy_log(path, ctx)] == [True, False, None]
    assert [values[3] for _, values in parse_ezproxy_log(path, context())] == [None, None, None]
    with pytest.raises(ValueError, match="campus_networks"):
        list(parse_ezproxy_log(path, ParseContext(Pseudonymiser(TEST_KEY), {"campus_networks": "x"})))
