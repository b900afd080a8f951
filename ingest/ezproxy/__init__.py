"""EZproxy source: request logs in any Apache-style LogFormat (option `log_format`)."""

from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT
from ingest.ezproxy.parser import ezproxy_line_parser, parse_ezproxy_log
from ingest.ezproxy.tables import EZPROXY_REQUESTS
from ingest.model import Format

__all__ = ["DEFAULT_LOG_FORMAT", "EZPROXY_REQUESTS", "FORMATS"]

FORMATS: list[Format] = [
    Format(
        source="ezproxy",
        name="ezproxy-log",
        table=EZPROXY_REQUESTS,
        parse=parse_ezproxy_log,
        line_parser=ezproxy_line_parser,
        description=(
            "EZproxy request log, plain or gzip; option log_format is the LogFormat EZproxy was "
            f"configured with (default {DEFAULT_LOG_FORMAT!r})."
        ),
    )
]
