"""A COUNTER SUSHI client (R5 and R5.1): harvest TR, DR, PR and IR for a platform and a period.

Each response body is saved as it came to a landing file (platform/report_begin_end.json), which
then loads with the `counter-json` format: the landing files are the audit trail, and re-loading
one changes nothing. A report that comes with warnings is kept (the warnings are recorded when it
loads); one that holds only exceptions raises SushiError with the COUNTER code and message.
"""

from __future__ import annotations

import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ingest.counter import json_report
from ingest.counter.exceptions import (
    CounterException,
    CounterNoUsage,
    CounterReportError,
    looks_like_exception,
    normalise,
    redact,
)
from ingest.landing_files import write_landing_file
from ingest.model import ParseContext
from ingest.pseudonym import Pseudonymiser

REPORTS = ("tr", "dr", "pr", "ir")
# Attributes that make the master reports as detailed as the warehouse uses them.
ATTRIBUTES = {
    "5": {
        "tr": "Data_Type|Section_Type|YOP|Access_Type|Access_Method",
        "dr": "Data_Type|Access_Method",
        "pr": "Data_Type|Access_Method",
        "ir": "Data_Type|YOP|Access_Type|Access_Method",
    },
    "5.1": {
        "tr": "YOP|Access_Type|Access_Method",
        "dr": "Access_Method",
        "pr": "Access_Method",
        "ir": "YOP|Access_Type|Access_Method",
    },
}
RETRY_STATUSES = frozenset({202, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 120.0


class SushiError(CounterReportError):
    """A harvest that returned no report: the COUNTER code (when the provider sent one), the
    provider's message and what to do, or the HTTP failure."""

    def __init__(
        self, message: str, exceptions: tuple[CounterException, ...] = (), http_status: int | None = None
    ) -> None:
        super().__init__(message, exceptions)
        self.http_status = http_status


class SushiNoUsage(SushiError, CounterNoUsage):
    """The provider has no usage for the requested months (COUNTER 3030)."""


@dataclass(frozen=True)
class SushiCredentials:
    customer_id: str
    requestor_id: str | None = None
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls, prefix: str = "URM_SUSHI_", environ: Mapping[str, str] | None = None
    ) -> SushiCredentials:
        """`<prefix>CUSTOMER_ID` (required), `<prefix>REQUESTOR_ID`, `<prefix>API_KEY`."""
        env = os.environ if environ is None else environ
        customer_id = env.get(f"{prefix}CUSTOMER_ID", "").strip()
        if not customer_id:
            raise SushiError(
                f"{prefix}CUSTOMER_ID is not set: give the SUSHI customer id of this platform "
                f"(and {prefix}REQUESTOR_ID / {prefix}API_KEY when the provider requires them)"
            )
        return cls(
            customer_id=customer_id,
            requestor_id=env.get(f"{prefix}REQUESTOR_ID", "").strip() or None,
            api_key=env.get(f"{prefix}API_KEY", "").strip() or None,
        )

    def params(self) -> dict[str, str]:
        found = {"customer_id": self.customer_id, "requestor_id": self.requestor_id, "api_key": self.api_key}
        return {k: v for k, v in found.items() if v}


@dataclass
class HarvestedReport:
    platform: str
    report_id: str
    release: str
    begin: date
    end: date
    path: Path
    customer_id: str
    exceptions: list[CounterException] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [e.explanation for e in self.exceptions]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "platform"


def landing_path(landing_dir: Path, platform: str, report: str, begin: date, end: date) -> Path:
    return Path(landing_dir) / _slug(platform) / f"{report.lower()}_{begin:%Y-%m}_{end:%Y-%m}.json"


@dataclass
class _Response:
    status: int
    body: bytes
    retry_after: float | None


def _get(url: str, timeout: float) -> _Response:
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "library-urm-sushi/1"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _Response(response.status, response.read(), _retry_after(response.headers))
    except urllib.error.HTTPError as err:
        return _Response(err.code, err.read() or b"", _retry_after(err.headers))


def _retry_after(headers: Any) -> float | None:
    value = (headers or {}).get("Retry-After")
    try:
        return min(float(value), MAX_RETRY_AFTER_SECONDS) if value else None
    except ValueError:
        return None


class SushiClient:
    """GETs with retries and exponential backoff on 202 (queued), 429 and 5xx."""

    def __init__(
        self,
        base_url: str,
        credentials: SushiCredentials,
        *,
        attempts: int = 4,
        backoff_seconds: float = 2.0,
        timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout = timeout
        self.sleep = sleep

    def url(self, path: str, params: Mapping[str, str]) -> str:
        query = urllib.parse.urlencode({**self.credentials.params(), **params})
        return f"{self.base_url}/{path.lstrip('/')}?{query}"

    def fetch(self, path: str, params: Mapping[str, str] | None = None) -> bytes:
        url = self.url(path, params or {})
        shown = redact(url) or url
        response = _Response(0, b"", None)
        for attempt in range(1, self.attempts + 1):
            try:
                response = _get(url, self.timeout)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                if attempt == self.attempts:
                    raise SushiError(
                        f"{shown}: the SUSHI server could not be reached ({err}); "
                        "check the base URL and the network"
                    ) from None
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                continue
            if response.status not in RETRY_STATUSES:
                break
            if attempt < self.attempts:
                self.sleep(response.retry_after or self.backoff_seconds * 2 ** (attempt - 1))
        if 200 <= response.status < 300 and response.status != 202:
            return response.body
        raise self._failure(shown, response)

    def _failure(self, shown: str, response: _Response) -> SushiError:
        text = response.body.decode("utf-8", errors="replace")
        try:
            body = json_report.decode_body(text, shown)
        except CounterReportError:
            body = None
        found: list[CounterException] = []
        if isinstance(body, Mapping):
            body = [body.get("Exception") or body]
        if isinstance(body, list):
            found = [normalise(e) for e in body if looks_like_exception(e)]
        after = f" after {self.attempts} attempts" if response.status in RETRY_STATUSES else ""
        if found:
            reasons = "; ".join(e.explanation for e in found)
            return SushiError(
                f"{shown}: HTTP {response.status}{after}: {reasons}", tuple(found), response.status
            )
        start = " ".join(text.split())[:200]
        return SushiError(
            f"{shown}: HTTP {response.status}{after}; the server said {start!r}", (), response.status
        )

    def release(self) -> str:
        """R5.1 servers answer /status with one object, R5 servers with a list of them."""
        body = json_report.decode_body(
            self.fetch("status").decode("utf-8", "replace"), f"{self.base_url}/status"
        )
        statuses = body if isinstance(body, list) else [body]
        inactive = [s for s in statuses if isinstance(s, Mapping) and s.get("Service_Active") is False]
        if inactive:
            alerts = "; ".join(str(a.get("Alert")) for s in inactive for a in s.get("Alerts") or [])
            raise SushiError(
                f"{self.base_url}: the SUSHI service says it is not active"
                + (f" ({alerts})" if alerts else "")
                + "; harvest again later"
            )
        return "5" if isinstance(body, list) else "5.1"


def harvest(
    base_url: str,
    *,
    platform: str,
    reports: Sequence[str],
    begin: date,
    end: date,
    credentials: SushiCredentials,
    landing_dir: Path,
    release: str | None = None,
    client: SushiClient | None = None,
) -> list[HarvestedReport]:
    """Fetch each report for the months begin..end, save it under landing_dir and check it.

    Raises SushiError (SushiNoUsage for 3030) for a report that came without usage; the
    response is still saved, so the landing folder shows what the provider said."""
    if end < begin:
        raise SushiError(f"end {end} is before begin {begin}: give the months to harvest")
    client = client or SushiClient(base_url, credentials)
    release = release or client.release()
    harvested = []
    for report in reports:
        report = report.lower()
        if report not in REPORTS:
            known = ", ".join(REPORTS)
            raise SushiError(f"report {report!r} is not harvested; choose from {known}")
        params = {
            "platform": platform,
            "begin_date": f"{begin:%Y-%m}",
            "end_date": f"{end:%Y-%m}",
            "attributes_to_show": ATTRIBUTES[release][report],
            "granularity": "Month",
        }
        body = client.fetch(f"reports/{report}", params)
        # whole or not at all: a file cut short by a full disk must not sit in the landing folder
        path = write_landing_file(landing_path(landing_dir, platform, report, begin, end), body)
        ctx = ParseContext(
            Pseudonymiser(b"unused: COUNTER holds no person data"), {"customer_id": credentials.customer_id}
        )
        try:
            header, _ = json_report.read_report(path, ctx)
        except CounterNoUsage as err:
            raise SushiNoUsage(
                f"{platform} {report.upper()} {begin:%Y-%m}..{end:%Y-%m}: {err}", err.exceptions
            ) from None
        except CounterReportError as err:
            raise SushiError(
                f"{platform} {report.upper()} {begin:%Y-%m}..{end:%Y-%m}: {err}", err.exceptions
            ) from None
        harvested.append(
            HarvestedReport(
                platform=platform,
                report_id=header.report_id,
                release=header.release,
                begin=begin,
                end=end,
                path=path,
                customer_id=credentials.customer_id,
                exceptions=list(header.exceptions),
            )
        )
    return harvested


def describe(report: HarvestedReport) -> str:
    warnings = f"; warnings: {' | '.join(report.warnings)}" if report.exceptions else ""
    return (
        f"{report.platform} {report.report_id} R{report.release} "
        f"{report.begin:%Y-%m}..{report.end:%Y-%m} -> {report.path}{warnings}"
    )
