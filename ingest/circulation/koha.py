"""Koha CSV exports: the `statistics` table (`koha-csv`) and the `items` table (`koha-items-csv`).

Koha's own column names are the header. Files come as UTF-8 or GB18030 (Windows exports in
Chinese libraries); `encoding` auto-detects per file from its first block. The file is read line
by line as bytes so that a line in the wrong encoding, a stray quote or a missing field costs
that line only, and every rejected row names its physical line.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
    utf8_lines = other_lines = 0
    for raw in block.split(b"\n")[:-1] or [block]:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8_lines += 1
        except UnicodeDecodeError:
            other_lines += 1
    return "utf-8" if utf8_lines >= other_lines else "gb18030"


def _csv_lines(path: Path, ctx: ParseContext) -> Iterator[tuple[int, list[str] | Rejected, str]]:
    """Yield (line, fields or Rejected, raw text) for every data line, after checking the header."""
    encoding = detect_encoding(path, str(ctx.options.get("encoding") or "auto"))
    with open(path, "rb") as handle:
        header: list[str] | None = None
        for line_no, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            if line_no == 1 and encoding == "utf-8-sig":
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                text = raw.decode("utf-8" if encoding == "utf-8-sig" else encoding)
            except UnicodeDecodeError as err:
                if header is None:
                    raise ValueError(f"{path}: line 1: the header is not valid {encoding}") from None
                shown = raw.decode(encoding, errors="replace")
                other = "GB18030" if encoding.startswith("utf") else "UTF-8"
                yield (
                    line_no,
                    Rejected(
                        line_no,
                        "(encoding)",
                        f"not valid {encoding} at byte {err.start + 1} (the file was read as "
                        f"{encoding}; this line may have been written as {other})",
                        shown,
                    ),
                    shown,
                )
                continue
            if not text.strip():
                continue
            try:
                fields = next(csv.reader([text], strict=True))
            except csv.Error as err:
                yield (
                    line_no,
                    Rejected(line_no, "(line)", f"malformed CSV: {err} (a stray quote?)", text),
                    text,
                )
                continue
            if header is None:
                header = [f.strip().lower() for f in fields]
                yield line_no, header, text
                continue
            if len(fields) != len(header):
                yield (
                    line_no,
                    Rejected(
                        line_no,
                        "(line)",
                        f"expected {len(header)} fields as in the header, found {len(fields)} "
                        "(a stray delimiter or quote?)",
                        text,
                    ),
                    text,
                )
                continue
            yield line_no, fields, text


def _rows(
    path: Path,
    ctx: ParseContext,
    required: tuple[str, ...],
    build: Callable[[dict[str, str]], tuple[Any, ...]],
) -> Iterator[ParsedItem]:
    header: list[str] | None = None
    for line_no, fields, text in _csv_lines(path, ctx):
        if isinstance(fields, Rejected):
            yield fields
            continue
        if header is None:
            header = fields
            missing = [c for c in required if c not in header]
            if missing:
                raise ValueError(
                    f"{path}: line 1: the header lacks {', '.join(missing)}; expected Koha's column "
                    f"names ({', '.join(required)}, ...), found {', '.join(header)}"
                )
            continue
        record = dict(zip(header, fields, strict=True))
        try:
            yield line_no, build(record)
        except _Bad as bad:
            yield Rejected(line_no, bad.field, str(bad), text)


def parse_koha_statistics(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    zone = ZoneInfo(str(ctx.options.get("timezone") or DEFAULT_TIMEZONE))
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

    return _rows(path, ctx, ("datetime", "type", "itemnumber", "borrowernumber"), build)


def parse_koha_items(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    def build(record: dict[str, str]) -> tuple[Any, ...]:
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

    return _rows(path, ctx, ITEMS_REQUIRED, build)
