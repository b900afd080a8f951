"""Koha items CSV straight to COPY text (`Format.copy_parser` of koha-items-csv).

Through `parse_koha_items`, an item costs the csv module, a dict per record and psycopg's dumpers
(about 17 µs here, against 6-7 µs for the server to store the row: the items file of a large
library is over a million lines). Here the usual line costs a split on commas and one f-string.

A line takes this path only when its result is sure to be the per-record code's, value for
value: no quote, backslash or control character (so `split(",")` is the csv module's split and
no value needs COPY escaping), as many fields as the header, and an item number. The header, a
line that does not decode, and every other line go through `KohaCsv` (the code of
parse_koha_items) with their line numbers; from a line that opens a quoted field across line
breaks to the end of the file, every line does, in `records_of`, as in
ingest.circulation.koha_copy. tests/test_copy_parsers.py compares the COPY text of both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.circulation.koha import (
    ITEMS_REQUIRED,
    KohaCsv,
    _quote_open,
    decode_line,
    detect_encoding,
    items_row,
    parse_koha_items,
)
from ingest.circulation.koha_copy import fast_or_per_record, per_record_rest
from ingest.circulation.tables import ILS_ITEMS
from ingest.copytext import NEEDS_CARE, NULL, ChunkWriter, block_lines
from ingest.model import ParseContext, ParsedItem
from ingest.pipelined import Chunk, line_blocks


def koha_items_copy(path: Path, ctx: ParseContext, prefix: tuple[str, str]) -> Iterator[Chunk]:
    writer = ChunkWriter(ILS_ITEMS, prefix)
    encoding = detect_encoding(path, str(ctx.options.get("encoding") or "auto"))
    reader = KohaCsv(path, ITEMS_REQUIRED, items_row)
    yield from fast_or_per_record(
        path,
        writer,
        reader,
        encoding,
        lambda: parse_koha_items(path, ctx),
        lambda handle: _fast(writer, reader, encoding, handle),
    )


def _fast(writer: ChunkWriter, reader: KohaCsv, encoding: str, handle: Any) -> Iterator[Chunk]:
    assert reader.header is not None
    header = reader.header
    width = len(header)
    # an absent column reads the empty field appended to every line's fields (None: .get's None)
    at_item = header.index("itemnumber")
    at_barcode, at_call, at_type, at_location, at_branch = (
        header.index(name) if name in header else width
        for name in ("barcode", "itemcallnumber", "itype", "location", "homebranch")
    )
    lead = f"{writer.lead}"
    decode_as = "utf-8" if encoding == "utf-8-sig" else encoding
    needs_care = NEEDS_CARE.search
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
                item = fields[at_item].strip()
                if item:
                    fields.append("")
                    append(
                        f"{lead}{line_no}\tkoha\t{item}\t{fields[at_barcode] or NULL}\t"
                        f"{fields[at_call] or NULL}\t{fields[at_type] or NULL}\t"
                        f"{fields[at_location] or fields[at_branch] or NULL}\n"
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
