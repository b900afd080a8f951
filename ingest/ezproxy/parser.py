"""Stream an EZproxy log (plain or gzip) into rows of raw.ezproxy_requests.

Privacy decisions taken here, before anything lands:
- The login (%u) becomes a keyed pseudonym of kind `login` (lower-cased and stripped, so
  `Jane.Doe@Univ.edu ` and `jane.doe@univ.edu` are one user).
- The client address is cut to its network, a /24 for IPv4 (/48 for IPv6), and the full address
  is never stored. A /24 is shared by up to 256 machines: enough to tell campus from home, not
  enough to single out a device, and it never reaches a mart.
- On/off campus: when the load is given option `campus_networks` (comma-separated CIDR ranges,
  `urm ingest --campus-networks`), the full address is classified here and `on_campus` lands
  as true/false; that is exact even for ranges narrower than /24. Without the option it lands
  null and dbt classifies the /24 against the `campus_networks` seed (`client_network <<=
  range`), so a library can correct its ranges and rebuild history without re-reading logs.
- The URL keeps the host and the path (enough for platform and static-asset rules); the query
  string is dropped because it can carry search terms, e-mail addresses and session tokens.
"""

from __future__ import annotations

import gzip
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT, LogPattern, parse_log_time
from ingest.model import ParseContext, ParsedItem, Rejected

GZIP_MAGIC = b"\x1f\x8b"
IPV4_PREFIX = 24
IPV6_PREFIX = 48
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def open_log(path: Path) -> IO[str]:
    """A text stream over the file, gunzipped on the fly when it starts with the gzip magic."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    # Logs are mostly ASCII; a stray Latin-1 byte in a URL must not stop a 20-million-line load.
    # Lines end at \n only (a stray \r stays inside its line), as in the parallel and resumed
    # reads (ingest.pipelined, ingest.loader), so that line numbers agree between them.
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="\n")
    return open(path, encoding="utf-8", errors="replace", newline="\n")


def client_network(host: str) -> str | None:
    """'172.28.4.47, 195.221.0.34' -> '172.28.4.0/24': the first address is the client's."""
    first = host.split(",", 1)[0].strip()
    parts = first.split(".")
    if len(parts) == 4 and all(
        part.isdigit() and part.isascii() and len(part) <= 3 and (part[0] != "0" or len(part) == 1)
        for part in parts
    ):
        # what ipaddress reads as IPv4 (no leading zeros: the text is the canonical form) without
        # building two objects: 17,000 new addresses in a month's log cost 1 s that way
        if int(parts[0]) <= 255 and int(parts[1]) <= 255 and int(parts[2]) <= 255 and int(parts[3]) <= 255:
            return f"{parts[0]}.{parts[1]}.{parts[2]}.0/24"
        return None
    try:
        address = ipaddress.ip_address(first)
    except ValueError:
        return None  # EZproxy may write a name here (Limoges writes `proxy`)
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def parse_campus_networks(value: object) -> tuple[IPNetwork, ...] | None:
    """Option campus_networks: 'a/8,b/16' or a list of CIDR strings; None when not given."""
    if value is None or value == "":
        return None
    texts = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"option campus_networks: {text!r} is not a CIDR range such as 10.0.0.0/8"
            ) from None
    return tuple(networks)


def is_on_campus(host: str, campus: tuple[IPNetwork, ...]) -> bool | None:
    first = host.split(",", 1)[0].strip()
    try:
        address = ipaddress.ip_address(first)
    except ValueError:
        return None
    return any(address in network for network in campus)


def split_url(url: str) -> tuple[str | None, str | None]:
    """(host without port, lower case; path without query) of an absolute or relative URL."""
    scheme_end = url.find("://")
    if url.startswith("/"):
        authority, path = "", url
    elif scheme_end != -1:
        rest = url[scheme_end + 3 :]
        end = len(rest)
        for mark in ("/", "?", "#"):
            found = rest.find(mark, 0, end)
            if found != -1:
                end = found
        authority, path = rest[:end], rest[end:]
        if not path.startswith("/"):  # http://host?query: the path is the root
            path = "/"
    else:  # CONNECT host:443, or a bare host
        authority, path = url, None
    if path is not None:
        for mark in ("?", "#"):
            cut = path.find(mark)
            if cut != -1:
                path = path[:cut]
    return host_of(authority), path or None


def host_of(authority: str) -> str | None:
    """'User@Www.Host.org:80' -> 'www.host.org'; '[2001:db8::1]:8080' -> '2001:db8::1'."""
    authority = authority.rsplit("@", 1)[-1]
    if authority.startswith("["):
        host = authority[1 : authority.find("]")] if "]" in authority else authority[1:]
    else:
        host = authority.split(":", 1)[0]
    return host.lower() or None


def reverse_proxied(path: str) -> tuple[str | None, str]:
    """'/http/www.host.org/a/b' -> ('www.host.org', '/a/b'): the path form of a proxy that
    rewrites URLs into its own paths (Apache reverse proxies, as in ezPAARSE's samples)."""
    rest = path.split("/", 3)  # ['', 'http', 'www.host.org', 'a/b']
    host = host_of(rest[2]) if len(rest) > 2 else None
    return host, "/" + rest[3] if len(rest) > 3 else "/"


def split_request(request: str) -> tuple[str | None, str | None]:
    """'GET http://x/y HTTP/1.1' -> ('GET', 'http://x/y'); tolerant of HTTP/0.9 and junk."""
    parts = request.split(" ")
    if len(parts) == 3:
        return parts[0], parts[1]
    if not request or request == "-":
        return None, None
    if len(parts) == 1:
        return None, parts[0]
    if parts[-1].startswith("HTTP/"):
        return parts[0], " ".join(parts[1:-1])
    return parts[0], " ".join(parts[1:])


class _Resolver:
    """Per-file caches: logs repeat a few thousand addresses, logins, sites and minutes."""

    LIMIT = 200_000  # entries per cache before it is emptied: memory stays flat on any file

    def __init__(self, ctx: ParseContext) -> None:
        self.pseudonym = ctx.pseudonymiser.pseudonym
        self.campus = parse_campus_networks(ctx.options.get("campus_networks"))
        self.networks: dict[str, tuple[str | None, bool | None]] = {}
        self.site_hosts: dict[str, str | None] = {}
        self.logins: dict[str, str | None] = {}
        self.minutes: dict[str, datetime] = {}

    def network(self, host_text: str) -> tuple[str | None, bool | None]:
        if len(self.networks) > self.LIMIT:
            self.networks.clear()
        campus = self.campus
        known = self.networks[host_text] = (
            client_network(host_text),
            is_on_campus(host_text, campus) if campus is not None else None,
        )
        return known

    def site_host(self, authority: str) -> str | None:
        if len(self.site_hosts) > self.LIMIT:
            self.site_hosts.clear()
        host = self.site_hosts[authority] = host_of(authority)
        return host

    def login(self, user: str) -> str | None:
        if len(self.logins) > self.LIMIT:
            self.logins.clear()
        key = self.logins[user] = self.pseudonym("login", user)
        return key

    def time(self, text: str) -> datetime:
        """(date, hour, minute, offset) -> that minute as a datetime; a second is a replace()."""
        minute = self.minutes.get(text[:17] + text[20:])
        if minute is not None and text[18:20].isdigit():
            return minute.replace(second=int(text[18:20]))
        parsed = parse_log_time(text)
        if len(self.minutes) > self.LIMIT:
            self.minutes.clear()
        self.minutes[text[:17] + text[20:]] = parsed.replace(second=0)
        return parsed


def group_number(pattern: LogPattern, *codes: str) -> int:
    """1-based group of the first code the format has, else the group that never matches."""
    for code in codes:
        if code in pattern.index:
            return pattern.index[code] + 1
    return pattern.absent_group


# The fields an EZproxy row keeps, in row order: each the first LogFormat code the format has.
WANTED_CODES = (
    ("t",),
    ("h", "a"),
    ("u",),
    ("r:method", "m"),
    ("r:authority", "U:authority"),
    ("r:path", "U:path"),
    ("s", ">s"),
    ("b", "B"),
    ("i:ezproxy-groups",),
)


def wanted_groups(pattern: LogPattern) -> tuple[int, ...]:
    """The regex groups of WANTED_CODES (the line parser's and the block parser's one C call)."""
    return tuple(group_number(pattern, *codes) for codes in WANTED_CODES)


def parse_ezproxy_log(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    from ingest.pipelined import GZIP_ERRORS, corrupt_gzip

    try:
        with open_log(path) as handle:
            yield from ezproxy_line_parser(ctx)(enumerate(handle, 1))
    except GZIP_ERRORS as error:
        raise corrupt_gzip(path, error) from None


def ezproxy_line_parser(
    ctx: ParseContext, resolver: _Resolver | None = None
) -> Callable[[Iterable[tuple[int, str]]], Iterator[ParsedItem]]:
    """The parser of numbered log lines: all but opening the file, so that blocks of a large file
    can be parsed in worker processes (ingest.pipelined). Its caches last as long as it does;
    `resolver` shares them with ingest.ezproxy.blocks, which leaves it the lines it cannot take."""
    pattern = LogPattern(str(ctx.options.get("log_format") or DEFAULT_LOG_FORMAT))
    if not pattern.has("t"):
        raise ValueError(
            f"LogFormat {pattern.log_format!r} has no %t: EZproxy rows need the time of the request"
        )
    # One C call per line pulls every field we keep, in this order (None when absent).
    wanted = wanted_groups(pattern)
    request_at, url_at = group_number(pattern, "r"), group_number(pattern, "U")
    match = pattern.regex.fullmatch
    resolve = resolver if resolver is not None else _Resolver(ctx)
    networks, site_hosts, logins = resolve.networks, resolve.site_hosts, resolve.logins

    def parse_lines(numbered_lines: Iterable[tuple[int, str]]) -> Iterator[ParsedItem]:
        last_time_text = ""
        last_time: datetime | None = None

        for line_no, raw_line in numbered_lines:
            line = raw_line.rstrip("\r\n")
            found = match(line)
            if found is None:
                if not line or line.isspace():
                    continue  # blank lines (a trailing " " line, say) carry no request
                field, reason = pattern.explain_mismatch(line)
                yield Rejected(line_no, field, reason, line)
                continue
            if "\x00" in line:  # PostgreSQL text cannot hold NUL; it would abort the whole COPY
                yield Rejected(line_no, "line", "contains a NUL byte; the file may be corrupt", line)
                continue
            (time_text, host_text, user, method, authority, url_path, status_text, size_text,
             proxy_groups) = found.group(*wanted)  # fmt: skip

            if time_text != last_time_text:  # consecutive lines mostly share the same second
                try:
                    last_time = resolve.time(time_text)
                except ValueError as error:  # TimestampError, or a second past 59
                    yield Rejected(line_no, "time", str(error), line)
                    continue
                last_time_text = time_text

            if host_text is None:
                network = on_campus = None
            else:
                known = networks.get(host_text)
                network, on_campus = known if known is not None else resolve.network(host_text)

            login_key = None if user is None else logins[user] if user in logins else resolve.login(user)

            if authority is not None:
                site_host = site_hosts[authority] if authority in site_hosts else resolve.site_host(authority)
                if url_path is None:
                    url_path = "/"  # http://host?query
            else:
                site_host = None
                if url_path is None:
                    # the regex could not split it (a quote inside, CONNECT host:443, no scheme)
                    url = None
                    if request_at != pattern.absent_group:
                        method, url = split_request(found.group(request_at))
                    if url is None and url_at != pattern.absent_group:
                        url = found.group(url_at)
                    if url and url != "-":
                        site_host, url_path = split_url(url)

            if site_host is None and url_path is not None and url_path.startswith(("/http/", "/https/")):
                site_host, url_path = reverse_proxied(url_path)

            status = size = None
            if status_text is not None and status_text != "-":
                if len(status_text) != 3 or not status_text.isdigit():
                    yield Rejected(line_no, "status", f"{status_text!r} is not a 3-digit HTTP status", line)
                    continue
                status = int(status_text)
            if size_text is not None and size_text != "-":
                if not size_text.isdigit() or len(size_text) > 18:  # a bigint holds 18 digits
                    yield Rejected(line_no, "size", f"{size_text!r} is not a byte count", line)
                    continue
                size = int(size_text)

            yield (
                line_no,
                (
                    last_time,
                    login_key,
                    network,
                    on_campus,
                    method if method != "-" else None,
                    site_host,
                    url_path,
                    status,
                    size,
                    proxy_groups if proxy_groups != "-" else None,
                ),
            )

    return parse_lines
