"""Koha statistics CSV straight to COPY text (`Format.copy_parser` of koha-csv).

Through `parse_koha_statistics`, a record costs about 30 µs (the csv module, a dict per record,
strptime, Decimal, two pseudonyms, then psycopg's dumpers). Here the usual line costs a split on
commas, a few dictionary look-ups (event type, value, borrower and card pseudonyms, hour of the
time) and one f-string.

A line takes this path only when its result is sure to be the per-record code's, value for
value: no quote, backslash or control character (so `split(",")` is the csv module's split and
no value needs COPY escaping), as many fields as the header, a known event type, an item number
when the event needs one, a value that parses, and a time written `YYYY-MM-DD HH:MM:SS` (ASCII
digits) in an hour whose UTC offset does not change. The header, a line that does not decode, and
every other line go through `KohaCsv` (the code of parse_koha_statistics) with their line
numbers; from a line that opens a quoted field across line breaks to the end of the file, every
line does, in `records_of` (the per-record code's reading of multi-line records). Their rows and
quarantine entries are therefore exactly the one-process path's; tests/test_copy_parsers.py
compares the COPY text of both.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ingest.circulation.koha import (
    EVENT_TYPES,
    ITEM_EVENTS,
    STATISTICS_COLUMNS,
    STATISTICS_REQUIRED,
    KohaCsv,
    _quote_open,
    decode_line,
    detect_encoding,
    parse_koha_statistics,
    records_of,
    statistics_builder,
    statistics_zone,
)
from ingest.circulation.tables import KOHA_STATISTICS
from ingest.copytext import CACHE_LIMIT, NEEDS_CARE, NULL, ChunkWriter, LocalTimes, block_lines, raw_lines
from ingest.model import ParseContext, ParsedItem
from ingest.pipelined import Chunk, line_blocks
from ingest.values import parse_decimal

PLAIN_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII).fullmatch
SLOW_CHUNK = 10_000  # items of the per-record code per chunk, once a file goes that way
# Columns landed as written ("" as null), in the table's order, besides the computed ones.
TEXT_COLUMNS = ("branch", "other", "itemtype", "location", "ccode", "categorycode", "interface")


def koha_statistics_copy(path: Path, ctx: ParseContext, prefix: tuple[str, str]) -> Iterator[Chunk]:
    writer = ChunkWriter(KOHA_STATISTICS, prefix)
    build = statistics_builder(ctx)  # raises what parse_koha_statistics raises (a bad time zone)
    encoding = detect_encoding(path, str(ctx.options.get("encoding") or "auto"))
    reader = KohaCsv(path, STATISTICS_REQUIRED, build, STATISTICS_COLUMNS)
    yield from fast_or_per_record(
        path,
        writer,
        reader,
        encoding,
        lambda: parse_koha_statistics(path, ctx),
        lambda handle: _fast(ctx, writer, reader, encoding, handle),
    )


def fast_or_per_record(
    path: Path,
    writer: ChunkWriter,
    reader: KohaCsv,
    encoding: str,
    per_record: Callable[[], Iterator[ParsedItem]],
    fast: Callable[[BinaryIO], Iterator[Chunk]],
) -> Iterator[Chunk]:
    """A Koha export's chunks: its header read (and checked) by `reader`, then the rest of the open
    file through `fast`; an unusual start (no header, a quoted or undecodable one, one that is not
    CSV) sends the whole file through `per_record` (the format's per-record parser)."""
    with open(path, "rb") as handle:
        first = handle.readline()
        header = decode_line(1, first, encoding) if first else ""
        if (
            not isinstance(header, str)
            or not header.strip()
            or '"' in header
            or reader.item(1, [header], header) is not None  # (it raises as the per-record code does)
            or reader.header is None
        ):
            yield from _slow(writer, per_record())
            return
        yield from fast(handle)


def _slow(writer: ChunkWriter, items: Iterator[ParsedItem]) -> Iterator[Chunk]:
    while batch := list(itertools.islice(items, SLOW_CHUNK)):
        yield writer.chunk([], batch)


def per_record_rest(
    writer: ChunkWriter,
    reader: KohaCsv,
    encoding: str,
    opening: tuple[int, str],
    current: tuple[int, bytes],
    blocks: Iterator[tuple[int, bytes]],
    fast: list[str],
    items: list[ParsedItem],
) -> Iterator[Chunk]:
    """From the `opening` line (number, text) of a quoted field across line breaks to the end of
    the file, every line the per-record way (`records_of`): the rest of the `current` block
    (its first line number, its bytes), then the blocks still to come; `fast` and `items` are the
    current block's rows so far, sent first."""
    line_no, _ = opening
    first, block = current
    rest = itertools.chain(
        [opening],
        ((n, decode_line(n, raw, encoding)) for n, raw in _rest_lines(block, first, line_no)),
        (
            (n, decode_line(n, raw, encoding))
            for start, more in blocks
            for n, raw in enumerate(raw_lines(more), start)
        ),
    )
    for number, record, record_text in records_of(rest):  # type: ignore[arg-type]
        item = reader.item(number, record, record_text)
        if item is not None:
            items.append(item)
        if len(items) >= SLOW_CHUNK:
            yield writer.chunk(fast, items)
            fast, items = [], []
    yield writer.chunk(fast, items)


def _fast(
    ctx: ParseContext, writer: ChunkWriter, reader: KohaCsv, encoding: str, handle: object
) -> Iterator[Chunk]:
    assert reader.header is not None
    header = reader.header
    width = len(header)
    at = {
        name: header.index(name) if name in header else None for name in (*STATISTICS_COLUMNS, "cardnumber")
    }
    # required: check_header saw them
    at_time, at_type, at_item, at_borrower = (header.index(name) for name in STATISTICS_REQUIRED)
    at_value, at_card = at["value"], at["cardnumber"]
    # an absent column reads the empty field appended to every line's fields
    at_branch, at_other, at_itemtype, at_location, at_ccode, at_category, at_interface = (
        width if (i := at[name]) is None else i for name in TEXT_COLUMNS
    )
    pseudonym = ctx.pseudonymiser.pseudonym
    times = LocalTimes(statistics_zone(ctx), str)  # psycopg's text of an aware datetime (see LocalTimes)
    time_text = times.text
    lead = writer.lead
    decode_as = "utf-8" if encoding == "utf-8-sig" else encoding
    needs_care = NEEDS_CARE.search
    types: dict[str, str | None] = {}  # type field -> the event type, None: not one
    values: dict[str, str] = {}  # value field -> its COPY text, "": the per-record way
    patrons: dict[str, str] = {}  # borrowernumber field -> COPY text of its pseudonym
    cards: dict[str, str] = {}
    no_card = NULL

    def event_type(raw: str) -> str | None:
        if len(types) > CACHE_LIMIT:
            types.clear()
        found = raw.strip().lower()
        known = types[raw] = found if found in EVENT_TYPES else None
        return known

    def value_text(raw: str) -> str:
        if len(values) > CACHE_LIMIT:
            values.clear()
        try:
            value = parse_decimal(raw)
        except ValueError:
            values[raw] = ""
            return ""
        known = values[raw] = NULL if value is None else writer.dump(value)
        return known

    def key_text(cache: dict[str, str], kind: str, raw: str) -> str:
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        cleaned = raw.strip()
        key = pseudonym(kind, cleaned if cleaned.upper() != "NULL" else None)
        known = cache[raw] = NULL if key is None else key
        return known

    blocks = line_blocks(handle, 2)
    for first, block in blocks:
        fast: list[str] = []
        append = fast.append
        items: list[ParsedItem] = []
        lines = block_lines(block, first, decode_as, lambda n, raw: decode_line(n, raw, encoding))
        for line_no, text in enumerate(lines, first):
            if type(text) is not str:  # a line that does not decode: a Rejected
                items.append(reader.item(line_no, text, text.raw))  # type: ignore[arg-type, attr-defined]
                continue
            if text.endswith("\r"):
                text = text.rstrip("\r")
            fields = text.split(",")
            if len(fields) == width and not needs_care(text):
                raw_type = fields[at_type]
                kind = types.get(raw_type, False)
                if kind is False:
                    kind = event_type(raw_type)
                when = fields[at_time].strip()
                item = fields[at_item].strip()
                if kind is not None and PLAIN_TIME(when) and (item or kind not in ITEM_EVENTS):
                    event_at = time_text(when)
                    value = NULL
                    if at_value is not None:
                        raw = fields[at_value]
                        value = values.get(raw) or value_text(raw)
                    if event_at is not None and value:
                        raw = fields[at_borrower]
                        patron = patrons.get(raw) or key_text(patrons, "patron", raw)
                        card = no_card
                        if at_card is not None:
                            raw = fields[at_card]
                            card = cards.get(raw) or key_text(cards, "card", raw)
                        fields.append("")
                        append(
                            f"{lead}{line_no}\t{event_at}\t{fields[at_branch] or NULL}\t{value}\t{kind}\t"
                            f"{fields[at_other] or NULL}\t{item or NULL}\t{fields[at_itemtype] or NULL}\t"
                            f"{fields[at_location] or NULL}\t{patron}\t{fields[at_ccode] or NULL}\t"
                            f"{fields[at_category] or NULL}\t{fields[at_interface] or NULL}\t{card}\n"
                        )
                        continue
            if not text.strip():
                continue  # a blank line between records
            if '"' in text and _quote_open(text, False):
                # a quoted field across line breaks: from here on, the per-record reading
                yield from per_record_rest(
                    writer, reader, encoding, (line_no, text), (first, block), blocks, fast, items
                )
                return
            found = reader.item(line_no, [text], text)
            if found is not None:
                items.append(found)
        yield writer.chunk(fast, items)


def _rest_lines(block: bytes, first: int, line_no: int) -> Iterator[tuple[int, bytes]]:
    """The raw lines of `block` (whose first line is number `first`) after line `line_no`."""
    for n, raw in enumerate(raw_lines(block), first):
        if n > line_no:
            yield n, raw
