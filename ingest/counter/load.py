"""What the COUNTER formats add to the generic loader: the exceptions a report carries (written
to raw.counter_exceptions in the load's own transaction, returned as warnings), and the SUSHI
harvest as the fetch step of format `sushi`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from ingest.counter import json_report, tsv
from ingest.counter.exceptions import CounterException
from ingest.counter.header import ReportHeader
from ingest.counter.sushi import SushiCredentials, harvest
from ingest.counter.tables import COUNTER_EXCEPTIONS
from ingest.errors import InvalidOption
from ingest.model import Fetched, ParseContext


def _header_of(format_name: str, path: Path, ctx: ParseContext) -> ReportHeader:
    if format_name == "counter-json":
        return json_report.read_report(path, ctx)[0]
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        return tsv.header_from_fields(tsv.read_header_block(tsv.rows_of(handle), str(path)), ctx, str(path))


def _write_exceptions(
    conn: psycopg.Connection,
    batch_id: str,
    label: str,
    header: ReportHeader,
    exceptions: tuple[CounterException, ...],
) -> None:
    columns = ("batch_id", "source_file", "source_line", *COUNTER_EXCEPTIONS.column_names)
    with (
        conn.cursor() as cur,
        cur.copy(f"copy raw.{COUNTER_EXCEPTIONS.name} ({', '.join(columns)}) from stdin") as copy,
    ):
        for position, exc in enumerate(exceptions, start=1):
            copy.write_row(
                (
                    batch_id,
                    label,
                    position,
                    header.report_id,
                    header.release,
                    header.customer_id,
                    header.period_begin,
                    header.period_end,
                    exc.code,
                    exc.severity,
                    exc.message,
                    exc.data,
                    exc.help_url,
                    exc.explanation,
                )
            )


def record_exceptions(format_name: str):
    """The after_load hook of the COUNTER formats: the report's exceptions, same batch id;
    their explanations come back as the load's warnings."""

    def after_load(
        conn: psycopg.Connection, batch_id: str, label: str, path: Path, ctx: ParseContext
    ) -> list[str]:
        header = _header_of(format_name, path, ctx)
        _write_exceptions(conn, batch_id, label, header, header.exceptions)
        return [e.explanation for e in header.exceptions]

    return after_load


def month_start(text: str) -> date:
    """'2025-03' (or '2025-03-17') -> date(2025, 3, 1)."""
    try:
        year, month = str(text)[:7].split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise InvalidOption(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2025-03") from None


def sushi_fetch(base_url: str, options: Mapping[str, Any], landing: Path) -> Fetched:
    """The fetch step of `--format sushi`: harvest one platform's reports into the landing
    folder (counter/harvested/...); they are then loaded as counter-json."""
    platform, begin = options.get("platform"), options.get("begin")
    if not platform or not begin:
        raise InvalidOption("--platform and --begin YYYY-MM are required with --format sushi")
    credentials = SushiCredentials.from_env(str(options.get("credentials_prefix") or "URM_SUSHI_"))
    harvested = harvest(
        base_url,
        platform=str(platform),
        reports=list(options.get("report") or ("TR", "DR", "PR", "IR")),
        begin=month_start(str(begin)),
        end=month_start(str(options.get("end") or begin)),
        credentials=credentials,
        landing_dir=landing / "counter" / "harvested",
    )
    return Fetched([h.path for h in harvested], {"customer_id": credentials.customer_id})
