"""Load COUNTER files with their exceptions: usage rows, quarantined rows, the load log and the
exceptions the report carries commit together in one transaction.

The generic loader knows nothing of exceptions, so this wraps `load_rows` in an outer transaction
(its own becomes a savepoint) and writes raw.counter_exceptions with the same batch id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from ingest.counter import json_report, tsv
from ingest.counter.exceptions import CounterException
from ingest.counter.header import ReportHeader
from ingest.counter.sushi import SushiCredentials, harvest
from ingest.counter.tables import COUNTER_EXCEPTIONS
from ingest.loader import LoadResult, load_file
from ingest.model import ParseContext
from ingest.pseudonym import Pseudonymiser
from ingest.registry import get_format
from ingest.run import connect
from ingest.schema import migrate


@dataclass
class CounterLoadResult:
    load: LoadResult
    exceptions: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return self.exceptions


def _header_of(format_name: str, path: Path, ctx: ParseContext) -> ReportHeader:
    if format_name == "counter-json":
        return json_report.read_report(path, ctx)[0]
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = enumerate(handle, start=1)
        return tsv.header_from_fields(tsv.read_header_block(lines, str(path)), ctx, str(path))


def _write_exceptions(
    conn: psycopg.Connection, batch_id: str, label: str, header: ReportHeader,
    exceptions: tuple[CounterException, ...],
) -> None:
    columns = ("batch_id", "source_file", "source_line", *COUNTER_EXCEPTIONS.column_names)
    with conn.cursor() as cur, cur.copy(
        f"copy raw.{COUNTER_EXCEPTIONS.name} ({', '.join(columns)}) from stdin"
    ) as copy:
        for position, exc in enumerate(exceptions, start=1):
            copy.write_row((
                batch_id, label, position, header.report_id, header.release, header.customer_id,
                header.period_begin, header.period_end, exc.code, exc.severity, exc.message,
                exc.data, exc.help_url, exc.explanation,
            ))


def record_exceptions(format_name: str):  # noqa: ANN201
    """The after_load hook of the COUNTER formats: the report's exceptions, same batch id."""

    def after_load(conn: psycopg.Connection, batch_id: str, label: str, path: Path,
                   ctx: ParseContext) -> None:
        header = _header_of(format_name, path, ctx)
        _write_exceptions(conn, batch_id, label, header, header.exceptions)

    return after_load


def load_counter_file(
    conn: psycopg.Connection, format_name: str, path: Path, ctx: ParseContext, *,
    max_reject_share: float,
) -> CounterLoadResult:
    """Parse and load one COUNTER file (the same content loaded before is skipped), with the
    warnings its header carries. Raises CounterReportError (with the COUNTER code) when the file
    holds no usable report."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    header = _header_of(format_name, path, ctx)
    notes = [e.explanation for e in header.exceptions]
    result = load_file(conn, get_format("counter", format_name), path, ctx,
                       max_reject_share=max_reject_share)
    if not result.skipped and result.rows_loaded == 0:
        notes.append(
            f"{path}: the report holds no usage for {header.period_begin} to {header.period_end}"
        )
    return CounterLoadResult(result, notes)


def ingest_counter_files(
    url: str,
    format_name: str,
    paths: Iterable[Path | str],
    *,
    key: bytes,
    max_reject_share: float,
    options: Mapping[str, Any] | None = None,
) -> list[CounterLoadResult]:
    """The counter source's entry point for the CLI and the DAG (`--format counter-json|tsv`)."""
    ctx = ParseContext(pseudonymiser=Pseudonymiser(key), options=dict(options or {}))
    with connect(url) as conn:
        migrate(conn)
        return [
            load_counter_file(conn, format_name, Path(p), ctx, max_reject_share=max_reject_share)
            for p in paths
        ]


def harvest_and_load(
    url: str,
    base_url: str,
    *,
    platform: str,
    reports: Sequence[str],
    begin: date,
    end: date,
    credentials: SushiCredentials,
    landing_dir: Path,
    key: bytes,
    max_reject_share: float,
) -> list[CounterLoadResult]:
    """Harvest the reports of one platform over SUSHI, then load the landing files (with their
    warnings). SushiError (SushiNoUsage for 3030) propagates when a report came without usage."""
    harvested = harvest(base_url, platform=platform, reports=reports, begin=begin, end=end,
                        credentials=credentials, landing_dir=landing_dir)
    return ingest_counter_files(url, "counter-json", [h.path for h in harvested], key=key,
                                max_reject_share=max_reject_share,
                                options={"customer_id": credentials.customer_id})
