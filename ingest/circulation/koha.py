"""Koha CSV exports: the `statistics` table (`koha-csv`) and the `items` table (`koha-items-csv`).

Koha's own column names are the header, and fields are found by name: new columns are
ignored, reordered ones are fine, and a renamed one is refused naming the columns. Files come as
UTF-8 or GB18030 (Windows exports in Chinese libraries); `encoding` auto-detects per file from
its first block. The file is read line by line as bytes so that a line in the wrong encoding,
a stray quote or a missing field costs that record only; lines are then joined into CSV records
(a quoted field may hold line breaks), and every rejected row names its record's first line.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ingest.errors import ColumnsChanged
from ingest.model import ParseContext, ParsedItem, Rejected
from ingest.values import parse_decimal, parse_local_datetime

STATISTICS_COLUMNS = (
    "datetime",
    "branch",
    "value",
    "type",
    "other",
    "itemnumber",
    "itemtype",
    "location",
    "borrowernumber",
    "ccode",
    "categorycode",
    "interface",
)
EVENT_TYPES = {
    "issue",
    "return",
    "renew",
    "localuse",
    "writeoff",
    "payment",
    "onsite_checkout",
    "recall",
    "item_found",
    "item_lost",
}
ITEM_EVENTS = {"issue", "return", "renew", "localuse", "onsite_checkout", "recall"}
ITEMS_REQUIRED = ("itemnumber",)
DEFAULT_TIMEZONE = "Asia/Shanghai"
# A quoted field may span lines; one still open after this many lines is a stray quote.
MAX_RECORD_LINES = 50


class _Bad(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def detect_encoding(path: Path, requested: str = "auto") -> str:
    if requested and requested != "auto":
        codecs.lookup(requested)  # fails early on a misspelt name
        return requested
    with open(path, "rb") as handle:
        block = handle.read(1 << 20)
    if block.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    # Vote line by line over the first block: GB18030 text is almost never valid UTF-8, so the
    # encoding most non-ASCII lines decode in wins, and a stray line in the other one is rejected.
    lines = block.split(b"\n")[:-1] or [block]
    whole = block[: block.rfind(b"\n")] if len(lines) > 1 or block.endswith(b"\n") else block
    if whole.isascii():  # no line votes (a daily gate export): the vote's answer without the loop
        return "utf-8"
    try:
        whole.decode("utf-8")
        return "utf-8"  # every line decodes: utf-8 has all the votes
    except UnicodeDecodeError:
        pass
    utf8_lines = other_lines = 0
    for raw in lines:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8_lines += 1
        except UnicodeDecodeError:
            other_lines += 1
    return "utf-8" if utf8_lines >= other_lines else "gb18030"


def _quote_open(text: str, in_quote: bool) -> bool:
    """Whether a CSV record is inside a quoted field at the end of `text`, given whether it was at
    its start. Excel's rules, as the csv module reads them: a quote opens a field only at the
    field's start, and a doubled quote inside one is a quote."""
    if '"' not in text:
        return in_quote
    at_field_start = not in_quote
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        if in_quote:
            if char == '"':
                if i + 1 < end and text[i + 1] == '"':
                    i += 1
                else:
                    in_quote = False
        elif char == '"' and at_field_start:
            in_quote = True
        at_field_start = not in_quote and char == ","
        i += 1
    return in_quote


def _decoded_lines(path: Path, encoding: str) -> Iterator[tuple[int, str | Rejected]]:
    """(line number, text) of each physical line, or a Rejected naming the undecodable byte."""
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            yield line_no, decode_line(line_no, raw, encoding)


def decode_line(line_no: int, raw: bytes, encoding: str) -> str | Rejected:
    """One physical line (with or without its line end) as _decoded_lines reads it."""
    raw = raw.rstrip(b"\r\n")
    if line_no == 1 and encoding == "utf-8-sig":
        raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8" if encoding == "utf-8-sig" else encoding)
    except UnicodeDecodeError as err:
        shown = raw.decode(encoding, errors="replace")
        other = "GB18030" if encoding.startswith("utf") else "UTF-8"
        return Rejected(
            line_no,
            "(encoding)",
            f"not valid {encoding} at byte {err.start + 1} (the file was read as "
            f"{encoding}; this line may have been written as {other})",
            shown,
        )


def _records(path: Path, encoding: str) -> Iterator[tuple[int, list[str] | Rejected, str]]:
    """CSV records as (first line, text lines, raw text), or a Rejected for a record that cannot
    be read. A record is one line unless a quoted field spans line breaks."""
    return records_of(_decoded_lines(path, encoding))


def records_of(
    lines: Iterator[tuple[int, str | Rejected]],
) -> Iterator[tuple[int, list[str] | Rejected, str]]:
    """The records of _records from numbered decoded lines (from the file's start, or from a line
    that starts a record)."""
    pushed_back: list[tuple[int, str | Rejected]] = []
    pending: list[tuple[int, str]] = []
    in_quote = False

    def unclosed() -> Rejected:
        first, text = pending[0]
        return Rejected(
            first,
            "(line)",
            f"a quoted field opened on line {first} is not closed within {len(pending)} lines "
            "(a stray quote?)",
            text,
        )

    while True:
        if pushed_back:
            line_no, text = pushed_back.pop()
        else:
            try:
                line_no, text = next(lines)
            except StopIteration:
                if not pending:
                    return
                # end of file inside a quoted field: the quote was stray; its line goes to
                # quarantine and the lines after it are read again as records of their own
                yield pending[0][0], unclosed(), pending[0][1]
                pushed_back.extend(reversed(pending[1:]))
                pending, in_quote = [], False
                continue
        if isinstance(text, Rejected):
            if pending:  # a line of a multi-line record is in the wrong encoding: the record goes
                first = pending[0][0]
                yield first, Rejected(first, text.field, f"line {line_no}: {text.reason}", text.raw), text.raw
                pending, in_quote = [], False
            else:
                yield line_no, text, text.raw
            continue
        if not pending and not text.strip():
            continue
        pending.append((line_no, text))
        in_quote = _quote_open(text, in_quote)
        if in_quote and len(pending) < MAX_RECORD_LINES:
            continue
        if in_quote:
            yield pending[0][0], unclosed(), pending[0][1]
            pushed_back.extend(reversed(pending[1:]))
            pending, in_quote = [], False
            continue
        yield pending[0][0], [t for _, t in pending], "\n".join(t for _, t in pending)
        pending = []


class KohaCsv:
    """The records of one Koha CSV export in file order: the header, then a row or a Rejected for
    each record (shared by _rows and the COPY-text path, ingest.circulation.koha_copy)."""

    def __init__(
        self,
        path: Path,
        required: tuple[str, ...],
        build: Callable[[dict[str, str]], tuple[Any, ...]],
        known: tuple[str, ...] = (),
    ) -> None:
        self.path, self.required, self.build, self.known = path, required, build, known
        self.header: list[str] | None = None

    def item(self, line_no: int, record: list[str] | Rejected, text: str) -> ParsedItem | None:
        """The record's row or Rejected; None for the header."""
        if isinstance(record, Rejected):
            if self.header is None:
                raise ColumnsChanged(
                    f"{self.path}: line {line_no}: the header cannot be read: {record.reason}"
                )
            return record
        try:
            fields = next(csv.reader([line + "\n" for line in record], strict=True))
        except csv.Error as err:
            return Rejected(line_no, "(line)", f"malformed CSV: {err} (a stray quote?)", text)
        if self.header is None:
            self.header = [f.strip().lower() for f in fields]
            check_header(self.path, self.header, self.required, self.known)
            return None
        if len(fields) != len(self.header):
            return Rejected(
                line_no,
                "(line)",
                f"expected {len(self.header)} fields as in the header, found {len(fields)} "
                "(a stray delimiter or quote?)",
                text,
            )
        row = dict(zip(self.header, fields, strict=True))
        try:
            return line_no, self.build(row)
        except _Bad as bad:
            return Rejected(line_no, bad.field, str(bad), text)


def check_header(path: Path, header: list[str], required: tuple[str, ...], known: tuple[str, ...]) -> None:
    """Refuse a header that lacks a required column, or lacks a known one while bringing an
    unknown one (a renamed column, whose values would otherwise silently go missing)."""
    missing = [c for c in required if c not in header]
    # Only for tables whose columns Koha fixes (statistics); an items export picks its own.
    absent = [c for c in known if c not in header and c not in required]
    unknown = [c for c in header if known and c not in known]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ColumnsChanged(f"{path}: line 1: the header names {', '.join(duplicated)} more than once")
    if missing or (absent and unknown):
        lacking = ", ".join(missing + absent)
        raise ColumnsChanged(
            f"{path}: line 1: the header lacks {lacking} and has {', '.join(unknown) or 'no other column'}; "
            f"expected Koha's column names ({', '.join(known or required)}; {', '.join(required)} required). "
            "If a column was renamed, export it under Koha's name"
        )


def _rows(
    path: Path,
    ctx: ParseContext,
    required: tuple[str, ...],
    build: Callable[[dict[str, str]], tuple[Any, ...]],
    known: tuple[str, ...] = (),
) -> Iterator[ParsedItem]:
    encoding = detect_encoding(path, str(ctx.options.get("encoding") or "auto"))
    reader = KohaCsv(path, required, build, known)
    for line_no, record, text in _records(path, encoding):
        item = reader.item(line_no, record, text)
        if item is not None:
            yield item


STATISTICS_REQUIRED = ("datetime", "type", "itemnumber", "borrowernumber")


def parse_koha_statistics(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    return _rows(path, ctx, STATISTICS_REQUIRED, statistics_builder(ctx), STATISTICS_COLUMNS)


def statistics_builder(ctx: ParseContext) -> Callable[[dict[str, str]], tuple[Any, ...]]:
    """build(record) -> the landing row of one statistics record (raises _Bad)."""
    zone = statistics_zone(ctx)
    pseudonym = ctx.pseudonymiser.pseudonym

    def build(record: dict[str, str]) -> tuple[Any, ...]:
        event_type = record["type"].strip().lower()
        if event_type not in EVENT_TYPES:
            raise _Bad(
                "type",
                f"expected one of {', '.join(sorted(EVENT_TYPES))}, found {record['type']!r}",
            )
        when = record["datetime"].strip()
        try:
            event_at = parse_local_datetime(when, zone) if when and when.upper() != "NULL" else None
        except ValueError as err:
            raise _Bad("datetime", str(err)) from None
        item = record["itemnumber"].strip() or None
        if item is None and event_type in ITEM_EVENTS:
            raise _Bad("itemnumber", f"a {event_type} event needs the item number, found none")
        try:
            value = parse_decimal(record.get("value", ""))
        except ValueError as err:
            raise _Bad("value", str(err)) from None
        borrower = record["borrowernumber"].strip()
        # Optional: exports that name the card the loan was made on (a report joining the card,
        # or an ILS that identifies readers by card). A replaced card still resolves to its person.
        card = (record.get("cardnumber") or "").strip()
        return (
            event_at,
            record.get("branch") or None,
            value,
            event_type,
            record.get("other") or None,
            item,
            record.get("itemtype") or None,
            record.get("location") or None,
            pseudonym("patron", borrower if borrower.upper() != "NULL" else None),
            record.get("ccode") or None,
            record.get("categorycode") or None,
            record.get("interface") or None,
            pseudonym("card", card if card.upper() != "NULL" else None),
        )

    return build


def statistics_zone(ctx: ParseContext) -> ZoneInfo:
    return ZoneInfo(str(ctx.options.get("timezone") or DEFAULT_TIMEZONE))


def items_row(record: dict[str, str]) -> tuple[Any, ...]:
    """The landing row of one items record (raises _Bad)."""
    item = record["itemnumber"].strip()
    if not item:
        raise _Bad("itemnumber", "the item number is required")
    return (
        "koha",
        item,
        record.get("barcode") or None,
        record.get("itemcallnumber") or None,
        record.get("itype") or None,
        record.get("location") or record.get("homebranch") or None,
    )


def parse_koha_items(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    return _rows(path, ctx, ITEMS_REQUIRED, items_row)
