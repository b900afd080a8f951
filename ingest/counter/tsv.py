"""COUNTER R5 / R5.1 tabular reports (TSV, or CSV as saved from a spreadsheet): a header block of
`Name<TAB>Value` rows, a blank row, the column row, then one row per item, attributes and metric
with a column per month (`Jan-2022`, or `Jan-22`).

R5 has 12 header rows and R5.1 13, and R5.1 pads rows with trailing tabs: the reader relies on
neither, only on the blank row that ends the header. Rows are read with the csv module (tab- or
comma-separated, told from the first line), so a quoted cell may hold a tab or a comma.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ingest.counter.exceptions import (
    CounterException,
    CounterReportError,
    blocks_empty_report,
    failure_for,
    redact,
)
from ingest.counter.header import (
    ReportHeader,
    normalise_release,
    normalise_report_id,
    parse_created,
    parse_date,
)
from ingest.counter.items import parse_count, parse_yop, text_or_none
from ingest.model import ParseContext, ParsedItem, Rejected

# column -> counter_usage column
COLUMN_MAP = {
    "Publisher": "publisher",
    "Platform": "platform",
    "DOI": "doi",
    "ISBN": "isbn",
    "Print_ISSN": "print_issn",
    "Online_ISSN": "online_issn",
    "Proprietary_ID": "proprietary_id",
    "URI": "uri",
    "Parent_Title": "parent_title",
    "Data_Type": "data_type",
    "Section_Type": "section_type",
    "Access_Type": "access_type",
    "Access_Method": "access_method",
}
# The column that names a report's rows, by report family: a DR whose rows are titles is mislabelled.
NAME_COLUMN_OF = {"TR": "Title", "DR": "Database", "PR": "Platform", "IR": "Item"}
MONTH_COLUMN = re.compile(r"^[A-Z][a-z]{2}-(\d{4}|\d{2})$")
MAX_ROW_LINES = 20  # a quoted cell may hold a line break; one running on longer is a stray quote
# `3031: Usage Not Ready for Requested Dates (2022-12)`, several joined by `; `
EXCEPTION_TEXT = re.compile(r"(\d{1,4}):\s*([^;(]*)(?:\(([^)]*)\))?")


def _trimmed(cells: list[str]) -> list[str]:
    while cells and cells[-1] == "":
        cells.pop()  # R5.1 pads rows with trailing tabs (and spreadsheets with commas)
    return cells


def rows_of(handle: Iterable[str]) -> Iterator[tuple[int, list[str], str]]:
    """(first line, cells, raw text) of each row: tab-separated, or comma-separated when the
    first line has a comma and no tab. Quoted cells may hold the separator or a line break."""
    lines = iter(handle)
    first = next(lines, "")
    delimiter = "," if "\t" not in first and "," in first else "\t"
    numbered = _Numbered([first], lines)
    reader = csv.reader(numbered, delimiter=delimiter, quotechar='"')
    while True:
        start = numbered.line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield start, ["\x00csv-error", str(err)], numbered.last
            continue
        if numbered.line - start >= MAX_ROW_LINES:  # a stray quote ran on: one row, quarantined
            yield (
                start,
                [
                    "\x00csv-error",
                    f"a quote opened on line {start} runs on for "
                    f"{numbered.line - start + 1} lines (a stray quote?)",
                ],
                numbered.last,
            )
            continue
        yield start, _trimmed(cells), numbered.last


class _Numbered:
    """The lines of a file as csv.reader takes them, counting them and keeping the last ones."""

    def __init__(self, head: list[str], rest: Iterator[str]) -> None:
        self.head, self.rest, self.line, self.last = head, rest, 0, ""

    def __iter__(self) -> _Numbered:
        return self

    def __next__(self) -> str:
        text = self.head.pop() if self.head else next(self.rest)
        if not text:
            raise StopIteration  # an empty file
        self.line += 1
        self.last = text.rstrip("\r\n")
        return text


def parse_exceptions(text: str) -> tuple[CounterException, ...]:
    return tuple(
        CounterException(
            code=int(m[1]), severity=None, message=m[2].strip(), data=redact(m[3].strip()) if m[3] else None
        )
        for m in EXCEPTION_TEXT.finditer(text or "")
    )


def header_from_fields(fields: dict[str, str], ctx: ParseContext, where: str) -> ReportHeader:
    report_id = normalise_report_id(fields.get("Report_ID"))
    release = normalise_release(fields.get("Release"))
    if report_id is None or release not in ("5", "5.1"):
        raise CounterReportError(
            f"{where}: not a COUNTER R5/R5.1 TSV report: expected Report_ID and Release 5 or 5.1 "
            f"in the header rows, found Report_ID={fields.get('Report_ID')!r} "
            f"Release={fields.get('Release')!r}"
        )
    period = dict(
        part.strip().split("=", 1) for part in fields.get("Reporting_Period", "").split(";") if "=" in part
    )
    spelled = re.fullmatch(
        r"\s*(\d{4}-\d{2}-\d{2})\s+to\s+(\d{4}-\d{2}-\d{2})\s*", fields.get("Reporting_Period", "")
    )
    if spelled and not period:  # `2017-01-01 to 2017-06-30`, as the COUNTER examples write it
        period = {"Begin_Date": spelled[1], "End_Date": spelled[2]}
    institution = fields.get("Institution_ID", "")
    customer_id = (
        ctx.options.get("customer_id")
        or fields.get("Customer_ID")
        or "|".join(p.strip() for p in institution.split(";") if p.strip())
        or None
    )
    return ReportHeader(
        report_id=report_id,
        release=release,
        customer_id=customer_id,
        institution_name=text_or_none(fields.get("Institution_Name")),
        created=parse_created(fields.get("Created")),
        created_by=text_or_none(fields.get("Created_By")),
        period_begin=parse_date(period.get("Begin_Date")),
        period_end=parse_date(period.get("End_Date")),
        exceptions=parse_exceptions(fields.get("Exceptions", "")),
    )


def read_header_block(rows: Iterator[tuple[int, list[str], str]], where: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for _, cells, _ in rows:
        if not cells:
            return fields
        fields[cells[0].strip()] = cells[1].strip() if len(cells) > 1 else ""
    raise CounterReportError(f"{where}: the file ends inside the header block (no blank row)")


def _column_row(rows: Iterator[tuple[int, list[str], str]], where: str, report_id: str) -> list[str]:
    """The first non-blank row after the header block names the columns."""
    for line_no, cells, _ in rows:
        columns = [c.strip() for c in cells]
        if not columns:
            continue
        if "Metric_Type" not in columns:
            raise CounterReportError(
                f"{where}: line {line_no}: expected the column row (Title/Database/Platform/Item "
                f"... Metric_Type ... Jan-2022) after the header's blank row, found {columns[:5]}"
            )
        expected = NAME_COLUMN_OF.get(report_id[:2])
        if expected and expected not in columns:
            raise CounterReportError(
                f"{where}: line {line_no}: the header says Report_ID {report_id}, but the columns have no "
                f"{expected} column (found {', '.join(columns[:4])}, ...): the report is mislabelled"
            )
        return columns
    return []


def _month(column: str) -> date:
    return datetime.strptime(column, "%b-%Y" if len(column) == 8 else "%b-%y").date()


def parse(path: Path, ctx: ParseContext) -> Iterator[ParsedItem]:
    """counter-tsv: one row per item, attributes, metric type and month (zero months included:
    the TSV states them, and they let a corrected month replace an old figure)."""
    where = str(path)
    # a byte that is not UTF-8 becomes U+FFFD in its cell; the rest of the row still loads
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        lines = rows_of(handle)
        header = header_from_fields(read_header_block(lines, where), ctx, where)
        columns = _column_row(lines, where, header.report_id)
        rows = 0
        for line_no, cells, line in lines:
            if not cells:
                continue
            if cells[0] == "\x00csv-error":
                yield Rejected(line_no, "row", f"malformed row: {cells[1]}", line)
                continue
            for item in _row(header, columns, cells, line_no, line):
                rows += 1
                yield item
    if rows == 0 and blocks_empty_report(header.exceptions):
        raise failure_for(where, header.exceptions)


def _row(
    header: ReportHeader, columns: list[str], cells: list[str], line_no: int, line: str
) -> Iterator[ParsedItem]:
    raw = line.rstrip("\r\n")
    if len(cells) > len(columns):
        yield Rejected(line_no, "row", f"expected at most {len(columns)} cells, found {len(cells)}", raw)
        return
    record = dict(zip(columns, cells + [""] * (len(columns) - len(cells)), strict=True))
    metric = record.get("Metric_Type", "").strip()
    if not metric:
        if not any(record.get(c, "").strip() for c in columns if MONTH_COLUMN.match(c)):
            return  # a name and nothing else: no usage to record (the COUNTER examples have one)
        yield Rejected(line_no, "Metric_Type", "expected a metric type", raw)
        return
    try:
        yop = parse_yop(record.get("YOP"))
    except ValueError as err:
        yield Rejected(line_no, "YOP", str(err), raw)
        return
    values: dict[str, Any] = {column: text_or_none(record.get(name)) for name, column in COLUMN_MAP.items()}
    values["item_name"] = next(
        (text_or_none(record[c]) for c in header.name_fields if text_or_none(record.get(c))), None
    )
    values["yop"] = yop
    values["metric_type"] = metric
    months: list[tuple[date, int]] = []
    for column in columns:
        if not MONTH_COLUMN.match(column):
            continue
        try:
            months.append((_month(column), parse_count(record[column] or "0")))
        except ValueError as err:
            yield Rejected(line_no, column, str(err), raw)
            return
    total_text = record.get("Reporting_Period_Total", "").strip()
    if total_text:
        try:
            total = parse_count(total_text)
        except ValueError as err:
            yield Rejected(line_no, "Reporting_Period_Total", str(err), raw)
            return
        if total != sum(count for _, count in months):
            yield Rejected(
                line_no,
                "Reporting_Period_Total",
                f"expected the sum of the month columns ({sum(c for _, c in months)}), found "
                f"{total}: the row is inconsistent",
                raw,
            )
            return
    for month, count in months:
        yield line_no, header.row({**values, "month": month, "count": count})
