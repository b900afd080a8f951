"""counter source: COUNTER R5 / R5.1 usage reports, from files or harvested over SUSHI.

Both file formats land in raw.counter_usage; the exceptions a report carries go to
raw.counter_exceptions in the same transaction as the usage rows (the formats' after_load hook).
Format `sushi` harvests reports from a SUSHI server into the landing folder, then loads them.
"""

from ingest.counter import json_report, tsv
from ingest.counter.load import record_exceptions, sushi_fetch
from ingest.counter.tables import COUNTER_EXCEPTIONS, COUNTER_USAGE
from ingest.model import FetchStep, Format, Option, Parser, Source

CUSTOMER_ID = Option(
    "customer_id", "COUNTER customer id the reports belong to, when the report does not say."
)


def _report_format(name: str, parse: Parser, description: str, landing: str) -> Format:
    """A COUNTER report file: usage rows, and the report's exceptions in the same load."""
    return Format(
        source="counter",
        name=name,
        table=COUNTER_USAGE,
        parse=parse,
        description=description,
        options=(CUSTOMER_ID,),
        landing=(landing,),
        extra_tables=(COUNTER_EXCEPTIONS,),
        after_load=record_exceptions(name),
    )


COUNTER_JSON = _report_format(
    "counter-json",
    json_report.parse,
    "COUNTER R5 or R5.1 JSON report (a SUSHI response saved to a file)",
    "counter/*.json",
)
COUNTER_TSV = _report_format(
    "counter-tsv",
    tsv.parse,
    "COUNTER R5 or R5.1 tabular report (TSV, UTF-8 with or without BOM)",
    "counter/*.tsv",
)
COUNTER_CSV = Format(
    source="counter",
    name="counter-csv",
    table=COUNTER_USAGE,
    parse=tsv.parse,
    description="COUNTER R5 or R5.1 tabular report saved as CSV (as spreadsheets and celus write it)",
    options=(CUSTOMER_ID,),
    landing=("counter/*.csv",),
    extra_tables=(COUNTER_EXCEPTIONS,),
    after_load=record_exceptions("counter-csv"),
)
SUSHI = Format(
    source="counter",
    name="sushi",
    table=COUNTER_USAGE,
    parse=json_report.parse,
    description="harvest over SUSHI (give the server's base URL), then load as counter-json",
    options=(
        Option("platform", "SUSHI: platform name to harvest."),
        Option("report", "SUSHI: report ids (repeatable).", multiple=True, default=("TR", "DR", "PR", "IR")),
        Option("begin", "SUSHI: first month, YYYY-MM."),
        Option("end", "SUSHI: last month, YYYY-MM (default: begin)."),
        Option(
            "credentials_prefix",
            "SUSHI: prefix of the credential variables (<prefix>CUSTOMER_ID, REQUESTOR_ID, API_KEY).",
            default="URM_SUSHI_",
        ),
    ),
    fetch=FetchStep(sushi_fetch, loads_as="counter-json", target_help="SUSHI server base URL."),
)

SOURCES = [
    Source(
        "counter",
        "Publishers' COUNTER usage reports (R5, R5.1), from files or over SUSHI.",
        (COUNTER_JSON, COUNTER_TSV, COUNTER_CSV, SUSHI),
    )
]
