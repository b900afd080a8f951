"""Space and seat bookings CSV straight to COPY text (`Format.copy_parser` of bookings-csv).

Through `parse_bookings`, a booking costs tens of µs (the csv module, a Record and its dict,
three timestamps through regular expressions and fromisoformat, psycopg's dumpers). Here the
usual line costs a split on commas, dictionary look-ups (person pseudonym, status and space type
words, hour of each time) and one f-string.

A line takes this path only when its result is sure to be the per-record code's, value for
value: no quote, backslash or control character (so `split(",")` is the csv module's split and no
value needs COPY escaping), as many fields as the header, every required field given, known
status and space type words, times written `YYYY-MM-DD HH:MM[:SS]` or `YYYY/MM/DD HH:MM[:SS]`
(ASCII digits) in hours whose UTC offset does not change, and an end after the start. The header,
a line that does not decode, and every other line go through `CsvReader` and `row_of` (the code
of parse_bookings) with their line numbers; from a line that opens a quoted field across line
breaks to the end of the file, every line does, in `physical_records_of`. Their rows and
quarantine entries are therefore exactly the one-process path's; tests/test_copy_parsers.py
compares the COPY text of both.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.copytext import CACHE_LIMIT, NEEDS_CARE, NULL, ChunkWriter, LocalTimes, block_lines, raw_lines
from ingest.model import ParseContext, ParsedItem
from ingest.pipelined import Chunk, line_blocks
from ingest.services import csvinput as c
from ingest.services.parsers import BOOKING_STATUSES, BOOKINGS, SPACE_TYPES, bookings_builder, parse_bookings
from ingest.services.tables import SPACE_BOOKINGS

PLAIN_TIME = re.compile(r"\d{4}(?:-\d{2}-|/\d{2}/)\d{2}[ T]\d{2}:\d{2}(?::\d{2})?", re.ASCII).fullmatch
SLOW_CHUNK = 10_000
SPACES = re.compile(r"[\s_\-]+")


def bookings_copy(path: Path, ctx: ParseContext, prefix: tuple[str, str]) -> Iterator[Chunk]:
    writer = ChunkWriter(SPACE_BOOKINGS, prefix)
    build = bookings_builder(ctx)  # raises what parse_bookings raises (a bad time zone)
    reader = c.CsvReader(path, ctx, BOOKINGS)
    codec = "utf-8" if reader.encoding == "utf-8-sig" else reader.encoding
    with open(path, "rb") as handle:
        first = handle.readline()
        _, header, problem = c.decode_line(1, first, codec)
        if header is None or not header.strip() or '"' in header:  # an unusual start: all the slow way
            yield from _slow(writer, parse_bookings(path, ctx))
            return
        if reader.item(1, header, problem) is not None or reader.positions is None:  # (raises as that does)
            yield from _slow(writer, parse_bookings(path, ctx))  # a header that is not CSV
            return
        yield from _fast(ctx, writer, reader, build, codec, handle)


def _slow(writer: ChunkWriter, items: Iterator[ParsedItem]) -> Iterator[Chunk]:
    while batch := list(itertools.islice(items, SLOW_CHUNK)):
        yield writer.chunk([], batch)


def _fast(
    ctx: ParseContext, writer: ChunkWriter, reader: c.CsvReader, build: Any, codec: str, handle: Any
) -> Iterator[Chunk]:
    assert reader.positions is not None
    width = reader.width
    at = {name: reader.positions.get(name, width) for name in BOOKINGS.fields}  # absent: the "" appended
    at_id, at_person, at_space, at_type, at_area = (
        at[n] for n in ("booking_id", "person_id", "space_id", "space_type", "space_area")
    )
    at_start, at_end, at_status, at_booked = (
        at[n] for n in ("start_time", "end_time", "status", "booked_at")
    )
    pseudonym = ctx.pseudonymiser.pseudonym
    times = LocalTimes(c.zone_of(ctx), str)  # psycopg's text of an aware datetime (see LocalTimes)
    lead = writer.lead
    needs_care = NEEDS_CARE.search
    null_words = c.NULL_WORDS
    persons: dict[str, str] = {}
    # field -> value, NULL, or "" (the slow way): space types, statuses
    words: tuple[dict[str, str], dict[str, str]] = ({}, {})
    kinds, statuses = words
    vocabularies = (SPACE_TYPES, BOOKING_STATUSES)

    def word(which: int, raw: str) -> str:
        cache = words[which]
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        value = raw.strip()
        if value.lower() in null_words:
            known = NULL if which == 0 else ""  # the status is required
        else:
            known = vocabularies[which].get(SPACES.sub(" ", value.casefold()).strip(), "")
        cache[raw] = known
        return known

    stamps: dict[str, str] = {}  # time field -> COPY text ("": not one the fast path reads)

    hours: dict[str, tuple[str, str] | None] = {}  # a plain time's first 13 characters -> its hour
    hour_of = times.hours.get

    def when(raw: str) -> str:
        """COPY text of a time field (cached: bookings start on a few slots); "" for the slow way."""
        if len(stamps) > CACHE_LIMIT:
            stamps.clear()
            hours.clear()
        if PLAIN_TIME(raw):  # no blank around it: as times.text reads it, its hour looked up once
            try:
                hour = hours[raw[:13]]
            except KeyError:
                key = raw[:13].replace("/", "-")
                hour = hours[raw[:13]] = hour_of(key) or times.hour(key)
            minute, second = raw[14:16], raw[17:19] or "00"
            known = (
                f"{hour[0]}{minute}:{second}{hour[1]}"
                if hour is not None and minute < "60" and second < "60"
                else ""
            )
            stamps[raw] = known
            return known
        value = raw.strip()
        known = ""
        if PLAIN_TIME(value):
            if value[4] == "/":
                value = f"{value[:4]}-{value[5:7]}-{value[8:10]}{value[10:]}"
            if len(value) == 16:
                value += ":00"
            known = times.text(value) or ""
        stamps[raw] = known
        return known

    def person(raw: str) -> str:
        if len(persons) > CACHE_LIMIT:
            persons.clear()
        value = raw.strip()
        known = persons[raw] = "" if value.lower() in null_words else pseudonym("person", value) or ""
        return known

    blocks = line_blocks(handle, 2)
    for first, block in blocks:
        fast: list[str] = []
        append = fast.append
        items: list[ParsedItem] = []
        lines = block_lines(block, first, codec, lambda n, raw: c.decode_line(n, raw, codec))
        for line_no, text in enumerate(lines, first):
            if type(text) is not str:  # decoded on its own: (line, text or None, problem)
                _, text, problem = text
                if text is None:
                    items.append(reader.item(line_no, None, problem))  # type: ignore[arg-type]
                    continue
            elif text.endswith("\r"):
                text = text.rstrip("\r")
            fields = text.split(",")
            if len(fields) == width and not needs_care(text):
                fields.append("")
                booking, space = fields[at_id].strip(), fields[at_space].strip()
                key = persons.get(fields[at_person]) or person(fields[at_person])
                status = statuses.get(fields[at_status]) or word(1, fields[at_status])
                kind = kinds.get(fields[at_type]) or word(0, fields[at_type])
                starts = stamps.get(fields[at_start]) or when(fields[at_start])
                ends = stamps.get(fields[at_end]) or when(fields[at_end])
                booked = fields[at_booked]
                booked = NULL if booked.strip().lower() in null_words else stamps.get(booked) or when(booked)
                if (
                    key
                    and status
                    and kind
                    and starts
                    and ends
                    and booked
                    and booking.lower() not in null_words
                    and space.lower() not in null_words
                    and starts[19:] == ends[19:]  # the same UTC offset: local times compare
                    and ends[:19] > starts[:19]
                ):
                    area = fields[at_area].strip()
                    if area.lower() in null_words:
                        area = NULL
                    append(
                        f"{lead}{line_no}\t{booking}\t{key}\t{space}\t{kind}\t"
                        f"{area}\t{starts}\t{ends}\t{status}\t{booked}\n"
                    )
                    continue
            if '"' in text and text.count('"') % 2 and c._quote_left_open(text):
                # a quoted field across line breaks: from here on, the per-record reading
                rest = itertools.chain(
                    [(line_no, text, "")],
                    (
                        c.decode_line(n, raw, codec)
                        for n, raw in enumerate(raw_lines(block), first)
                        if n > line_no
                    ),
                    (
                        c.decode_line(n, raw, codec)
                        for start, more in blocks
                        for n, raw in enumerate(raw_lines(more), start)
                    ),
                )
                for number, record_text, problem in c.physical_records_of(rest):
                    record = reader.item(number, record_text, problem)
                    if record is not None:
                        items.append(c.row_of(record, ctx, BOOKINGS, build))
                    if len(items) >= SLOW_CHUNK:
                        yield writer.chunk(fast, items)
                        fast, items = [], []
                yield writer.chunk(fast, items)
                return
            record = reader.item(line_no, text, "")
            if record is not None:
                items.append(c.row_of(record, ctx, BOOKINGS, build))
        yield writer.chunk(fast, items)
