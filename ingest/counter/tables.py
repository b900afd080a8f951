"""The landing tables of COUNTER usage and of the exceptions that reports carry."""

from __future__ import annotations

from ingest.model import RawTable

# One row per (report, item/title/database/platform, attribute values, metric type, month).
COUNTER_USAGE = RawTable(
    name="counter_usage",
    columns=(
        ("report_id", "text not null"),
        ("release", "text not null"),
        ("platform", "text"),
        ("publisher", "text"),
        ("item_name", "text"),
        ("item_kind", "text not null"),
        ("parent_title", "text"),
        ("doi", "text"),
        ("isbn", "text"),
        ("print_issn", "text"),
        ("online_issn", "text"),
        ("proprietary_id", "text"),
        ("uri", "text"),
        ("data_type", "text"),
        ("section_type", "text"),
        ("yop", "integer"),
        ("access_type", "text"),
        ("access_method", "text"),
        ("metric_type", "text not null"),
        ("month", "date not null"),
        ("count", "bigint not null"),
        ("customer_id", "text"),
        ("institution_name", "text"),
        ("created", "timestamptz"),
        ("created_by", "text"),
        ("period_begin", "date"),
        ("period_end", "date"),
    ),
    description=(
        "COUNTER R5/R5.1 usage, one row per report, item, attributes, metric type and month. "
        "source_line is the line of the row in a TSV file and the 1-based position of the report "
        "item in a JSON file."
    ),
    # A re-harvested month replaces the figures of the same report, platform and customer instead
    # of adding to them. The report id keeps standard views (TR_J1...) apart from master reports.
    replace_keys=("report_id", "platform", "customer_id", "month"),
)

COLUMN_NAMES = COUNTER_USAGE.column_names

# Exceptions (errors, warnings, notes) found in a loaded report, keyed by the load's batch id.
COUNTER_EXCEPTIONS = RawTable(
    name="counter_exceptions",
    columns=(
        ("report_id", "text"),
        ("release", "text"),
        ("customer_id", "text"),
        ("period_begin", "date"),
        ("period_end", "date"),
        ("code", "integer"),
        ("severity", "text"),
        ("message", "text"),
        ("data", "text"),
        ("help_url", "text"),
        ("explanation", "text not null"),
    ),
    description="COUNTER exceptions carried by loaded reports (warnings kept with their data).",
)
