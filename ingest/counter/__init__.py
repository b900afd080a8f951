"""counter source: COUNTER R5 / R5.1 usage reports, from files or harvested over SUSHI.

Both formats land in raw.counter_usage; the exceptions a report carries go to
raw.counter_exceptions in the same transaction as the usage rows (the formats' after_load hook).
"""

from ingest.counter import json_report, tsv
from ingest.counter.load import record_exceptions
from ingest.counter.tables import COUNTER_EXCEPTIONS, COUNTER_USAGE
from ingest.model import Format

FORMATS: list[Format] = [
    Format(
        source="counter",
        name="counter-json",
        table=COUNTER_USAGE,
        parse=json_report.parse,
        description="COUNTER R5 or R5.1 JSON report (a SUSHI response saved to a file)",
        after_load=record_exceptions("counter-json"),
    ),
    Format(
        source="counter",
        name="counter-tsv",
        table=COUNTER_USAGE,
        parse=tsv.parse,
        description="COUNTER R5 or R5.1 tabular report (TSV, UTF-8 with or without BOM)",
        after_load=record_exceptions("counter-tsv"),
    ),
]

EXTRA_TABLES = [COUNTER_EXCEPTIONS]
