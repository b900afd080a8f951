"""The CSV reading the five service formats share: encoding detection, column mapping, records
that span lines, typed fields, and quarantine text without identifiers.

- Encoding: UTF-8 (with or without BOM) or GB18030, detected per file as for Koha exports
  (`ingest.circulation.koha.detect_encoding`); option `encoding` forces one. A line that does not
  decode is quarantined, the rest of the file loads.
- Columns: each format names its fields as a typical export does (its default header). Another
  export is read with a mapping from those names to its own headers: option `columns`, given as
  `person_id=学号,space_id=座位号`, as a JSON object, or as the path of a JSON file; in the landing
  folder a `columns.json` beside the files does the same. Header names match ignoring case and
  surrounding spaces; columns nobody asked for are ignored (a comment column the format does
  not read never leaves the file).
- Records: a quoted field may hold line breaks (survey comments do); a record is read until its
  quotes balance, at most MAX_RECORD_LINES physical lines. A record's line is its first line.
- Quarantine: the raw text kept for a rejected row is rebuilt from its fields with the person
  identifier pseudonymised and free text withheld, then passed through `ingest.redaction.redact`;
  a line that cannot be split into fields keeps only its redacted text.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.circulation.koha import DEFAULT_TIMEZONE, detect_encoding
from ingest.errors import InvalidOption
from ingest.model import Option, ParseContext, ParsedItem, Rejected
from ingest.redaction import redact

MAX_RECORD_LINES = 50
NULL_WORDS = {"", "null", "none", "n/a", "-"}

ENCODING = Option(
    "encoding", "CSV encoding: auto (UTF-8 or GB18030, detected per file), utf-8 or gb18030.", default="auto"
)
TIMEZONE = Option(
    "timezone",
    "Time zone of the export's local timestamps (ones written without an offset).",
    default=DEFAULT_TIMEZONE,
    env="URM_LIBRARY_TIMEZONE",
)


def columns_option(source: str) -> Option:
    return Option(
        "columns",
        "Column mapping for an export whose headers differ from the default ones: "
        "'field=Header,field=Header', a JSON object, or a JSON file.",
        env=f"URM_{source.upper()}_COLUMNS",
    )


class BadField(ValueError):
    """A field's value cannot be used; the row goes to quarantine with this reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True)
class CsvSpec:
    """What a service format reads from its CSV."""

    source: str
    fields: tuple[str, ...]  # every field the format reads, by its default header name
    required: tuple[str, ...]  # fields whose column must be in the header
    person_fields: tuple[str, ...] = ("person_id",)  # pseudonymised (kind person) in quarantine
    free_text_fields: tuple[str, ...] = ()  # withheld from quarantine


@dataclass
class Record:
    """One CSV record: its fields by the format's names, and where it was."""

    line: int
    values: dict[str, str]
    header_of: Mapping[str, str]  # format field -> header in this file, for messages

    def where(self, name: str) -> str:
        header = self.header_of.get(name, name)
        return name if header.casefold() == name.casefold() else f"{name} ({header})"


def read_mapping(value: Any, spec: CsvSpec) -> dict[str, str]:
    """The `columns` option as {format field: header in the file}."""
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, Mapping):
        mapping = {str(k): str(v) for k, v in value.items()}
    else:
        text = str(value).strip()
        if text.startswith("{"):
            mapping = _json_mapping(text, "the --columns value")
        elif text.lower().endswith(".json"):
            path = Path(text)
            if not path.is_file():
                raise InvalidOption(f"--columns {text}: no such file")
            mapping = _json_mapping(path.read_text(encoding="utf-8-sig"), str(path))
        else:
            mapping = {}
            for pair in text.split(","):
                name, sep, header = pair.partition("=")
                if not sep or not name.strip() or not header.strip():
                    raise InvalidOption(
                        f"--columns: {pair.strip()!r} is not field=Header; write e.g. "
                        f"'person_id=学号,{spec.fields[1]}=Header'"
                    )
                mapping[name.strip()] = header.strip()
    unknown = sorted(set(mapping) - set(spec.fields))
    if unknown:
        raise InvalidOption(
            f"--columns names no field of {spec.source}: {', '.join(unknown)}; "
            f"its fields: {', '.join(spec.fields)}"
        )
    return mapping


def _json_mapping(text: str, where: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidOption(f"{where}: not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidOption(
            f'{where}: expected an object of field names to headers, e.g. {{"person_id": "学号"}}'
        )
    return {str(k): v for k, v in value.items()}


def landing_columns(root: Path, path: Path) -> dict[str, Any]:
    """A `columns.json` in the folder of a landing file is that folder's column mapping."""
    mapping_file = path.parent / "columns.json"
    return {"columns": str(mapping_file)} if mapping_file.is_file() else {}


def _decoded_lines(path: Path, encoding: str) -> Iterator[tuple[int, str | None, str]]:
    """(line number, text or None when it does not decode, reason) for each physical line."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            yield decode_line(line_no, raw, codec)


def decode_line(line_no: int, raw: bytes, codec: str) -> tuple[int, str | None, str]:
    """One physical line (with or without its line end) as _decoded_lines reads it."""
    raw = raw.rstrip(b"\r\n")
    if line_no == 1:
        raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return line_no, raw.decode(codec), ""
    except UnicodeDecodeError as err:
        other = "GB18030" if codec.startswith("utf") else "UTF-8"
        reason = (
            f"not valid {codec} at byte {err.start + 1} (the file was read as {codec}; "
            f"this line may have been written as {other})"
        )
        return line_no, None, reason


def _quote_left_open(text: str) -> bool:
    """A quoted field runs past the end of `text` (a stray quote inside an unquoted field, as in
    `5" screen`, does not open one: that record ends at its line)."""
    try:
        next(csv.reader([text], strict=True))
    except csv.Error as err:
        return "unexpected end of data" in str(err)
    return False


def _physical_records(path: Path, encoding: str) -> Iterator[tuple[int, str | None, str]]:
    """Logical CSV records: physical lines joined while a quoted field is open."""
    return physical_records_of(_decoded_lines(path, encoding))


def physical_records_of(
    lines: Iterator[tuple[int, str | None, str]],
) -> Iterator[tuple[int, str | None, str]]:
    """The records of _physical_records from decoded lines (from the start, or a record's start)."""
    pending: list[str] = []
    first = 0
    for line_no, text, reason in lines:
        if text is None:
            if pending:  # an open record cannot continue across an undecodable line
                yield first, "\n".join(pending), "unterminated"
                pending = []
            yield line_no, None, reason
            continue
        if not pending:
            first = line_no
        pending.append(text)
        joined = "\n".join(pending)
        if joined.count('"') % 2 == 0 or not _quote_left_open(joined):
            yield first, joined, ""
            pending = []
        elif len(pending) >= MAX_RECORD_LINES:
            yield first, joined, "unterminated"
            pending = []
    if pending:
        yield first, "\n".join(pending), "unterminated"


def read_records(path: Path, ctx: ParseContext, spec: CsvSpec) -> Iterator[Record | Rejected]:
    """Every data record of the file as a Record, or a Rejected for a line that cannot be read."""
    reader = CsvReader(path, ctx, spec)
    for line_no, text, problem in _physical_records(path, reader.encoding):
        item = reader.item(line_no, text, problem)
        if item is not None:
            yield item


class CsvReader:
    """The records of one export in file order (read_records; ingest.services.bookings_copy)."""

    def __init__(self, path: Path, ctx: ParseContext, spec: CsvSpec) -> None:
        self.path, self.spec = path, spec
        self.encoding = detect_encoding(path, str(ctx.options.get("encoding") or "auto"))
        mapping = read_mapping(ctx.options.get("columns"), spec)
        self.header_of = {name: mapping.get(name, name) for name in spec.fields}
        self.positions: dict[str, int] | None = None
        self.width = 0

    def item(self, line_no: int, text: str | None, problem: str) -> Record | Rejected | None:
        """The record's Record or Rejected; None for the header and blank lines."""
        if text is None:
            if self.positions is None:
                raise InvalidOption(f"{self.path}: line {line_no}: the header is not valid {self.encoding}")
            return Rejected(line_no, "(encoding)", problem, "")
        if not text.strip():
            return None
        if problem == "unterminated":
            return Rejected(
                line_no,
                "(line)",
                f"a quoted field opened here is not closed within {MAX_RECORD_LINES} lines (a stray quote?)",
                redact(text),
            )
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error as err:
            return Rejected(line_no, "(line)", f"malformed CSV: {err} (a stray quote?)", redact(text))
        if self.positions is None:
            self.positions = _header_positions(self.path, fields, self.header_of, self.spec)
            self.width = len(fields)
            return None
        if len(fields) != self.width:
            return Rejected(
                line_no,
                "(line)",
                f"expected {self.width} fields as in the header, found {len(fields)} "
                "(a stray delimiter or quote?)",
                redact(text),
            )
        return Record(line_no, {name: fields[i] for name, i in self.positions.items()}, self.header_of)


def _header_positions(
    path: Path, fields: list[str], header_of: Mapping[str, str], spec: CsvSpec
) -> dict[str, int]:
    found = {f.strip().casefold(): i for i, f in enumerate(fields)}
    positions = {name: found[h.casefold()] for name, h in header_of.items() if h.casefold() in found}
    missing = [name for name in spec.required if name not in positions]
    if missing:
        wanted = ", ".join(f"{n} (as {header_of[n]!r})" if header_of[n] != n else n for n in missing)
        raise InvalidOption(
            f"{path}: line 1: the header lacks {wanted}; found {', '.join(f.strip() for f in fields)}. "
            "Map this export's headers with --columns 'field=Header,...' "
            f"(or {columns_option(spec.source).env}, or a columns.json beside the landing files)"
        )
    return positions


def quarantine_text(record: Record, spec: CsvSpec, ctx: ParseContext) -> str:
    """The record as CSV with person ids pseudonymised, free text withheld, the rest redacted."""
    shown = []
    for name, value in record.values.items():
        if name in spec.person_fields and value.strip():
            value = f"person:{ctx.pseudonymiser.pseudonym('person', value)}"
        elif name in spec.free_text_fields and value.strip():
            value = f"[{len(value.strip())} characters withheld]"
        else:
            value = redact(value)
        shown.append(f"{record.header_of.get(name, name)}={value}")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(shown)
    return buffer.getvalue()


def rows(
    path: Path,
    ctx: ParseContext,
    spec: CsvSpec,
    build: Callable[[Record], tuple[Any, ...]],
) -> Iterator[ParsedItem]:
    """Parse every record with `build`; a BadField sends the record to quarantine."""
    for item in read_records(path, ctx, spec):
        yield row_of(item, ctx, spec, build)


def row_of(
    item: Record | Rejected, ctx: ParseContext, spec: CsvSpec, build: Callable[[Record], tuple[Any, ...]]
) -> ParsedItem:
    """What `rows` yields for one record."""
    if isinstance(item, Rejected):
        return item
    try:
        return item.line, build(item)
    except BadField as bad:
        return Rejected(
            item.line, item.where(bad.field), str(bad), quarantine_text(item, spec, ctx), redacted=True
        )


# --- typed fields ------------------------------------------------------------------------------


def text(record: Record, name: str, *, required: bool = False) -> str | None:
    value = record.values.get(name, "").strip()
    if value.lower() in NULL_WORDS:
        if required:
            raise BadField(name, f"{record.where(name)} is required, found nothing")
        return None
    return value


def person(
    record: Record, ctx: ParseContext, name: str = "person_id", *, required: bool = False
) -> str | None:
    value = text(record, name, required=required)
    return ctx.pseudonymiser.pseudonym("person", value) if value else None


def zone_of(ctx: ParseContext) -> ZoneInfo:
    name = str(ctx.options.get("timezone") or DEFAULT_TIMEZONE)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidOption(f"--timezone {name!r} is not a time zone; write e.g. Asia/Shanghai") from None


_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})")


def moment(record: Record, name: str, zone: ZoneInfo, *, required: bool = False) -> datetime | None:
    """A timestamp: ISO 8601 with or without an offset, `2025-09-01 08:15[:00]`, or with slashes
    (`2025/9/1 8:15`, as spreadsheets write them). Without an offset it is local time in `zone`."""
    value = text(record, name, required=required)
    if value is None:
        return None
    candidate = _SLASHED.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", value)
    candidate = re.sub(r"[ T](\d):", r" 0\1:", candidate)  # 8:15 -> 08:15
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise BadField(name, f"expected a date and time like 2025-09-01 08:15:00, found {value!r}") from None
    if len(candidate) <= 10:
        raise BadField(name, f"expected a date and time, found only a date {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def day(record: Record, name: str, *, required: bool = False) -> date | None:
    value = text(record, name, required=required)
    if value is None:
        return None
    candidate = _SLASHED.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", value)
    try:
        return date.fromisoformat(candidate[:10])
    except ValueError:
        raise BadField(name, f"expected a date like 2025-09-01, found {value!r}") from None


def number(
    record: Record, name: str, *, low: Decimal, high: Decimal, required: bool = False
) -> Decimal | None:
    value = text(record, name, required=required)
    if value is None:
        return None
    try:
        parsed = Decimal(value.replace(",", "."))
    except InvalidOperation:
        raise BadField(name, f"expected a number, found {value!r}") from None
    if not parsed.is_finite() or not low <= parsed <= high:
        raise BadField(name, f"expected a number between {low} and {high}, found {value!r}")
    return parsed


def whole(record: Record, name: str, *, low: int, high: int, required: bool = False) -> int | None:
    value = text(record, name, required=required)
    if value is None:
        return None
    try:
        parsed = int(value.removesuffix(".0"))
    except ValueError:
        raise BadField(name, f"expected a whole number, found {value!r}") from None
    if not low <= parsed <= high:
        raise BadField(name, f"expected a whole number between {low} and {high}, found {parsed}")
    return parsed


def choice(record: Record, name: str, vocabulary: Mapping[str, str], *, required: bool = False) -> str | None:
    """One of a vocabulary, given as {accepted spelling (lower case): value}."""
    value = text(record, name, required=required)
    if value is None:
        return None
    key = re.sub(r"[\s_\-]+", " ", value.casefold()).strip()
    if key in vocabulary:
        return vocabulary[key]
    values = sorted(set(vocabulary.values()))
    raise BadField(name, f"expected one of {', '.join(values)}, found {value!r}")


TRUE_WORDS = {"1", "true", "t", "yes", "y", "是", "出席", "已出席", "签到", "已签到", "attended", "present"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "否", "缺席", "未出席", "未签到", "absent", "no show"}


def flag(record: Record, name: str) -> bool | None:
    value = text(record, name)
    if value is None:
        return None
    key = re.sub(r"[\s_\-]+", " ", value.casefold()).strip()
    if key in TRUE_WORDS:
        return True
    if key in FALSE_WORDS:
        return False
    raise BadField(name, f"expected yes or no (1/0, true/false, 是/否), found {value!r}")
