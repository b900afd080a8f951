"""EZproxy source: request logs in any Apache-style LogFormat (option `log_format`)."""

import json
from pathlib import Path
from typing import Any

from ingest.ezproxy.blocks import ezproxy_block_parser
from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT
from ingest.ezproxy.parser import ezproxy_line_parser, parse_ezproxy_log
from ingest.ezproxy.tables import EZPROXY_REQUESTS
from ingest.model import Format, Option, Source

__all__ = ["DEFAULT_LOG_FORMAT", "EZPROXY_REQUESTS", "SOURCES"]


def site_log_format(root: Path, path: Path) -> dict[str, Any]:
    """Each site's logs sit in ezproxy/<site>/; ezproxy/logformats.json maps a site to the
    LogFormat its EZproxy was configured with."""
    formats_file = root / "ezproxy" / "logformats.json"
    if not formats_file.exists():
        return {}
    site = path.relative_to(root / "ezproxy").parts[0]
    found = json.loads(formats_file.read_text()).get(site)
    return {"log_format": found} if found else {}


EZPROXY_LOG = Format(
    source="ezproxy",
    name="ezproxy-log",
    table=EZPROXY_REQUESTS,
    parse=parse_ezproxy_log,
    line_parser=ezproxy_line_parser,
    block_parser=ezproxy_block_parser,
    description=(
        "EZproxy request log, plain or gzip; option log_format is the LogFormat EZproxy was "
        f"configured with (default {DEFAULT_LOG_FORMAT!r})."
    ),
    options=(
        Option("log_format", f"EZproxy LogFormat, default '{DEFAULT_LOG_FORMAT}'."),
        Option(
            "campus_networks",
            "Comma-separated CIDR ranges counted as on campus.",
            env="URM_CAMPUS_NETWORKS",
        ),
    ),
    landing=("ezproxy/*/*.log*",),
    landing_options=site_log_format,
    identifier_fields=("%u", "%h", "%{ezproxy-session}i", "%{session}i"),
    append_only=True,
)

SOURCES = [
    Source("ezproxy", "The e-resource proxy's request logs.", (EZPROXY_LOG,)),
]
