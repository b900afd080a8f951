"""What a format's fast parser (Format.copy_parser) needs to write COPY text itself.

The rows a fast parser takes are written as COPY text directly (one f-string a row); every other
item, a row of the format's own per-line code or a Rejected, goes through `ChunkWriter.chunk`,
which formats rows exactly as the loader's `Copy.write_row` would (psycopg's dumpers), and
quarantines a row that COPY cannot hold (a NUL byte) as the loader does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ingest.model import ParsedItem, RawTable, Rejected
from ingest.pipelined import Chunk
from ingest.rowtext import unwritable

NULL = "\\N"  # COPY text's null
# A value holding one of these needs COPY escaping (or is odd enough for the per-line code).
NEEDS_CARE = re.compile('[\x00-\x1f\x7f\\\\"]')
CACHE_LIMIT = 100_000


def copy_escape(text: str) -> str:
    """`text` as a COPY text value (what psycopg writes for a str)."""
    return (
        text.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\b", "\\b")
        .replace("\f", "\\f")
        .replace("\v", "\\v")
    )


class ChunkWriter:
    """Turns a block's fast rows (COPY text) and its other items into a Chunk."""

    def __init__(self, table: RawTable, prefix: tuple[str, str]) -> None:
        from psycopg import DataError
        from psycopg._copy_base import TextFormatter
        from psycopg.adapt import Transformer

        self.table = table
        self.prefix = prefix
        self.lead = "{}\t{}\t".format(*map(copy_escape, prefix))  # batch_id, source_file
        self._formatter = TextFormatter(Transformer())
        self._errors = (DataError, UnicodeEncodeError)

    def dump(self, *values: Any) -> str:
        """The COPY text of `values` (tab-separated, no line end), as psycopg writes them."""
        text = bytes(self._formatter.write_row(values)) + bytes(self._formatter.end())
        return text.decode("utf-8")[:-1]

    def chunk(self, fast: list[str], items: Iterable[ParsedItem]) -> Chunk:
        """`fast`: rows already written as COPY text lines; `items`: the per-line code's output."""
        out = bytearray("".join(fast).encode("utf-8"))
        rows = len(fast)
        rejected: list[Rejected] = []
        batch_id, label = self.prefix
        for item in items:
            if type(item) is Rejected:
                rejected.append(item)
                continue
            line, values = item  # type: ignore[misc]
            try:
                out += self._formatter.write_row((batch_id, label, line, *values))
            except self._errors as error:  # a NUL byte: a row, not the file
                rejected.append(unwritable(self.table, line, values, error))
                continue
            rows += 1
        out += self._formatter.end()
        return Chunk(bytes(out), rows, rejected)


def block_lines(block: bytes, first: int, codec: str, decode_line: Any) -> list[Any]:
    """A block's lines as text (without newlines), decoded at once; when some line is not in the
    codec, each line by `decode_line(number, raw bytes)`, which says what is wrong with it."""
    try:
        lines: list[Any] = block.decode(codec).split("\n")
    except UnicodeDecodeError:
        return [decode_line(n, raw) for n, raw in enumerate(raw_lines(block), first)]
    if block.endswith(b"\n"):
        lines.pop()
    return lines


def raw_lines(block: bytes) -> list[bytes]:
    """A block's lines as `for raw in handle` reads them (each with its newline)."""
    lines = block.split(b"\n")
    last = lines.pop()
    out = [line + b"\n" for line in lines]
    if last:
        out.append(last)
    return out


class LocalTimes:
    """The COPY text of local times written `YYYY?MM?DD?HH:MM:SS` (ASCII digits, checked by the
    caller) as the datetime `datetime(...).replace(tzinfo=zone)` that a parser makes of them,
    worked out once an hour: the text up to the minutes and the UTC offset. None when the time
    is not a real one, or its hour's UTC offset changes inside it (a daylight-saving change):
    such a line goes the parser's way.

    `dump` makes the COPY text of a datetime: `str` is psycopg's (its text dumper of an aware
    datetime is str(obj); tests/test_copy_parsers.py checks it), at a third of a dumper's cost
    through ChunkWriter.dump, once an hour of a monthly export (720 hours, 26 -> 16 µs each)."""

    def __init__(self, zone: Any, dump: Any) -> None:
        self.zone, self.dump = zone, dump
        self.hours: dict[str, tuple[str, str] | None] = {}

    def hour(self, key: str) -> tuple[str, str] | None:
        from datetime import datetime

        if len(self.hours) > CACHE_LIMIT:
            self.hours.clear()
        try:
            start = datetime(int(key[:4]), int(key[5:7]), int(key[8:10]), int(key[11:13]))
        except ValueError:
            self.hours[key] = None
            return None
        start, end = start.replace(tzinfo=self.zone), start.replace(minute=59, second=59, tzinfo=self.zone)
        text = self.dump(start)
        written = f"{key[:4]}-{key[5:7]}-{key[8:10]} {key[11:13]}:"  # what the parser reads
        known: tuple[str, str] | None = None
        if start.utcoffset() == end.utcoffset() and text[:14] == written and text[14:19] == "00:00":
            known = (text[:14], text[19:])
        self.hours[key] = known
        return known

    def text(self, when: str) -> str | None:
        try:
            hour = self.hours[when[:13]]
        except KeyError:
            hour = self.hour(when[:13])
        minute, second = when[14:16], when[17:19]
        if hour is None or minute >= "60" or second >= "60":
            return None
        return f"{hour[0]}{minute}:{second}{hour[1]}"
