"""Parse a block of EZproxy log lines straight to COPY text, for ingest.pipelined's workers.

The per-line parser (`ingest.ezproxy.parser`) yields Python values, which psycopg then formats as
COPY text: on this machine 7 µs a line to parse and 7 more to format (the timestamp, the cidr,
the booleans, the ints each go through a dumper), about four times what the PostgreSQL backend
spends storing the row. Here the common line costs one regex match, a handful of dictionary
look-ups and one string join: the text each value would have in COPY is computed once per
distinct value (timestamp text, client address, login, URL authority) and reused, and the row is
written as COPY text directly.

A line takes this fast path only when the result is sure to be the per-line parser's, value for
value: a match of the whole LogFormat, no control character (so no value needs COPY escaping
beyond a backslash), a valid timestamp, a 3-digit status (or -), a byte count that fits a bigint
(or -), and, when the format has %r or %U, an absolute URL whose host the regex split off. Every
other line (one that does not match, a relative or odd URL, a NUL byte...) goes through the
per-line parser itself with its line number, so its row or its quarantine entry (field, reason)
is exactly the one-process path's; tests/test_ezproxy_blocks.py compares both paths row by row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ingest.copytext import copy_escape
from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT, LogPattern
from ingest.ezproxy.parser import _Resolver, ezproxy_line_parser, wanted_groups
from ingest.model import ParseContext, ParsedItem

NULL = "\\N"  # COPY text's null
# Bytes that need COPY escaping or that the per-line parser treats apart (NUL, CR): a line holding
# one goes the per-line way. Text outside this class is written as it is.
CONTROL = re.compile("[\x00-\x1f\x7f]")
CONTROL_BYTES = bytes([*range(0x0A), *range(0x0B, 0x20), 0x7F])  # all but the newline

BlockResult = tuple[bytes, int, list[ParsedItem]]


def ezproxy_block_parser(ctx: ParseContext, prefix: tuple[str, str]) -> Callable[[int, str], BlockResult]:
    """parse(number of the first line, text of whole lines) -> (COPY text of the rows taken on the
    fast path, how many, the per-line parser's items for every other line, in line order).

    `prefix` is (batch_id, file label): the first two columns of every row."""
    pattern = LogPattern(str(ctx.options.get("log_format") or DEFAULT_LOG_FORMAT))
    wanted = wanted_groups(pattern)
    # With %r or %U, a line whose URL the regex could not split goes the per-line way.
    needs_authority = pattern.has("r") or pattern.has("U")
    match = pattern.regex.fullmatch
    search_control = CONTROL.search
    resolve = _Resolver(ctx)
    # The per-line parser, for the lines left to it, with the same caches: its reason for a second
    # past 59 depends on whether it saw that minute, on a line of either path.
    slow = ezproxy_line_parser(ctx, resolve)  # raises its errors (a format without %t)
    known_minutes = resolve.minutes
    limit = _Resolver.LIMIT
    lead = "{}\t{}\t".format(*map(copy_escape, prefix))
    # resolve.time's minute key -> (COPY text before the second, after it), and the same per hour
    # (key: the text without minutes and seconds) -> (text before the minute, after the second, the
    # hour as resolve.time's datetime): a log at a few lines a minute meets a new minute every few
    # lines, which then costs a replace() instead of parsing the time and formatting it.
    minutes: dict[str, tuple[str, str]] = {}
    hours: dict[str, tuple[str, str, Any]] = {}
    hosts: dict[str | None, str] = {None: f"{NULL}\t{NULL}"}  # %h -> "network\ton_campus"
    logins: dict[str | None, str] = {None: NULL}
    sites: dict[str, str] = {}  # URL authority -> host ("": the per-line way)

    def time_text(text: str) -> str:
        """What the per-line parser's datetime for `text` is as COPY text; "" when it rejects it.
        Leaves resolve.minutes as resolve.time(text) would."""
        if len(minutes) > limit:
            minutes.clear()
            hours.clear()
        second, key = text[18:20], text[:17] + text[20:]
        good_second = second.isdigit() and second.isascii() and second < "60"
        minute = minutes.get(key)
        # as resolve.time does when it knows the minute: the minute's instant, with this second
        if minute is not None and key in known_minutes and good_second:
            return minute[0] + second + minute[1]
        hour = hours.get(text[:14] + text[20:])
        digits = text[15:17]
        if (
            hour is not None
            and key not in known_minutes
            and good_second
            and digits.isdigit()
            and digits.isascii()
            and digits < "60"
        ):
            # what resolve.time does with a minute it does not know, when parse_log_time would read
            # it (the date, hour and offset of a time it read, a minute and a second in range)
            if len(known_minutes) > limit:
                known_minutes.clear()
            known_minutes[key] = hour[2].replace(minute=int(digits))
            before = hour[0] + digits + ":"
            minutes[key] = (before, hour[1])
            return before + second + hour[1]
        try:
            value = resolve.time(text)
        except ValueError:  # the per-line parser says why
            return ""
        known = value.isoformat(sep=" ")
        if value.microsecond == 0 and len(known) == 25:  # "yyyy-mm-dd hh:mm:ss+hh:mm"
            minutes[key] = (known[:17], known[19:])
            hours[text[:14] + text[20:]] = (known[:14], known[19:], value.replace(minute=0, second=0))
        return known

    def host_text(text: str) -> str:
        if len(hosts) > limit:
            hosts.clear()
            hosts[None] = f"{NULL}\t{NULL}"
        network, on_campus = resolve.network(text)
        campus = NULL if on_campus is None else "t" if on_campus else "f"
        known = hosts[text] = f"{NULL if network is None else network}\t{campus}"
        return known

    def login_text(user: str) -> str:
        if len(logins) > limit:
            logins.clear()
            logins[None] = NULL
        key = resolve.login(user)
        known = logins[user] = NULL if key is None else copy_escape(key)
        return known

    def site_host(authority: str) -> str:
        if len(sites) > limit:
            sites.clear()
        host = resolve.site_host(authority)
        known = sites[authority] = "" if host is None or copy_escape(host) != host else host
        return known

    minutes_get, hosts_get, logins_get, sites_get = minutes.get, hosts.get, logins.get, sites.get

    def parse(first: int, text: str) -> BlockResult:
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        # The usual block is ASCII without control characters: then no line needs looking at.
        check_lines = not text.isascii() or len(text.encode("ascii").translate(None, CONTROL_BYTES)) != len(
            text
        )
        out: list[str] = []
        append = out.append
        # lines left to the per-line parser, parsed in turn: its caches see the lines in file order
        items: list[ParsedItem] = []
        for line_no, line in enumerate(lines, first):
            found = match(line)
            if found is None or (check_lines and (not line.isascii() or search_control(line))):
                items.extend(slow(((line_no, line),)))
                continue
            (time_raw, host_raw, user, method, authority, url_path, status, size,
             proxy_groups) = found.group(*wanted)  # fmt: skip
            key, second = time_raw[:17] + time_raw[20:], time_raw[18:20]
            minute = minutes_get(key)
            if (
                minute is not None
                and second.isdigit()
                and second.isascii()
                and second < "60"
                and key in known_minutes
            ):
                when = minute[0] + second + minute[1]
            else:
                when = time_text(time_raw)
            if not when:
                items.extend(slow(((line_no, line),)))
                continue
            if authority is not None:
                site = sites_get(authority) or site_host(authority)
                if not site:
                    items.extend(slow(((line_no, line),)))
                    continue
                if url_path is None:
                    url_path = "/"  # http://host?query
            elif needs_authority:
                items.extend(slow(((line_no, line),)))
                continue
            else:
                site = url_path = NULL
            if status is None or status == "-":
                status = NULL
            elif len(status) != 3 or not status.isdigit():
                items.extend(slow(((line_no, line),)))
                continue
            if size is None or size == "-":
                size = NULL
            elif len(size) > 18 or not size.isdigit():
                items.extend(slow(((line_no, line),)))
                continue
            if method is None or method == "-":
                method = NULL
            elif "\\" in method:
                method = method.replace("\\", "\\\\")
            if proxy_groups is None or proxy_groups == "-":
                proxy_groups = NULL
            elif "\\" in proxy_groups:
                proxy_groups = proxy_groups.replace("\\", "\\\\")
            append(
                f"{lead}{line_no}\t{when}\t{logins_get(user) or login_text(user)}\t"
                f"{hosts_get(host_raw) or host_text(host_raw)}\t"
                f"{method}\t{site}\t{url_path}\t{status}\t{size}\t{proxy_groups}\n"
            )
        return "".join(out).encode("utf-8"), len(out), items

    return parse
