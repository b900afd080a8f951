"""Landing table for EZproxy request logs."""

from ingest.model import RawTable

EZPROXY_REQUESTS = RawTable(
    name="ezproxy_requests",
    description=(
        "One row per EZproxy log line. The login is pseudonymised (kind login); the client "
        "address is cut to its /24 (IPv4) or /48 (IPv6) network; the URL keeps host and path, "
        "never the query string."
    ),
    columns=(
        ("requested_at", "timestamptz not null"),
        ("login_key", "text"),  # pseudonym of %u (kind login); null when EZproxy wrote -
        ("client_network", "cidr"),  # /24 or /48 of the first %h address; null when no IP
        ("on_campus", "boolean"),  # from option campus_networks (full address); else null
        ("method", "text"),
        ("site_host", "text"),  # the remote (publisher) host, lower case, no port
        ("url_path", "text"),  # path only: query strings may carry search terms
        ("http_status", "smallint"),
        ("response_bytes", "bigint"),
        ("proxy_groups", "text"),  # %{ezproxy-groups}i, '+'-joined group names
    ),
)
