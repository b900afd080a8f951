"""Evergreen's `action.circulation` table (`evergreen-circ`): one row per circulation, a renewal
being a new row whose `parent_circ` points at the circulation it renews.

Two ways out of Evergreen's PostgreSQL are read, told apart by the file itself:
- COPY text, as pg_dump writes it (`COPY action.circulation (id, usr, ...) FROM stdin;`, then
  tab-separated rows with `\\N` for null and backslash escapes, ended by `\\.`). Other tables'
  COPY blocks in the same dump are skipped. Rows without the COPY line (`\\copy ... to file`)
  are read in Evergreen's column order when they have exactly its 34 columns.
- CSV with a header row (`\\copy (select ...) to file csv header`); an empty field is null.

Columns are found by name, so a dump of another Evergreen version (columns added, reordered)
loads; one without a column this format needs is refused naming it. The borrower (`usr`) lands
only as a pseudonym; staff ids (`circ_staff`, `checkin_staff`) and workstations do not land.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.errors import ColumnsChanged
from ingest.model import ParseContext, ParsedItem, Rejected

# action.circulation as Evergreen 3.x defines it (the column order of a headerless dump).
EVERGREEN_COLUMNS = (
    "id",
    "usr",
    "xact_start",
    "xact_finish",
    "unrecovered",
    "target_copy",
    "circ_lib",
    "circ_staff",
    "checkin_staff",
    "checkin_lib",
    "renewal_remaining",
    "grace_period",
    "due_date",
    "stop_fines_time",
    "checkin_time",
    "create_time",
    "duration",
    "fine_interval",
    "recurring_fine",
    "max_fine",
    "phone_renewal",
    "desk_renewal",
    "opac_renewal",
    "duration_rule",
    "recurring_fine_rule",
    "max_fine_rule",
    "stop_fines",
    "workstation",
    "checkin_workstation",
    "copy_location",
    "checkin_scan_time",
    "auto_renewal",
    "auto_renewal_remaining",
    "parent_circ",
)
REQUIRED = ("id", "usr", "xact_start", "target_copy")
RENEWAL_FLAGS = ("desk_renewal", "phone_renewal", "opac_renewal", "auto_renewal")
STOP_FINES = {
    "CHECKIN",
    "CLAIMSRETURNED",
    "LOST",
    "MAXFINES",
    "RENEW",
    "LONGOVERDUE",
    "CLAIMSNEVERCHECKEDOUT",
}
BIGINT = (1, 2**63 - 1)
INTEGER = (-(2**31), 2**31 - 1)
_COPY_LINE = re.compile(r"^COPY\s+([\w.\"]+)\s*\(([^)]*)\)\s+FROM\s+stdin;\s*$", re.IGNORECASE)
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))")
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class _Bad(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _unescape(match: re.Match[str]) -> str:
    octal, hexa, char = match.groups()
    if octal is not None:
        return chr(int(octal, 8))
    if hexa is not None:
        return chr(int(hexa, 16))
    return _SIMPLE.get(char, char)


def copy_fields(line: str) -> list[str | None]:
    """One row of PostgreSQL COPY text: tab-separated, `\\N` null, backslash escapes."""
    return [None if f == "\\N" else _ESCAPE.sub(_unescape, f) if "\\" in f else f for f in line.split("\t")]


def _integer(record: dict[str, str | None], field: str, bounds: tuple[int, int], *, required: bool = False):
    text = (record.get(field) or "").strip()
    if not text:
        if required:
            raise _Bad(field, f"{field} is required")
        return None
    if not text.isascii() or not text.lstrip("-").isdigit():
        raise _Bad(field, f"expected a whole number, found {text[:40]!r}")
    number = int(text)
    if not bounds[0] <= number <= bounds[1]:
        raise _Bad(field, f"expected a number between {bounds[0]} and {bounds[1]}, found {text[:40]}")
    return number


def _instant(record: dict[str, str | None], field: str, *, required: bool = False) -> datetime | None:
    text = (record.get(field) or "").strip()
    if not text:
        if required:
            raise _Bad(field, f"{field} is required (when the circulation started)")
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(field, f"expected a timestamp like 2020-10-20 10:26:51-04, found {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise _Bad(field, f"timestamp {text!r} has no time-zone offset (Evergreen writes timestamptz)")
    return parsed


def _flag(record: dict[str, str | None], field: str) -> bool:
    return (record.get(field) or "").strip().lower() in ("t", "true", "1", "y", "yes")


def _text(record: dict[str, str | None], field: str) -> str | None:
    value = record.get(field)
    return value.strip() or None if value is not None else None


def _row(record: dict[str, str | None], ctx: ParseContext) -> tuple[Any, ...]:
    circ_id = _integer(record, "id", BIGINT, required=True)
    item = _text(record, "target_copy")
    if item is None:
        raise _Bad("target_copy", "target_copy (the item) is required")
    usr = _text(record, "usr")
    stop_fines = _text(record, "stop_fines")
    if stop_fines is not None and stop_fines.upper() not in STOP_FINES:
        raise _Bad(
            "stop_fines", f"expected one of {', '.join(sorted(STOP_FINES))}, found {stop_fines[:40]!r}"
        )
    renewal = next((f.removesuffix("_renewal") for f in RENEWAL_FLAGS if _flag(record, f)), None)
    return (
        circ_id,
        ctx.pseudonymiser.pseudonym("patron", usr),
        item,
        _text(record, "circ_lib"),
        _text(record, "checkin_lib"),
        _text(record, "copy_location"),
        _instant(record, "xact_start", required=True),
        _instant(record, "due_date"),
        _instant(record, "checkin_time"),
        _instant(record, "xact_finish"),
        stop_fines.upper() if stop_fines else None,
        _instant(record, "stop_fines_time"),
        _integer(record, "renewal_remaining", INTEGER),
        renewal,
        _text(record, "duration"),
        _integer(record, "parent_circ", BIGINT),
    )


def _check_columns(path: Path, columns: Sequence[str], line: int) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ColumnsChanged(
            f"{path}: line {line}: the columns lack {', '.join(missing)}; expected action.circulation's "
            f"columns ({', '.join(REQUIRED)} required), found {', '.join(columns)[:300]}"
        )


def _raw_text(fields: Sequence[str | None], columns: Sequence[str]) -> str:
    """The row for the quarantine, without the person ids it holds (borrower and staff)."""
    hidden = {"usr", "circ_staff", "checkin_staff"}
    return "\t".join(
        "(removed)" if name in hidden and value else ("\\N" if value is None else value)
        for name, value in zip(columns, fields, strict=False)
    )[:2000]


def _copy_rows(path: Path, ctx: ParseContext, handle: Any) -> Iterator[ParsedItem]:
    columns: list[str] | None = None
    inside = False  # inside the COPY block of action.circulation
    skipping = False  # inside another table's COPY block
    for line_no, line in enumerate(handle, start=1):
        line = line.rstrip("\n").removesuffix("\r")
        if skipping:
            skipping = line != "\\."
            continue
        if not inside:
            header = _COPY_LINE.match(line)
            if header:
                table = header[1].replace('"', "")
                names = [c.strip().strip('"') for c in header[2].split(",")]
                if table.split(".")[-1] != "circulation":
                    skipping = True
                    continue
                _check_columns(path, names, line_no)
                columns, inside = names, True
                continue
            if not line.strip() or line.startswith(("--", "SET ", "SELECT ", "set ", "select ")):
                continue
            if columns is None and line.count("\t") == len(EVERGREEN_COLUMNS) - 1:
                columns, inside = list(EVERGREEN_COLUMNS), True  # a headerless \copy of the table
            else:
                raise ColumnsChanged(
                    f"{path}: line {line_no}: expected a `COPY action.circulation (...) FROM stdin;` "
                    f"line, a CSV header, or rows of Evergreen's {len(EVERGREEN_COLUMNS)} columns; "
                    f"found {line[:80]!r}"
                )
        if line == "\\.":
            inside = False
            continue
        assert columns is not None
        fields = copy_fields(line)
        if len(fields) != len(columns):
            yield Rejected(
                line_no,
                "(line)",
                f"expected {len(columns)} tab-separated fields, found {len(fields)}",
                _raw_text(fields, columns),
            )
            continue
        record = dict(zip(columns, fields, strict=True))
        try:
            yield line_no, _row(record, ctx)
        except _Bad as bad:
            yield Rejected(line_no, bad.field, str(bad), _raw_text(fields, columns))


def _csv_rows(path: Path, ctx: ParseContext, handle: Any) -> Iterator[ParsedItem]:
    reader = csv.reader(handle)
    try:
        header = [c.strip().lower() for c in next(reader)]
    except (StopIteration, csv.Error) as err:
        raise ColumnsChanged(f"{path}: line 1: no CSV header ({err or 'empty file'})") from None
    _check_columns(path, header, 1)
    first = reader.line_num + 1
    while True:
        try:
            fields: list[str | None] = list(next(reader))
        except StopIteration:
            return
        except csv.Error as err:
            yield Rejected(first, "(line)", f"malformed CSV: {err}", "")
            first = reader.line_num + 1
            continue
        line_no, first = first, reader.line_num + 1
        if not any(fields):
            continue
        if len(fields) != len(header):
            yield Rejected(
                line_no,
                "(line)",
                f"expected {len(header)} fields, found {len(fields)}",
                _raw_text(fields, header),
            )
            continue
        record = dict(zip(header, (f if f != "" else None for f in fields), strict=True))
        try:
            yield line_no, _row(record, ctx)
        except _Bad as bad:
            yield Rejected(line_no, bad.field, str(bad), _raw_text(fields, header))


def parse_evergreen_circulations(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    with open(path, encoding="utf-8", errors="replace", newline="") as probe:
        start = ""
        for start in probe:
            if start.strip() and not start.startswith(("--", "SET ", "SELECT ", "set ", "select ")):
                break
    is_csv = not _COPY_LINE.match(start.rstrip("\r\n")) and "\t" not in start and "," in start
    with open(path, encoding="utf-8", errors="replace", newline="" if is_csv else "\n") as handle:
        yield from (_csv_rows if is_csv else _copy_rows)(path, ctx, handle)
