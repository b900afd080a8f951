"""Landing tables of the entrance gates: turnstile passages and people-counter figures."""

from ingest.model import RawTable

GATE_PASSAGES = RawTable(
    name="gate_passages",
    description=(
        "One row per card swipe at a turnstile, as exported (repeats and double swipes included). "
        "The card number lands only as a pseudonym; names in the export never land."
    ),
    columns=(
        ("card_key", "text"),  # pseudonym of the card number (kind card); null: denied, unreadable card
        ("gate", "text not null"),  # the turnstile's id, mapped to a site by the gate_devices seed
        ("direction", "text not null"),  # in | out
        ("result", "text not null"),  # granted | denied
        ("passed_at", "timestamptz not null"),
        # The period the file says it covers (from its name, e.g. swipes-2025-09-03.csv, or the
        # `period` option): [period_start, period_end). Null when the file does not say.
        ("period_start", "timestamptz"),
        ("period_end", "timestamptz"),
    ),
)

GATE_COUNTER_READINGS = RawTable(
    name="gate_counter_readings",
    description=(
        "Cumulative people-counter readings, one per counter and day (gateCounts-style exports). "
        "A reading that is not a number keeps its text and a status (missing, broken, closed)."
    ),
    columns=(
        ("counter_id", "text not null"),
        ("reading_date", "date not null"),
        ("reading", "bigint"),  # null when the export has no number for the day
        ("reading_status", "text not null"),  # ok | missing | broken | closed
        ("reading_text", "text"),  # the cell as written when it is not a number ('Gate broken')
        ("counter_max", "bigint"),  # option counter_max; null: the gate_devices seed or var says
        ("bidirectional", "boolean"),  # option bidirectional; null: the gate_devices seed says
    ),
    # A corrected re-export of a counter's days replaces the earlier readings of those days.
    replace_keys=("counter_id", "reading_date"),
)

GATE_COUNTER_INTERVALS = RawTable(
    name="gate_counter_intervals",
    description=(
        "People-counter counts per interval (device exports: two-block CSV in UTC, per-line sum "
        "columns in local time, or daily polled totals). A failed poll lands with null counts."
    ),
    columns=(
        ("counter_id", "text not null"),
        ("channel", "text"),  # the device's counting line (RuleName); null when the export has one
        ("layout", "text not null"),  # two-block | sum-columns | polled-totals
        ("interval_start", "timestamptz"),  # null for polled totals: they count since the last poll
        ("interval_end", "timestamptz not null"),
        ("count_in", "integer"),
        ("count_out", "integer"),
        ("record_id", "bigint"),  # the device's record number (wraps at 4294967295)
        ("interval_status", "text not null"),  # ok | failed (the poll or the device failed)
    ),
    replace_keys=("counter_id", "channel", "interval_end"),
)
