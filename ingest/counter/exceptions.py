"""COUNTER exceptions: normalise the shapes seen in the wild and explain each code plainly.

Codes and meanings follow the SUSHI API (R5.0.3 and R5.1, Appendix D of the Code of Practice).
Providers write them in many shapes: `Code`/`number`, as an int, a string or 0; `Severity` as a
word, a number or not at all (R5.1 dropped it). `normalise` accepts all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingest.errors import UserError

# code -> (short name, what it means for the user and what to do)
EXPLANATIONS: dict[int, tuple[str, str]] = {
    0: ("Info", "an informational note from the provider; the data is unaffected"),
    1000: ("Service Not Available", "the provider's SUSHI service failed internally; retry later"),
    1001: ("Service Not Available", "the provider's SUSHI service failed internally; retry later"),
    1010: ("Service Busy", "the provider's SUSHI service is too busy; retry later"),
    1011: ("Report Queued for Processing", "the provider is still preparing the report; harvest again later"),
    1020: (
        "Client has made too many requests",
        "the provider's request limit was reached; wait before harvesting again",
    ),
    1030: (
        "Insufficient Information to Process Request",
        "the request lacks a required value (customer id or requestor id): check the "
        "credentials configured for this platform",
    ),
    2000: (
        "Requestor Not Authorized to Access Service",
        "invalid credentials: the requestor id is unknown to the provider; check "
        "URM_SUSHI_REQUESTOR_ID for this platform",
    ),
    2010: (
        "Requestor is Not Authorized to Access Usage for Institution",
        "invalid credentials: the customer id is unknown or not linked to this requestor; "
        "check URM_SUSHI_CUSTOMER_ID for this platform",
    ),
    2011: ("Global Reports Not Supported", "the provider does not report usage for 'The World'"),
    2020: ("APIKey Invalid", "invalid credentials: the API key was refused; check URM_SUSHI_API_KEY"),
    2090: (
        "Report Not Fetched",
        "an HTTP error stopped the harvest (see the message): check the SUSHI base URL",
    ),
    3000: ("Report Not Supported", "the platform does not offer this report; stop requesting it"),
    3010: ("Report Version Not Supported", "the platform does not offer this report in this COUNTER release"),
    3020: (
        "Invalid Date Arguments",
        "the begin or end date was refused (wrong format, end before begin or a future month)",
    ),
    3030: (
        "No Usage Available for Requested Dates",
        "no data for the period: the provider has no usage for these months and filters",
    ),
    3031: (
        "Usage Not Ready for Requested Dates",
        "partial data: some months are not processed yet; harvest them again later",
    ),
    3032: (
        "Usage No Longer Available for Requested Dates",
        "partial data: the earliest requested months are no longer available",
    ),
    3040: ("Partial Data Returned", "partial data: some of the requested usage is missing"),
    3050: (
        "Parameter Not Recognized in this Context",
        "the provider ignored a request parameter; the data is otherwise complete",
    ),
    3060: ("Invalid ReportFilter Value", "the provider ignored a filter value it does not support"),
    3061: ("Incongruous ReportFilter Value", "filter values of different scopes were combined"),
    3062: ("Invalid ReportAttribute Value", "the provider ignored a report attribute it does not support"),
    3063: ("Components Not Supported", "the provider does not report component usage"),
    3070: ("Required ReportFilter Missing", "a filter the provider requires was not sent"),
}

# No report can come with these: the request as a whole failed.
FAILURE_CODES = frozenset(
    {1000, 1001, 1010, 1011, 1020, 1030, 2000, 2010, 2011, 2020, 2090, 3000, 3010, 3020, 3070}
)
# Worth trying again later with the same request.
RETRY_LATER_CODES = frozenset({1000, 1001, 1010, 1011, 1020, 3031})
CREDENTIAL_CODES = frozenset({1030, 2000, 2010, 2020})
NO_USAGE_CODE = 3030

_SEVERITY_NUMBERS = {0: "Info", 1: "Debug", 2: "Warning", 3: "Error", 4: "Fatal"}
_SECRET_PARAMETERS = re.compile(r"(?i)\b(api_key|apikey|requestor_id|customer_id)=([^&\s\"']+)")


def redact(text: str | None) -> str | None:
    """Hide credentials that providers echo back in messages (request URLs in `Data`)."""
    if text is None:
        return None
    return _SECRET_PARAMETERS.sub(lambda m: f"{m.group(1)}=***", text)


@dataclass(frozen=True)
class CounterException:
    code: int | None
    severity: str | None
    message: str
    data: str | None = None
    help_url: str | None = None

    @property
    def explanation(self) -> str:
        """A sentence a user can act on: the code, the provider's words, what it means."""
        name, meaning = EXPLANATIONS.get(self.code or 0, ("", ""))
        if self.code is None:
            meaning = "an exception without a code"
        elif self.code not in EXPLANATIONS:
            meaning = (
                "a provider-specific warning"
                if 1 <= self.code <= 999
                else "an exception code this client does not know"
            )
        said = self.message or name
        detail = f" ({self.data})" if self.data else ""
        return f"COUNTER exception {self.code} {said!r}{detail}: {meaning}"

    @property
    def is_failure(self) -> bool:
        return self.code in FAILURE_CODES


def _first(mapping: Mapping[str, Any], *names: str) -> Any:
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _code(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def looks_like_exception(value: Any) -> bool:
    return isinstance(value, Mapping) and (
        _first(value, "Code", "number") is not None and _first(value, "Message") is not None
    )


def normalise(raw: Mapping[str, Any]) -> CounterException:
    """One exception object in any of the shapes providers send."""
    severity = _first(raw, "Severity")
    if isinstance(severity, int) and not isinstance(severity, bool):
        severity = _SEVERITY_NUMBERS.get(severity, str(severity))
    return CounterException(
        code=_code(_first(raw, "Code", "number")),
        severity=_text(severity),
        message=redact(_text(_first(raw, "Message"))) or "",
        data=redact(_text(_first(raw, "Data"))),
        help_url=_text(_first(raw, "Help_URL")),
    )


class CounterReportError(UserError, ValueError):
    """A file or response that holds no usable COUNTER report; the message says why."""

    def __init__(self, message: str, exceptions: tuple[CounterException, ...] = ()) -> None:
        super().__init__(message)
        self.exceptions = exceptions

    @property
    def code(self) -> int | None:
        return self.exceptions[0].code if self.exceptions else None

    @property
    def retry_later(self) -> bool:
        return any(e.code in RETRY_LATER_CODES for e in self.exceptions)

    @property
    def invalid_credentials(self) -> bool:
        return any(e.code in CREDENTIAL_CODES for e in self.exceptions)


class CounterNoUsage(CounterReportError):
    """The provider says it has no usage for the period (3030) and sent no data."""


# Without usage rows, these mean the request failed; with rows they are kept as warnings.
NO_DATA_CODES = FAILURE_CODES | {NO_USAGE_CODE, 3031, 3032}


def blocks_empty_report(exceptions: tuple[CounterException, ...]) -> bool:
    """Whether a report without usage rows must fail rather than load as an empty report."""
    return any(
        e.code in NO_DATA_CODES or (e.severity or "").lower() in ("error", "fatal") for e in exceptions
    )


def failure_for(where: str, exceptions: tuple[CounterException, ...]) -> CounterReportError:
    """The error to raise when a report came with exceptions and without any usage."""
    ranked = sorted(exceptions, key=lambda e: (not e.is_failure, e.code != NO_USAGE_CODE))
    text = f"{where}: " + "; ".join(e.explanation for e in ranked)
    if not ranked[0].is_failure and any(e.code == NO_USAGE_CODE for e in ranked):
        return CounterNoUsage(text, tuple(ranked))
    return CounterReportError(text, tuple(ranked))
