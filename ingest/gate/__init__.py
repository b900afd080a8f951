"""Gate source: card-swipe turnstiles (who comes, when, for how long) and people counters (how
many come, identifying nobody)."""

from ingest.gate.counters import DEFAULT_INTERVAL_MINUTES, parse_counter_cumulative, parse_counter_interval
from ingest.gate.tables import GATE_COUNTER_INTERVALS, GATE_COUNTER_READINGS, GATE_PASSAGES
from ingest.gate.textfile import DEFAULT_TIMEZONE
from ingest.gate.turnstile import parse_turnstile_csv, parse_turnstile_jsonl
from ingest.gate.turnstile_copy import turnstile_csv_copy
from ingest.model import Format, Option, Source

ENCODING = Option("encoding", "CSV encoding: auto, utf-8 or gb18030.", default="auto")
TIMEZONE = Option(
    "timezone",
    "Time zone of the export's local times (times with an offset keep theirs).",
    default=DEFAULT_TIMEZONE,
    env="URM_LIBRARY_TIMEZONE",
)
COLUMNS = Option(
    "columns",
    "Map another vendor's header: card_number=CardNo,gate=Door,direction=InOut,passed_at=Time,result=Status.",
)
PERIOD = Option(
    "period",
    "Day or month the file covers (YYYY-MM-DD or YYYY-MM; none to check nothing). Default: a date in "
    "the file name.",
)
COUNTER = Option("counter", "Counter id (default: the device named in the file, else the file name).")

TURNSTILE_CSV = Format(
    "gate",
    "turnstile-csv",
    GATE_PASSAGES,
    parse_turnstile_csv,
    "Card swipes: card_number,gate,direction,passed_at,result, or the Chinese 卡号,姓名,通道,方向,时间,结果 "
    "(UTF-8 or GB18030)",
    options=(ENCODING, TIMEZONE, COLUMNS, PERIOD),
    landing=("gate/swipes/*.csv",),
    identifier_fields=("card_number", "卡号", "姓名"),
    copy_parser=turnstile_csv_copy,
)
TURNSTILE_JSONL = Format(
    "gate",
    "turnstile-jsonl",
    GATE_PASSAGES,
    parse_turnstile_jsonl,
    "Card swipes, one JSON object a line with the fields of turnstile-csv",
    options=(TIMEZONE, COLUMNS, PERIOD),
    landing=("gate/swipes/*.jsonl",),
    identifier_fields=("card_number", "卡号", "姓名"),
)
COUNTER_CUMULATIVE = Format(
    "gate",
    "counter-cumulative-csv",
    GATE_COUNTER_READINGS,
    parse_counter_cumulative,
    "Cumulative daily people-counter readings: dates,counts (NA, Gate broken, Gate Closed)",
    options=(
        ENCODING,
        COUNTER,
        Option(
            "counter_max",
            "The counter's maximum, after which it rolls over (default: the gate_devices seed).",
        ),
        Option(
            "bidirectional", "The gate counts each visitor twice, in and out (default: the seed).", type=bool
        ),
    ),
    landing=("gate/counters/cumulative/*.csv",),
)
COUNTER_INTERVAL = Format(
    "gate",
    "counter-interval-csv",
    GATE_COUNTER_INTERVALS,
    parse_counter_interval,
    "People-counter counts per interval: two-block (UTC), _SUM_IN/_SUM_OUT (local) or daily polled totals",
    options=(
        ENCODING,
        TIMEZONE,
        COUNTER,
        Option(
            "interval_minutes",
            f"Length of an interval in the _SUM_IN/_SUM_OUT layout (default {DEFAULT_INTERVAL_MINUTES}).",
            type=int,
        ),
    ),
    landing=("gate/counters/interval/*.csv",),
)

SOURCES = [
    Source(
        "gate",
        "The entrance gates: card-swipe turnstiles and people counters.",
        (TURNSTILE_CSV, TURNSTILE_JSONL, COUNTER_CUMULATIVE, COUNTER_INTERVAL),
    )
]
