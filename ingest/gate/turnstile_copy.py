"""Turnstile CSV straight to COPY text (`Format.copy_parser` of turnstile-csv).

Through `parse_turnstile_csv`, a swipe costs about 50 µs: the csv module, a dict per record, a
regular expression and a datetime for the time, then psycopg's dumpers for every value. A daily
export of 2,000 swipes then takes longer to parse than PostgreSQL takes to store it ten times.
Here the usual line costs a split on commas, a few dictionary look-ups (card pseudonym, hour of
the time, direction and result words) and one f-string.

A line takes this path only when its result is sure to be the per-line code's, value for value:
no quote, backslash or control character (so `split(",")` is the csv module's split and no value
needs COPY escaping), as many fields as the header, a known direction and result, a gate, a card
for a granted passage, and a time written `YYYY-MM-DD HH:MM:SS` (or with `/`, `T`; ASCII digits)
in an hour whose UTC offset does not change. The header, a block that does not decode, and every other line go
through `TurnstileCsv` (the code of parse_turnstile_csv) with their line numbers, so that their
rows and quarantine entries are exactly the one-process path's; tests/test_copy_parsers.py
compares the COPY text of both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ingest.copytext import NEEDS_CARE, NULL, ChunkWriter, raw_lines
from ingest.gate.tables import GATE_PASSAGES
from ingest.gate.textfile import decoding, split_line, text_line
from ingest.gate.turnstile import DIRECTIONS, RESULTS, TurnstileCsv
from ingest.model import ParseContext, ParsedItem
from ingest.pipelined import Chunk, line_blocks

PLAIN_TIME = re.compile(r"\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}:\d{2}", re.ASCII).fullmatch
CACHE_LIMIT = 100_000
IN_OUT = ("in", "out")
GRANTED_DENIED = ("granted", "denied")


def turnstile_csv_copy(path: Path, ctx: ParseContext, prefix: tuple[str, str]) -> Iterator[Chunk]:
    reader = TurnstileCsv(path, ctx)  # raises what parse_turnstile_csv raises, in the same order
    decode_as = decoding(path, ctx.options.get("encoding"))
    writer = ChunkWriter(GATE_PASSAGES, prefix)
    builder = reader.builder
    zone = builder.zone
    pseudonym = builder.pseudonym
    period = writer.dump(builder.period_start, builder.period_end)
    lead = writer.lead
    cards: dict[str, str] = {"": NULL}  # card field -> COPY text of its pseudonym
    hours: dict[str, tuple[str, str] | None] = {}  # time text to the hour -> (COPY text to the hour, offset)
    # field as written -> the word it lands as ("": not one), and the gate field -> the gate
    words: dict[str, str] = {}
    gates: dict[str, str] = {}

    def word(raw: str) -> str:
        if len(words) > CACHE_LIMIT:
            words.clear()
        cleaned = raw.strip().lower()
        known = words[raw] = DIRECTIONS.get(cleaned) or RESULTS.get(cleaned) or ""
        return known

    def gate_of(raw: str) -> str:
        if len(gates) > CACHE_LIMIT:
            gates.clear()
        known = gates[raw] = raw.strip()
        return known

    def hour_text(key: str) -> tuple[str, str] | None:
        """What the per-line code's datetimes in this hour are as COPY text: the text up to the
        minutes, and the UTC offset after the seconds; None when the hour is not a real one or
        its UTC offset changes inside it (a daylight-saving change)."""
        if len(hours) > CACHE_LIMIT:
            hours.clear()
        try:
            start = datetime(int(key[:4]), int(key[5:7]), int(key[8:10]), int(key[11:13]))
        except ValueError:
            hours[key] = None
            return None
        start, end = start.replace(tzinfo=zone), start.replace(minute=59, second=59, tzinfo=zone)
        text = str(start)  # psycopg's text of an aware datetime (see copytext.LocalTimes)
        written = f"{key[:4]}-{key[5:7]}-{key[8:10]} {key[11:13]}:"  # the per-line code's reading
        known: tuple[str, str] | None = None
        if start.utcoffset() == end.utcoffset() and text[:14] == written and text[14:19] == "00:00":
            known = (text[:14], text[19:])
        hours[key] = known
        return known

    with open(path, "rb") as handle:
        number = 0
        header: list[ParsedItem] = []
        while reader.positions is None:  # the lines up to the header: the per-line code's
            raw = handle.readline()
            if not raw:
                break
            number += 1
            line = split_line(number, raw, decode_as)
            if line is not None:
                item = reader.item(line)
                if item is not None:
                    header.append(item)
        if reader.positions is None:
            if header:
                yield writer.chunk([], header)
            return
        width = reader.width
        at_card, at_gate, at_direction, at_time, at_result = (
            reader.positions[f] for f in ("card_number", "gate", "direction", "passed_at", "result")
        )
        needs_care = NEEDS_CARE.search
        for first, block in line_blocks(handle, number + 1):
            fast: list[str] = []
            append = fast.append
            items: list[ParsedItem] = []
            try:
                text = block.decode(decode_as)
            except UnicodeDecodeError:  # some line is not in the file's encoding: all per line
                for line_no, raw in enumerate(raw_lines(block), first):
                    line = split_line(line_no, raw, decode_as)
                    if line is not None and (item := reader.item(line)) is not None:
                        items.append(item)
                yield writer.chunk([], items)
                continue
            lines = text.split("\n")
            if text.endswith("\n"):
                lines.pop()
            for line_no, line_text in enumerate(lines, first):
                if line_text.endswith("\r"):
                    line_text = line_text.rstrip("\r")
                fields = line_text.split(",")
                if len(fields) == width and not needs_care(line_text):
                    direction = words.get(fields[at_direction]) or word(fields[at_direction])
                    result = words.get(fields[at_result]) or word(fields[at_result])
                    gate = gates.get(fields[at_gate]) or gate_of(fields[at_gate])
                    when = fields[at_time].strip()
                    if direction in IN_OUT and result in GRANTED_DENIED and gate and PLAIN_TIME(when):
                        try:
                            hour = hours[when[:13]]
                        except KeyError:
                            hour = hour_text(when[:13])
                        minute, second = when[14:16], when[17:]
                        raw_card = fields[at_card]
                        card = cards.get(raw_card)
                        if card is None:
                            if len(cards) > CACHE_LIMIT:
                                cards.clear()
                                cards[""] = NULL
                            key = pseudonym("card", raw_card.strip())
                            card = cards[raw_card] = NULL if key is None else key
                        if (
                            hour is not None
                            and minute < "60"
                            and second < "60"
                            and (card != NULL or result != "granted")
                        ):
                            append(
                                f"{lead}{line_no}\t{card}\t{gate}\t{direction}\t{result}\t"
                                f"{hour[0]}{minute}:{second}{hour[1]}\t{period}\n"
                            )
                            continue
                line = text_line(line_no, line_text)
                if line is not None and (item := reader.item(line)) is not None:
                    items.append(item)
            if header:
                items[:0] = header
                header = []
            yield writer.chunk(fast, items)
