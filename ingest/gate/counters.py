'''People counters, which identify nobody: cumulative readings and interval counts.

`counter-cumulative-csv`: one reading a day of a counter that only ever goes up (until it rolls
over at its maximum), as in the gateCounts package: `dates,counts`, dates such as `01-Sep-21` or
`01-01-2022`, and for a day without a number `NA`, `Gate broken` or `"""Gate Closed"""`. Numbers
may be written as R writes them (`2e+05`). Turning readings into visitors (rollover, reset, gaps,
the bidirectional gate) is the warehouse's job (dbt), so that the rules are in one place.

`counter-interval-csv`: counts per interval, in one of three layouts recognised by their header:
- two-block: a device block of `key,value` lines (`Device Name,North entrance`...), then
  `RuleName,In,Out,StartTime,EndTime` rows with times in UTC;
- sum-columns: one line per interval with `..._SUM_IN` and `..._SUM_OUT` columns, the interval's
  start in local time (`DateTime`, or `Date` and `Time`), a record id that wraps at 4294967295 and
  per-channel columns that are ignored; the interval lasts `--interval-minutes` (default 60)
  unless an `EndTime` column says;
- polled-totals: a daily poll of the counter's total (Edmonton Public Library's `lands` table:
  `Id,DateTime,Branch,Total,Comment`), `-1` when the poll failed; a total counts the visitors since
  the previous poll.
'''

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.gate.textfile import (
    BadField,
    GateFileError,
    Line,
    bool_option,
    csv_lines,
    int_option,
    parse_day,
    parse_time,
    zone_option,
)
from ingest.model import ParseContext, ParsedItem, Rejected

MISSING_MARKERS = {"", "na", "n/a", "nan", "null", "none", "-", "missing"}
RECORD_ID_MAX = 4294967295
TWO_BLOCK_HEADER = ("rulename", "in", "out", "starttime", "endtime")
POLLED_HEADER = ("id", "datetime", "branch", "total")
DEVICE_KEYS = ("device name", "devicename", "device id", "deviceid", "device", "serial number", "serial no")
DEFAULT_INTERVAL_MINUTES = 60


def _whole_number(text: str, field: str) -> int:
    """A count as exports write it: `9816`, `9,816`, `2e+05` (R's scientific notation)."""
    cleaned = text.strip().strip('"').replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        raise BadField(field, f"expected a whole number, found {text!r}") from None
    if not math.isfinite(value) or value != int(value):
        raise BadField(field, f"expected a whole number, found {text!r}")
    return int(value)


def _reading_status(text: str) -> str | None:
    """The status of a reading that is not a number, or None when the text means nothing known."""
    marker = text.strip().strip('"').strip().lower()
    if marker in MISSING_MARKERS:
        return "missing"
    if "broken" in marker or "fault" in marker or "error" in marker:
        return "broken"
    if "closed" in marker:
        return "closed"
    return None


def parse_counter_cumulative(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    counter = str(ctx.options.get("counter") or path.stem).strip()
    counter_max = int_option(ctx.options, "counter_max")
    bidirectional = bool_option(ctx.options, "bidirectional")
    columns: tuple[int, int] | None = None
    for line in csv_lines(path, ctx.options.get("encoding")):
        raw = ",".join(line.fields) if line.fields is not None else ""
        if line.fields is None:
            if columns is None:
                raise GateFileError(f"{path}: line {line.number}: the header cannot be read ({line.problem})")
            yield Rejected(line.number, line.problem_field, line.problem or "", raw)
            continue
        if columns is None:
            columns = _cumulative_columns(line, path)
            if columns != (-1, -1):
                continue
            columns = (0, 1)  # no header: the first line is a reading
        date_at, value_at = columns
        if len(line.fields) <= max(date_at, value_at):
            yield Rejected(line.number, "(line)", "expected a date and a reading on the line", raw)
            continue
        try:
            day = parse_day(line.fields[date_at])
        except ValueError as err:
            yield Rejected(line.number, "date", str(err), raw)
            continue
        text = line.fields[value_at]
        status = _reading_status(text)
        if status is not None:
            yield (
                line.number,
                (counter, day, None, status, text.strip().strip('"') or None, counter_max, bidirectional),
            )
            continue
        try:
            reading = _whole_number(text, "count")
            if reading < 0:
                raise BadField("count", f"a cumulative reading cannot be negative, found {reading}")
            if counter_max is not None and reading > counter_max:
                raise BadField(
                    "count",
                    f"{reading} is above the counter's maximum {counter_max}: "
                    "check --counter-max or the reading",
                )
        except BadField as bad:
            yield Rejected(
                line.number,
                bad.field,
                f"{bad} (a day without a number may say NA, Gate broken or Gate Closed)",
                raw,
            )
            continue
        yield line.number, (counter, day, reading, "ok", None, counter_max, bidirectional)


def _cumulative_columns(line: Line, path: Path) -> tuple[int, int]:
    """(date column, reading column) from the header; (-1, -1) when the first line is data."""
    names = [f.strip().strip('"').lower() for f in line.fields or []]
    dates = [i for i, n in enumerate(names) if "date" in n or n in ("day", "日期")]
    values = [
        i for i, n in enumerate(names) if "count" in n or "reading" in n or n in ("计数", "读数", "value")
    ]
    if dates and values:
        return dates[0], values[0]
    if len(names) >= 2:
        try:
            parse_day(names[0])
            return -1, -1
        except ValueError:
            pass
    raise GateFileError(
        f"{path}: line {line.number}: expected a header with a date and a count column (as "
        f"gateCounts' dates,counts), found {','.join(names)}"
    )


def parse_counter_interval(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    zone = zone_option(ctx.options)
    minutes = int_option(ctx.options, "interval_minutes") or DEFAULT_INTERVAL_MINUTES
    counter_option = str(ctx.options.get("counter") or "").strip() or None
    device: dict[str, str] = {}
    layout: str | None = None
    positions: dict[str, int] = {}
    width = 0
    for line in csv_lines(path, ctx.options.get("encoding")):
        raw = ",".join(line.fields) if line.fields is not None else ""
        if line.fields is None:
            if layout is None:
                raise GateFileError(f"{path}: line {line.number}: cannot be read ({line.problem})")
            yield Rejected(line.number, line.problem_field, line.problem or "", raw)
            continue
        if layout is None:
            names = [f.strip().lower() for f in line.fields]
            found = _interval_layout(names)
            if found is None:
                if len(line.fields) >= 2 and line.fields[0].strip():
                    device[line.fields[0].strip().lower()] = line.fields[1].strip()
                    continue  # a line of the device block before the table
                raise GateFileError(
                    f"{path}: line {line.number}: no counter table header found; expected "
                    "RuleName,In,Out,StartTime,EndTime (after the device block), a header with "
                    "_SUM_IN and _SUM_OUT columns, or Id,DateTime,Branch,Total,Comment"
                )
            layout, positions = found
            width = len(line.fields)
            continue
        if len(line.fields) < width:
            yield Rejected(
                line.number,
                "(line)",
                f"expected {width} fields as in the header, found {len(line.fields)}",
                raw,
            )
            continue
        fields = line.fields
        try:
            if layout == "two-block":
                row = _two_block_row(fields, positions, counter_option or _device_name(device) or path.stem)
            elif layout == "sum-columns":
                row = _sum_columns_row(fields, positions, counter_option, path.stem, zone, minutes)
            else:
                row = _polled_row(fields, positions, counter_option, zone)
        except BadField as bad:
            yield Rejected(line.number, bad.field, str(bad), raw)
            continue
        yield line.number, row
    if layout is None and device:  # only "device block" lines: the table's header was never found
        raise GateFileError(
            f"{path}: no counter table header found in {len(device)} lines; expected "
            "RuleName,In,Out,StartTime,EndTime (after the device block), a header with "
            "_SUM_IN and _SUM_OUT columns, or Id,DateTime,Branch,Total,Comment"
        )


def _device_name(device: dict[str, str]) -> str | None:
    return next((device[k] for k in DEVICE_KEYS if device.get(k)), None)


def _interval_layout(names: list[str]) -> tuple[str, dict[str, int]] | None:
    compact = [re.sub(r"[\s_]", "", n) for n in names]
    if all(c in compact for c in TWO_BLOCK_HEADER):
        return "two-block", {c: compact.index(c) for c in TWO_BLOCK_HEADER}
    sum_in = [i for i, n in enumerate(names) if n.endswith("_sum_in")]
    sum_out = [i for i, n in enumerate(names) if n.endswith("_sum_out")]
    if sum_in and sum_out:
        found = {"in": sum_in[0], "out": sum_out[0]}
        for key, candidates in (
            ("datetime", ("datetime", "timestamp", "starttime", "time_start")),
            ("date", ("date",)),
            ("time", ("time",)),
            ("end", ("endtime", "end_time", "time_end")),
            ("record", ("recordid", "record_id", "record", "recno", "id", "index")),
            ("device", ("deviceid", "device_id", "device", "serialno", "serial")),
        ):
            at = next((names.index(c) for c in candidates if c in names), None)
            if at is not None:
                found[key] = at
        if "datetime" not in found and not ("date" in found and "time" in found):
            return None
        return "sum-columns", found
    if all(c in names for c in POLLED_HEADER):
        return "polled-totals", {c: names.index(c) for c in POLLED_HEADER}
    return None


def _count(text: str, field: str) -> int:
    value = _whole_number(text, field)
    if value < 0:
        raise BadField(field, f"a count cannot be negative, found {value}")
    return value


def _time(text: str, field: str, zone: Any) -> datetime:
    try:
        return parse_time(text, zone)
    except ValueError as err:
        raise BadField(field, str(err)) from None


def _two_block_row(fields: list[str], at: dict[str, int], counter: str) -> tuple[Any, ...]:
    start = _time(fields[at["starttime"]], "StartTime", None)  # the device writes UTC
    end = _time(fields[at["endtime"]], "EndTime", None)
    if end <= start:
        raise BadField("EndTime", f"the interval ends ({fields[at['endtime']]}) before it starts")
    return (
        counter,
        fields[at["rulename"]].strip() or None,
        "two-block",
        start,
        end,
        _count(fields[at["in"]], "In"),
        _count(fields[at["out"]], "Out"),
        None,
        "ok",
    )


def _sum_columns_row(
    fields: list[str], at: dict[str, int], counter: str | None, stem: str, zone: Any, minutes: int
) -> tuple[Any, ...]:
    if "datetime" in at:
        start = _time(fields[at["datetime"]], "DateTime", zone)
    else:
        start = _time(f"{fields[at['date']].strip()} {fields[at['time']].strip()}", "Date/Time", zone)
    end = _time(fields[at["end"]], "EndTime", zone) if "end" in at else start + timedelta(minutes=minutes)
    if end <= start:
        raise BadField("EndTime", "the interval ends before it starts")
    record = None
    if "record" in at and fields[at["record"]].strip():
        record = _whole_number(fields[at["record"]], "RecordID")
        if not 0 <= record <= RECORD_ID_MAX:
            raise BadField("RecordID", f"a record id lies between 0 and {RECORD_ID_MAX}, found {record}")
    if counter is None:
        counter = (fields[at["device"]].strip() if "device" in at else "") or stem
    return (
        counter,
        None,
        "sum-columns",
        start,
        end,
        _count(fields[at["in"]], "_SUM_IN"),
        _count(fields[at["out"]], "_SUM_OUT"),
        record,
        "ok",
    )


def _polled_row(fields: list[str], at: dict[str, int], counter: str | None, zone: Any) -> tuple[Any, ...]:
    polled = _time(fields[at["datetime"]], "DateTime", zone)
    branch = fields[at["branch"]].strip()
    if not (counter or branch):
        raise BadField("Branch", "the branch (the counter) is required")
    total = _whole_number(fields[at["total"]], "Total")
    if total < -1:
        raise BadField("Total", f"a total is a count, or -1 for a failed poll; found {total}")
    record = _whole_number(fields[at["id"]], "Id") if fields[at["id"]].strip() else None
    failed = total == -1
    return (
        counter or branch,
        None,
        "polled-totals",
        None,
        polled,
        None if failed else total,
        None,
        record,
        "failed" if failed else "ok",
    )
