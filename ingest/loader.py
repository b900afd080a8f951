"""Load parsed rows into `raw` with COPY, one batch id per load, bad rows to quarantine.

A load is one transaction: the good rows, the quarantined rows and the load-log entry commit
together or not at all. A file whose checksum was already loaded into the same table is skipped,
so loading the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ingest.errors import LoadRejected, SourceFileMissing
from ingest.model import Format, ParseContext, ParsedItem, RawTable, Rejected
from ingest.pipelined import can_pipeline, parse_in_workers
from ingest.privacy.quarantine import redact_rejected

PROGRESS_EVERY = 50_000
# Look at the share of bad rows early, so that a wrong format fails in seconds, not at the end.
EARLY_CHECK_AFTER = 2_000


__all__ = ["LoadRejected", "LoadResult", "load_file", "load_rows"]


@dataclass
class LoadResult:
    source: str
    format: str
    table: str
    file: str
    batch_id: str
    rows_loaded: int
    rows_quarantined: int
    skipped: bool = False
    replaced_rows: int = 0
    started_at: str = ""
    finished_at: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _already_loaded(conn: psycopg.Connection, table: RawTable, checksum: str) -> str | None:
    row = conn.execute(
        "select batch_id::text from raw.load_log where target_table = %s and checksum = %s "
        "and status = 'loaded' order by finished_at desc limit 1",
        (table.name, checksum),
    ).fetchone()
    return row[0] if row else None


def _describe(rejects: list[Rejected]) -> str:
    return "; ".join(f"line {r.line} field {r.field}: {r.reason}" for r in rejects)


def load_rows(
    conn: psycopg.Connection,
    fmt: Format,
    path: Path,
    items: Iterable[ParsedItem] | None,
    *,
    checksum: str,
    max_reject_share: float,
    on_progress: Callable[[int], None] | None = None,
    file_label: str | None = None,
    ctx: ParseContext | None = None,
) -> LoadResult:
    """COPY `items` into fmt.table inside one transaction. The caller checked idempotency.

    `items=None` parses the file in worker processes (`ingest.pipelined`; needs `ctx`)."""
    table = fmt.table
    label = file_label or str(path)
    batch_id = uuid.uuid4()
    started = datetime.now(UTC)
    good = bad = 0
    first_rejects: list[Rejected] = []
    copy_sql = sql.SQL("copy raw.{} ({}) from stdin").format(
        sql.Identifier(table.name),
        sql.SQL(", ").join(
            sql.Identifier(c) for c in ("batch_id", "source_file", "source_line", *table.column_names)
        ),
    )

    def check_share(final: bool) -> None:
        total = good + bad
        if bad and total and bad / total > max_reject_share and (final or total >= EARLY_CHECK_AFTER):
            raise LoadRejected(
                f"{label}: {bad} of {total} rows ({bad / total:.1%}) were rejected, more than the "
                f"limit of {max_reject_share:.0%}, so nothing was loaded. First problems: "
                f"{_describe(first_rejects)}. If the file is in another format, pass the right "
                "--format (or --log-format); if these rows really are bad, fix them or raise the "
                "limit with --max-reject-share or URM_MAX_REJECT_SHARE."
            )

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        spool_writer = csv.writer(spool)

        def reject(item: Rejected) -> None:
            nonlocal bad
            item = redact_rejected(fmt, item, ctx, path)  # quarantine keeps no identifier in clear
            bad += 1
            if len(first_rejects) < 5:
                first_rejects.append(item)
            spool_writer.writerow((item.line, item.field, item.reason, item.raw))
            if bad % 100 == 0:
                check_share(final=False)

        with conn.transaction():
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                if items is None:  # a large line-oriented file: parsed by workers, see pipelined
                    assert ctx is not None
                    for chunk in parse_in_workers(fmt, path, ctx, batch_id=batch_id, label=label):
                        copy.write(chunk.copy_text)
                        good += chunk.rows
                        for rejected in chunk.rejected:
                            reject(rejected)
                        if on_progress is not None:
                            on_progress(good + bad)
                else:
                    for item in items:
                        if type(item) is Rejected:
                            reject(item)
                            continue
                        line, values = item  # type: ignore[misc]
                        copy.write_row((batch_id, label, line, *values))
                        good += 1
                        if on_progress is not None and good % PROGRESS_EVERY == 0:
                            on_progress(good + bad)
            check_share(final=True)
            spool.seek(0)
            with conn.cursor() as cur:
                with cur.copy(
                    "copy quarantine.rejected_rows (batch_id, source, format, target_table, "
                    "source_file, source_line, field, reason, raw_text) from stdin"
                ) as copy:
                    for line_no, field_name, reason, raw in csv.reader(spool):
                        copy.write_row(
                            (
                                batch_id,
                                fmt.source,
                                fmt.name,
                                table.name,
                                label,
                                int(line_no),
                                field_name,
                                reason,
                                raw,
                            )
                        )
                warnings: list[str] = []
                if fmt.after_load is not None and ctx is not None:
                    warnings = list(fmt.after_load(conn, str(batch_id), label, path, ctx) or ())
                replaced = 0
                if table.replace_keys:
                    replaced = _replace_older(cur, table, batch_id)
                finished = datetime.now(UTC)
                cur.execute(
                    "insert into raw.load_log (batch_id, source, format, target_table, source_file, "
                    "checksum, rows_loaded, rows_quarantined, rows_replaced, started_at, finished_at, "
                    "status) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'loaded')",
                    (
                        batch_id,
                        fmt.source,
                        fmt.name,
                        table.name,
                        label,
                        checksum,
                        good,
                        bad,
                        replaced,
                        started,
                        finished,
                    ),
                )
    if on_progress is not None:
        on_progress(good + bad)
    return LoadResult(
        source=fmt.source,
        format=fmt.name,
        table=table.name,
        file=label,
        batch_id=str(batch_id),
        rows_loaded=good,
        rows_quarantined=bad,
        replaced_rows=replaced,
        started_at=started.isoformat(),
        finished_at=finished.isoformat(),
        warnings=warnings,
    )


def _replace_older(cur: psycopg.Cursor, table: RawTable, batch_id: uuid.UUID) -> int:
    keys = [sql.Identifier(k) for k in table.replace_keys]
    match = sql.SQL(" and ").join(sql.SQL("old.{k} is not distinct from new.{k}").format(k=k) for k in keys)
    cur.execute(
        sql.SQL(
            "delete from raw.{t} as old using (select distinct {keys} from raw.{t} where batch_id = %s) "
            "as new where old.batch_id <> %s and {match}"
        ).format(t=sql.Identifier(table.name), keys=sql.SQL(", ").join(keys), match=match),
        (batch_id, batch_id),
    )
    return cur.rowcount


def load_file(
    conn: psycopg.Connection,
    fmt: Format,
    path: Path,
    ctx: ParseContext,
    *,
    max_reject_share: float,
    on_progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Parse and load one file; skip it when the same content was loaded into the table before."""
    path = Path(path)
    if not path.is_file():
        raise SourceFileMissing(f"{path}: no such file")
    checksum = file_checksum(path)
    previous = _already_loaded(conn, fmt.table, checksum)
    if previous:
        return LoadResult(
            source=fmt.source,
            format=fmt.name,
            table=fmt.table.name,
            file=str(path),
            batch_id=previous,
            rows_loaded=0,
            rows_quarantined=0,
            skipped=True,
        )
    items: Iterator[ParsedItem] | None = None if can_pipeline(fmt, path, ctx) else fmt.parse(path, ctx)
    result = load_rows(
        conn,
        fmt,
        path,
        items,
        checksum=checksum,
        max_reject_share=max_reject_share,
        on_progress=on_progress,
        ctx=ctx,
    )
    if result.rows_loaded:
        # Fresh statistics before anything queries the new rows: the validation that follows a
        # load otherwise gets planned on an empty-looking table (nested loops over 400k rows).
        conn.execute(sql.SQL("analyze raw.{}").format(sql.Identifier(fmt.table.name)))
    return result
