"""Card-swipe turnstile exports: CSV (`turnstile-csv`) or one JSON object a line (`turnstile-jsonl`).

Two headers are recognised without options: `card_number,gate,direction,passed_at,result` and the
common Chinese campus export `卡号,姓名,通道,方向,时间,结果`. Other vendors' headers are mapped
with `--columns card_number=CardNo,gate=Door,...`. The card number lands only as a pseudonym (kind
card); the name column of the Chinese export, and any column not mapped, is dropped here and never
lands anywhere, quarantine included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ingest.gate.textfile import (
    BadField,
    GateFileError,
    Line,
    column_map,
    csv_lines,
    file_period,
    parse_time,
    zone_option,
)
from ingest.model import ParseContext, ParsedItem, Rejected

FIELDS = ("card_number", "gate", "direction", "passed_at", "result")
# The Chinese campus export; 姓名 (the name) is read past and dropped.
CHINESE_HEADER = {
    "卡号": "card_number",
    "通道": "gate",
    "方向": "direction",
    "时间": "passed_at",
    "结果": "result",
}
DROPPED_CHINESE = ("姓名",)
DIRECTIONS = {"in": "in", "进": "in", "1": "in", "out": "out", "出": "out", "0": "out"}
RESULTS = {
    "granted": "granted",
    "通过": "granted",
    "ok": "granted",
    "denied": "denied",
    "拒绝": "denied",
    "fail": "denied",
}
WITHHELD = "(line withheld: it may hold a card number or a name; see the file at this line)"


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _positions(header: list[str], mapping: Mapping[str, str], path: Path) -> dict[str, int]:
    """Where each field sits in the header: by the --columns mapping, the English names or the
    Chinese export's names."""
    cleaned = [h.strip() for h in header]
    lowered = [h.lower() for h in cleaned]
    if mapping:
        wanted = {field: name.lower() for field, name in mapping.items()}
        wanted.update({f: f for f in FIELDS if f not in wanted})
    elif set(FIELDS) <= set(lowered):
        wanted = {f: f for f in FIELDS}
    elif set(CHINESE_HEADER) <= set(cleaned):
        wanted = {field: name for name, field in CHINESE_HEADER.items()}
    else:
        shown = ", ".join(h for h in cleaned if not any(c.isdigit() for c in h)) or "(no column names)"
        raise GateFileError(
            f"{path}: line 1: the header is not a turnstile export's ({shown}); expected "
            f"{','.join(FIELDS)} or 卡号,姓名,通道,方向,时间,结果, or name your columns with "
            "--columns card_number=...,gate=...,direction=...,passed_at=...,result=..."
        )
    positions: dict[str, int] = {}
    missing = []
    for field, name in wanted.items():
        if name in lowered:
            positions[field] = lowered.index(name)
        elif name in cleaned:
            positions[field] = cleaned.index(name)
        else:
            missing.append(f"{field} ({name})")
    if missing:
        raise GateFileError(
            f"{path}: line 1: the header lacks {', '.join(missing)}; map the columns with "
            "--columns card_number=...,gate=...,direction=...,passed_at=...,result=..."
        )
    return positions


class _PassageBuilder:
    """Turns one record's fields into a landing row, or says which field is wrong."""

    def __init__(self, path: Path, ctx: ParseContext) -> None:
        self.zone: ZoneInfo = zone_option(ctx.options)
        self.pseudonym = ctx.pseudonymiser.pseudonym
        period = file_period(path, self.zone, ctx.options.get("period"))
        self.period_start: datetime | None = period[0] if period else None
        self.period_end: datetime | None = period[1] if period else None

    def card_key(self, record: Mapping[str, Any]) -> str | None:
        value = record.get("card_number")
        return self.pseudonym("card", str(value).strip()) if value not in (None, "") else None

    def redacted(self, record: Mapping[str, Any]) -> str:
        """The record for the quarantine: the card as its pseudonym, no name, no other column."""
        shown = {f: record.get(f) for f in FIELDS if f != "card_number"}
        return json.dumps({"card_key": self.card_key(record), **shown}, ensure_ascii=False, default=str)

    def row(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        direction_text = _text(record.get("direction"))
        direction = DIRECTIONS.get(direction_text.lower())
        if direction is None:
            raise BadField(
                "direction", f"expected in or out (also 进/出, IN/OUT, 1/0), found {direction_text!r}"
            )
        result_text = _text(record.get("result"))
        result = RESULTS.get(result_text.lower())
        if result is None:
            raise BadField(
                "result", f"expected granted or denied (also 通过/拒绝, ok/fail), found {result_text!r}"
            )
        gate = _text(record.get("gate"))
        if not gate:
            raise BadField("gate", "the gate is required (which turnstile the passage went through)")
        when = record.get("passed_at")
        if not isinstance(when, str):
            raise BadField("passed_at", f"expected a time like 2025-09-01 08:15:00, found {when!r}")
        try:
            passed_at = parse_time(when, self.zone)
        except ValueError as err:
            raise BadField("passed_at", str(err)) from None
        card_key = self.card_key(record)
        if card_key is None and result == "granted":
            raise BadField("card_number", "a granted passage needs the card number, found none")
        return (card_key, gate, direction, result, passed_at, self.period_start, self.period_end)


class TurnstileCsv:
    """The lines of one turnstile CSV export, in file order: the header, then a row or a Rejected
    for each line (shared by parse_turnstile_csv and the COPY-text path, turnstile_copy)."""

    def __init__(self, path: Path, ctx: ParseContext) -> None:
        self.path = path
        self.builder = _PassageBuilder(path, ctx)
        self.mapping = column_map(ctx.options.get("columns"), FIELDS)
        self.positions: dict[str, int] | None = None
        self.width = 0

    def item(self, line: Line) -> ParsedItem | None:
        """The line's row or Rejected; None for the header."""
        if line.fields is None:
            if self.positions is None:
                raise GateFileError(
                    f"{self.path}: line {line.number}: the header cannot be read ({line.problem})"
                )
            return Rejected(line.number, line.problem_field, line.problem or "", WITHHELD)
        if self.positions is None:
            self.positions = _positions(line.fields, self.mapping, self.path)
            self.width = len(line.fields)
            return None
        if len(line.fields) != self.width:
            return Rejected(
                line.number,
                "(line)",
                f"expected {self.width} fields as in the header, found {len(line.fields)} "
                "(a stray comma or quote?)",
                WITHHELD,
            )
        record = {field: line.fields[index] for field, index in self.positions.items()}
        try:
            return line.number, self.builder.row(record)
        except BadField as bad:
            return Rejected(line.number, bad.field, str(bad), self.builder.redacted(record))


def parse_turnstile_csv(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    reader = TurnstileCsv(path, ctx)
    for line in csv_lines(path, ctx.options.get("encoding")):
        item = reader.item(line)
        if item is not None:
            yield item


def parse_turnstile_jsonl(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    builder = _PassageBuilder(path, ctx)
    mapping = column_map(ctx.options.get("columns"), FIELDS)
    keys = {field: mapping.get(field, field) for field in FIELDS}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
            if not text:
                continue
            try:
                document = json.loads(text)
            except json.JSONDecodeError as err:
                yield Rejected(
                    number, "(json)", f"not a JSON object: {err.msg} at column {err.colno}", WITHHELD
                )
                continue
            if not isinstance(document, dict):
                yield Rejected(
                    number, "(json)", f"expected a JSON object, found {type(document).__name__}", WITHHELD
                )
                continue
            record = _record_from_object(document, keys)
            try:
                yield number, builder.row(record)
            except BadField as bad:
                yield Rejected(number, bad.field, str(bad), builder.redacted(record))


def _record_from_object(document: Mapping[str, Any], keys: Mapping[str, str]) -> dict[str, Any]:
    lowered = {str(k).lower(): v for k, v in document.items()}
    record: dict[str, Any] = {}
    for field, key in keys.items():
        if key in document:
            record[field] = document[key]
        elif key.lower() in lowered:
            record[field] = lowered[key.lower()]
    for name, field in CHINESE_HEADER.items():  # a JSON export with the Chinese keys
        if field not in record and name in document:
            record[field] = document[name]
    for field in ("card_number", "gate"):
        if isinstance(record.get(field), int | float) and not isinstance(record.get(field), bool):
            record[field] = str(record[field])
    return record
