"""EZproxy logs: sessions of requests to publisher platforms, in two sites' LogFormats.

A session is one person on one platform: an optional login redirect, then 1-40 requests a few
seconds to minutes apart (articles, searches, PDFs, the odd static asset, now and then a 302 or a
403). Lines are written in time order per day; sessions running past midnight carry over.
"""

from __future__ import annotations

import bisect
import string
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from urm_demo.synth.academic_calendar import (
    VACATION,
    academic_year,
    library_day,
    mean_eresource_weight,
)
from urm_demo.synth.people import Person
from urm_demo.synth.writers import Manifest, MonthlyFiles, months_between

LOG_FORMATS = {
    "main": '%h %{ezproxy-session}i %u %t "%r" %s %b',
    "medical": '%h %l %u %t "%r" %s %b',
}
CAMPUS_RANGES = ("10.0.0.0/8", "172.16.0.0/16", "202.120.0.0/16")
PROXY_HOST = "http://ezproxy.lib.example.edu.cn:2048"

PLATFORM_HOSTS: dict[str, str] = {
    "www.sciencedirect.com": "ScienceDirect",
    "link.springer.com": "SpringerLink",
    "onlinelibrary.wiley.com": "Wiley Online Library",
    "ieeexplore.ieee.org": "IEEE Xplore",
    "www.jstor.org": "JSTOR",
    "kns.cnki.net": "CNKI",
    "www.wanfangdata.com.cn": "Wanfang Data",
    "qikan.cqvip.com": "CQVIP",
    "www.nature.com": "Nature",
    "pubs.acs.org": "ACS Publications",
    "www.webofscience.com": "Web of Science",
    "www.tandfonline.com": "Taylor & Francis Online",
}
# Everyone uses CNKI; the rest depends on the discipline (see university.College.platforms).
BASE_PLATFORM_WEIGHTS = {
    "kns.cnki.net": 30,
    "www.wanfangdata.com.cn": 8,
    "qikan.cqvip.com": 5,
    "www.sciencedirect.com": 10,
    "link.springer.com": 9,
    "onlinelibrary.wiley.com": 6,
    "ieeexplore.ieee.org": 2,
    "www.jstor.org": 3,
    "www.nature.com": 3,
    "pubs.acs.org": 1,
    "www.webofscience.com": 4,
    "www.tandfonline.com": 4,
}
REQUESTS_MEAN = 8.5  # requests a session, on average, before the 40 cap
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Session starts by hour: working day and evening peaks, a little night owl traffic.
HOUR_WEIGHTS = (1, 0.5, 0.2, 0.1, 0.1, 0.2, 0.5, 1.5, 4, 7, 8, 7, 4, 5, 7, 8, 8, 6, 4, 6, 8, 8, 6, 3)
HOUR_SHARES = np.array(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS)
SESSION_LETTERS = np.frombuffer((string.ascii_letters + string.digits).encode(), dtype=np.uint8)


def campus_range() -> list[str]:
    """The on-campus client address ranges (CIDR): dormitories, offices, the public NAT range."""
    return list(CAMPUS_RANGES)


YEARS = ("2019", "2020", "2021", "2022", "2023", "2024", "2025")


def _content_path(host: str, kind: float, bits: int) -> tuple[str, str]:
    """(method, path) of a content or search request; `bits` (random, 62 bits) fills the ids."""
    year, bits = YEARS[bits % 7], bits // 7
    y2 = year[2:]
    if host == "www.sciencedirect.com":
        if kind < 0.2:
            return "GET", f"/search?qs=deep%20learning&date={year}"
        pii = f"S{bits % 10**8:08d}{y2}{bits // 10**8 % 10**5:05d}{'0123456789X'[bits % 11]}"
        return "GET", f"/science/article/pii/{pii}" + ("/pdfft" if kind > 0.8 else "")
    if host == "link.springer.com":
        doi = f"10.1007/s{bits % 10**5:05d}-0{y2}-{bits // 10**5 % 10**5:05d}-{bits % 10}"
        return "GET", (f"/content/pdf/{doi}.pdf" if kind > 0.75 else f"/article/{doi}")
    if host == "onlinelibrary.wiley.com":
        journal = ("adma", "anie", "jcc", "cpt", "smj")[bits % 5]
        doi = f"10.1002/{journal}.{year}{bits // 5 % 10**5:05d}"
        return "GET", (f"/doi/pdf/{doi}" if kind > 0.75 else f"/doi/{doi}")
    if host == "ieeexplore.ieee.org":
        if kind < 0.15:
            return "POST", "/rest/search"
        number = 7_000_000 + bits % 3_900_000
        return "GET", (f"/stamp/stamp.jsp?tp=&arnumber={number}" if kind > 0.75 else f"/document/{number}")
    if host == "www.jstor.org":
        stable = 1_000_000 + bits % 49_000_000
        return "GET", (f"/stable/pdf/{stable}.pdf" if kind > 0.75 else f"/stable/{stable}")
    if host == "kns.cnki.net":
        if kind < 0.2:
            return "POST", "/kns8s/brief/grid"
        code = ("JSJX", "JJYJ", "ZGFX", "WXPL", "ZHYX", "DZXU", "JXXB")[bits % 7]
        filename = f"{code}{year}{1 + bits // 7 % 12:02d}{bits // 84 % 1000:03d}"
        return "GET", f"/kcms2/article/abstract?dbcode=CJFD&filename={filename}"
    if host == "www.wanfangdata.com.cn":
        journal = ("zhyx", "jsjyy", "jjyj")[bits % 3]
        return "GET", f"/details/detail.do?_type=perio&id={journal}{year}{bits // 3 % 10**5:05d}"
    if host == "qikan.cqvip.com":
        return "GET", f"/Qikan/Article/Detail?id={bits % 10**10:010d}"
    if host == "www.nature.com":
        article = f"s41{467 + bits % 133}-0{y2}-{bits // 133 % 10**5:05d}-{bits % 10}"
        return "GET", f"/articles/{article}" + (".pdf" if kind > 0.8 else "")
    if host == "pubs.acs.org":
        journal = ("jacs", "jmedchem", "est", "nanolett", "acsnano")[bits % 5]
        pdf = "pdf/" if kind > 0.75 else ""
        return "GET", f"/doi/{pdf}10.1021/{journal}.{y2}c{bits // 5 % 10**5:05d}"
    if host == "www.webofscience.com":
        if kind < 0.35:
            return "GET", f"/wos/woscc/summary/{bits:016x}/relevance/1"
        return "GET", f"/wos/woscc/full-record/WOS:000{bits % 10**12:012d}"
    if host == "www.tandfonline.com":
        view = "pdf" if kind > 0.75 else "full"
        return "GET", f"/doi/{view}/10.1080/{bits % 10**8:08d}.{year}.{bits // 10**8 % 10**7:07d}"
    raise ValueError(f"no URL pattern for platform host {host!r}")


def _asset_path(bits: int) -> str:
    name = f"{bits & 0xFFFFFFFF:08x}"
    return (
        f"/static/css/main.{name}.css",
        f"/static/js/app.{name}.js",
        "/images/logo.png",
        "/images/spinner.gif",
        f"/assets/icons/{name}.png",
    )[bits % 5]


def _client_address(person: Person, on_campus: bool, draw: float, bits: int) -> str:
    if not on_campus:
        return person.home_address
    if draw < 0.55:
        return person.campus_address
    if draw < 0.8:  # campus Wi-Fi
        return f"10.{64 + bits % 64}.{bits // 64 % 256}.{1 + bits // 16384 % 254}"
    return f"202.120.{bits % 256}.{1 + bits // 256 % 254}"  # NAT of labs and libraries


def _cumulative(weights: dict[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    keys = tuple(sorted(weights))
    running, cumulative = 0.0, []
    for key in keys:
        running += weights[key]
        cumulative.append(running)
    return keys, tuple(cumulative)


class EzproxySimulation:
    def __init__(
        self, people: list[Person], start: date, end: date, seed: int, out_dir: Path, manifest: Manifest
    ) -> None:
        self.people, self.start, self.end = people, start, end
        days = (end - start).days + 1
        self.period_seconds = days * 86400
        dates = [start + timedelta(days=offset) for offset in range(days)]
        self._day_prefix = [f"[{d.day:02d}/{MONTHS[d.month - 1]}/{d.year}:" for d in dates]
        self._day_month = [(d.year, d.month) for d in dates]
        self.np_rng = np.random.default_rng([seed, 2])
        months = months_between(start, end)
        self.sites = {
            "main": MonthlyFiles(
                manifest,
                "ezproxy_log",
                months,
                lambda m: out_dir / "ezproxy" / "main" / f"ezproxy-{m[0]:04d}-{m[1]:02d}.log.gz",
                compressed=True,
            ),
            "medical": MonthlyFiles(
                manifest,
                "ezproxy_log",
                months,
                lambda m: out_dir / "ezproxy" / "medical" / f"ezproxy-{m[0]:04d}-{m[1]:02d}.log",
            ),
        }
        self.lines = {site: 0 for site in self.sites}
        self._pending: list[tuple[int, int, str, str]] = []  # (second, seq, site, line)
        self._sequence = 0
        self._platforms: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {}

    def _platform_choice(self, person: Person) -> tuple[tuple[str, ...], tuple[float, ...]]:
        code = person.college.code if person.college else ""
        if code not in self._platforms:
            weights: dict[str, float] = dict(BASE_PLATFORM_WEIGHTS)
            if person.college:
                for host, weight in person.college.platforms.items():
                    weights[host] = weight
            self._platforms[code] = _cumulative(weights)
        return self._platforms[code]

    def run(self, on_progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
        days = (self.end - self.start).days + 1
        per_day = np.array([p.sessions_per_year for p in self.people]) / (
            365 * mean_eresource_weight(academic_year(self.start))
        )
        first_day = np.array([(p.active_from - self.start).days for p in self.people])
        last_day = np.array([(p.active_until - self.start).days for p in self.people])
        for offset in range(days):
            day = self.start + timedelta(days=offset)
            library = library_day(day)
            active = (first_day <= offset) & (offset <= last_day)
            sessions = self.np_rng.poisson(per_day * library.eresource_weight * active)
            owners = np.repeat(np.arange(len(self.people)), sessions)
            away = library.phase == VACATION or day.weekday() >= 5
            self._day(offset, owners, away)
            self._flush((offset + 1) * 86400)
            if on_progress:
                on_progress("ezproxy", offset + 1, days)
        self._flush(None)
        for files in self.sites.values():
            files.close()
        return self.lines

    def _day(self, offset: int, owners: np.ndarray, away: bool) -> None:
        """All sessions of one day. Random numbers are drawn in bulk: a Python call per number
        would dominate the run at full scale (about 15 million lines a year)."""
        n = len(owners)
        if n == 0:
            return
        rng = self.np_rng
        hours = rng.choice(24, size=n, p=HOUR_SHARES)
        starts = (offset * 86400 + hours * 3600 + rng.integers(0, 3600, size=n)).tolist()
        requests = np.minimum(40, 1 + rng.exponential(REQUESTS_MEAN - 1, size=n).astype(int))
        session_draws = rng.random((n, 4)).tolist()
        session_bits = rng.integers(0, 2**62, size=n).tolist()
        letters = SESSION_LETTERS[rng.integers(0, len(SESSION_LETTERS), size=(n, 15))].tobytes()
        total = int(requests.sum())
        gaps = np.minimum(900, rng.lognormal(3.2, 1.1, size=total).astype(int) + 1).tolist()
        kinds = rng.random(total).tolist()
        bits = rng.integers(0, 2**62, size=total).tolist()
        line = 0
        for i, (index, hour, start) in enumerate(zip(owners.tolist(), hours.tolist(), starts, strict=True)):
            person = self.people[index]
            campus_draw, platform_draw, login_draw, address_draw = session_draws[i]
            night = hour < 7 or hour >= 22
            on_campus = campus_draw < (0.25 if away else 0.35 if night else 0.75)
            address = _client_address(person, on_campus, address_draw, session_bits[i])
            hosts, cumulative = self._platform_choice(person)
            host = hosts[bisect.bisect_left(cumulative, platform_draw * cumulative[-1])]
            site = person.proxy_site
            moment = start
            if login_draw < 0.12:  # arrived through a proxied link: logs in first
                self._line(
                    site,
                    moment,
                    address,
                    "-",
                    "-",
                    "GET",
                    f"{PROXY_HOST}/login?url=https://{host}/",
                    302,
                    None,
                )
                moment += 5 + session_bits[i] % 35
            session = letters[15 * i : 15 * i + 15].decode() if site == "main" else "-"
            user = person.login
            for _ in range(int(requests[i])):
                draw, value = kinds[line], bits[line]
                if draw < 0.15:
                    method, path, status = "GET", _asset_path(value), 200
                    size: int | None = 800 + value % 89_200
                else:
                    method, path = _content_path(host, (draw - 0.15) / 0.85, value)
                    status = 403 if draw > 0.98 else 302 if draw > 0.955 else 200
                    size = (
                        300 + value % 1_700
                        if status == 403
                        else None
                        if status == 302 and value % 2
                        else 100 + value % 700
                        if status == 302
                        else 900_000 + value % 5_100_000
                        if path.endswith(".pdf")
                        else 8_000 + value % 242_000
                    )
                self._line(
                    site, moment, address, session, user, method, f"https://{host}{path}", status, size
                )
                moment += gaps[line]
                line += 1

    def _line(
        self,
        site: str,
        moment: int,
        address: str,
        session: str,
        user: str,
        method: str,
        url: str,
        status: int,
        size: int | None,
    ) -> None:
        """`moment`: seconds since the first day's midnight, local time."""
        if moment >= self.period_seconds:
            return
        day, second = divmod(moment, 86400)
        hour, second = divmod(second, 3600)
        minute, second = divmod(second, 60)
        stamp = f"{self._day_prefix[day]}{hour:02d}:{minute:02d}:{second:02d} +0800]"
        line = (
            f'{address} {session} {user} {stamp} "{method} {url} HTTP/1.1" {status} '
            f"{'-' if size is None else size}\n"
        )
        self._sequence += 1
        self._pending.append((moment, self._sequence, site, line))

    def _flush(self, before: int | None) -> None:
        """Write the lines earlier than `before` (all when None) in time order; keep the rest.

        One sort a day is much cheaper than a heap operation per line.
        """
        self._pending.sort()
        cut = len(self._pending) if before is None else bisect.bisect_left(self._pending, (before,))
        for moment, _, site, line in self._pending[:cut]:
            files = self.sites[site]
            files.stream(self._day_month[moment // 86400]).write(line)
            assert files.record is not None
            files.record.rows += 1
            self.lines[site] += 1
        del self._pending[:cut]
