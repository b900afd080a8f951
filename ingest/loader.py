"""Load parsed rows into `raw` with COPY, one batch id per load, bad rows to quarantine.

A load is one transaction: the good rows, the quarantined rows and the load-log entry commit
together or not at all, so a load killed at any point leaves nothing and its re-run lands every
row once. A file whose checksum was already loaded into the same table is skipped, so loading
the same file twice changes nothing.

What else keeps "nothing lost, nothing doubled" true:
- Concurrency: a load holds an advisory lock on (table, checksum) -- on (table, first line) for
  an append-only log, whose content changes as it grows -- and looks at the load log again once
  it has it. A second load of the same file waits for the first, then finds it loaded and skips;
  after `URM_LOAD_LOCK_WAIT` seconds (default 3600) it gives up with LoadInProgress. Replacing
  older rows by key (COUNTER) is serialised per table, so that the later of two loads wins.
- Growth: an append-only format's file that begins with the content an earlier load covered
  (same bytes, checked by SHA-256) is loaded from where that load stopped, with the right line
  numbers. A last line without its newline is loaded, and read again from its start next time.
- Hostile rows: a row that PostgreSQL refuses as text (a NUL byte) is quarantined by the writer;
  a value the server refuses (a number out of range for its column, a null in a required
  column) is found from the server's error, and the file is loaded again with that row
  quarantined, up to MAX_REFUSED_ROWS rows. No row is ever built into SQL text: values travel
  as COPY data.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ingest.errors import InvalidOption, LoadInProgress, LoadRejected, SourceFileMissing
from ingest.model import Format, ParseContext, ParsedItem, RawTable, Rejected
from ingest.pipelined import (
    GZIP_ERRORS,
    Chunk,
    can_pipeline,
    corrupt_gzip,
    numbered_lines,
    open_bytes,
    parse_in_process,
    parse_in_workers,
)
from ingest.privacy.quarantine import redact_rejected
from ingest.rowtext import row_text, storable, unwritable

PROGRESS_EVERY = 50_000
# Look at the share of bad rows early, so that a wrong format fails in seconds, not at the end.
EARLY_CHECK_AFTER = 2_000
# Rows of one file the server may refuse (value out of range...) before the load gives up:
# each one costs a new pass over the file.
MAX_REFUSED_ROWS = 20
LOCK_WAIT_ENV = "URM_LOAD_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 3600.0
HEAD_LIMIT = 1 << 16  # the first line of an append-only log identifies it (up to 64 KiB)

log = logging.getLogger(__name__)


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
    # First line loaded: 1, or where a grown append-only file went on from its previous load.
    first_line: int = 1
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


@dataclass(frozen=True)
class Prefix:
    """What a load of an append-only file covered, from the start of its (gunzipped) content:
    its complete lines (bytes, count, SHA-256), the first line's SHA-256 that finds it again,
    and the bytes after the last newline, loaded as one more line."""

    head_checksum: str | None
    content_bytes: int
    content_lines: int
    content_checksum: str
    tail_bytes: int


@dataclass(frozen=True)
class Resume:
    """Where a grown file goes on: the byte offset and number of the first line to load, and
    the earlier batch whose unterminated last line (if any) is read again from its start."""

    offset: int
    first_line: int
    previous_batch: str
    previous_tail: bool


class _RowRefused(Exception):
    """The server refused the `ordinal`-th written row of this load (see load_file)."""

    def __init__(self, ordinal: int, field: str, reason: str) -> None:
        super().__init__(reason)
        self.ordinal, self.field, self.reason = ordinal, field, reason


_COPY_LINE = re.compile(r"^COPY \S+, line (\d+)(?:, column (\w+))?")


def _refused_row(err: psycopg.Error, table: RawTable) -> tuple[int, str, str] | None:
    """(COPY line, column, reason) of a row-level refusal by the server, else None."""
    context = (err.diag.context or "").strip()
    found = _COPY_LINE.match(context)
    if not found or not context.startswith(f"COPY {table.name},"):
        return None
    column = found[2] or err.diag.column_name or "(row)"
    message = err.diag.message_primary or str(err).splitlines()[0]
    return int(found[1]), column, f"refused by the warehouse: {message}"


def _original_ordinal(written: int, refused: Mapping[int, Any]) -> int:
    """The ordinal among formatted rows of the `written`-th row that reached COPY, when the
    rows at the `refused` ordinals were held back."""
    ordinal = written
    for skipped in sorted(refused):
        if skipped <= ordinal:
            ordinal += 1
    return ordinal


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
    refused: Mapping[int, tuple[str, str]] | None = None,
    resume: Resume | None = None,
    prefix: Prefix | None = None,
    chunks: Callable[[uuid.UUID, str], Iterable[Chunk]] | None = None,
) -> LoadResult:
    """COPY `items` into fmt.table inside one transaction. The caller checked idempotency.

    `items=None` takes the rows as COPY text chunks from `chunks(batch_id, file label)`, or else
    parses the file in worker processes (`ingest.pipelined`; needs `ctx`).
    `refused` maps ordinals of rows (counted among the rows that could be written) that the
    server refused in an earlier attempt to (field, reason): they go to quarantine instead.
    `resume` and `prefix` are set for append-only files (see load_file)."""
    table = fmt.table
    label = file_label or str(path)
    batch_id = uuid.uuid4()
    started = datetime.now(UTC)
    good = bad = 0
    ordinal = 0  # rows formatted for COPY so far, the refused ones included
    refused = refused or {}
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
            # NUL bytes and lone surrogates cannot be stored, not even in the quarantine
            spool_writer.writerow(
                (item.line, storable(item.field), storable(item.reason), storable(item.raw))
            )
            if bad % 100 == 0:
                check_share(final=False)

        def write_chunk(copy: Any, text: bytes, rows: int) -> None:
            """A workers' chunk of COPY text, less the rows refused in an earlier attempt."""
            nonlocal good, ordinal
            first, ordinal = ordinal + 1, ordinal + rows
            held = [o for o in refused if first <= o <= ordinal]
            if held:
                lines = text.split(b"\n")  # COPY text escapes newlines inside values
                for o in held:
                    fields = lines[o - first].decode("utf-8", errors="replace").split("\t")
                    reject(Rejected(int(fields[2]), *refused[o], "\t".join(fields[3:]), redacted=True))
                    lines[o - first] = b""
                text = b"".join(line + b"\n" for line in lines[:rows] if line)
            copy.write(text)
            good += rows - len(held)

        replaced = 0
        with conn.transaction():
            if resume is not None and resume.previous_tail:
                # The earlier load stopped inside a line still being written: its copy of that
                # line goes, and the line is read again whole from its start.
                replaced = _forget_line(conn, table, resume.previous_batch, resume.first_line)
            try:
                with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                    if items is None:  # COPY text: a fast parser's, or workers' (see pipelined)
                        assert ctx is not None
                        start = (resume.offset, resume.first_line) if resume is not None else (0, 1)
                        made = (
                            chunks(batch_id, label)
                            if chunks is not None
                            else parse_in_workers(fmt, path, ctx, batch_id=batch_id, label=label, start=start)
                        )
                        for chunk in made:
                            write_chunk(copy, chunk.copy_text, chunk.rows)
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
                            if refused and ordinal + 1 in refused:
                                ordinal += 1
                                reject(Rejected(line, *refused[ordinal], row_text(values), redacted=True))
                                continue
                            try:
                                copy.write_row((batch_id, label, line, *values))
                            except (psycopg.DataError, UnicodeEncodeError) as error:
                                if getattr(error, "sqlstate", None):
                                    raise  # the server's, about an earlier row: handled below
                                reject(unwritable(table, line, values, error))  # a NUL byte, say
                                continue
                            ordinal += 1
                            good += 1
                            if on_progress is not None and good % PROGRESS_EVERY == 0:
                                on_progress(good + bad)
            except (psycopg.DataError, psycopg.IntegrityError) as error:
                where = _refused_row(error, table)
                if where is None:
                    raise
                written, column, reason = where
                raise _RowRefused(_original_ordinal(written, refused), column, reason) from error
            check_share(final=True)
            spool.seek(0)
            with conn.cursor() as cur:
                if bad:  # no round trips for an empty quarantine
                    _copy_quarantine(cur, csv.reader(spool), batch_id, fmt, label)
                warnings: list[str] = []
                if fmt.after_load is not None and ctx is not None:
                    warnings = list(fmt.after_load(conn, str(batch_id), label, path, ctx) or ())
                if table.replace_keys:
                    # Two loads replacing rows of the same table take turns: the later one
                    # then sees the earlier one's rows (a new snapshot) and replaces them.
                    cur.execute(
                        "select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        (f"urm.replace:{table.name}",),
                    )
                    replaced += _replace_older(cur, table, batch_id)
                finished = datetime.now(UTC)
                cur.execute(
                    "insert into raw.load_log (batch_id, source, format, target_table, source_file, "
                    "checksum, rows_loaded, rows_quarantined, rows_replaced, started_at, finished_at, "
                    "status, head_checksum, content_bytes, content_lines, content_checksum, tail_bytes, "
                    "first_line) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'loaded', "
                    "%s, %s, %s, %s, %s, %s)",
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
                        *(
                            (
                                prefix.head_checksum,
                                prefix.content_bytes,
                                prefix.content_lines,
                                prefix.content_checksum,
                                prefix.tail_bytes,
                            )
                            if prefix is not None
                            else (None,) * 5
                        ),
                        resume.first_line if resume is not None else 1,
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
        first_line=resume.first_line if resume is not None else 1,
    )


def _copy_quarantine(
    cur: psycopg.Cursor, entries: Iterable[list[str]], batch_id: uuid.UUID, fmt: Format, label: str
) -> None:
    """COPY the spooled (line, field, reason, raw) entries of a load into the quarantine."""
    with cur.copy(
        "copy quarantine.rejected_rows (batch_id, source, format, target_table, "
        "source_file, source_line, field, reason, raw_text) from stdin"
    ) as copy:
        for line_no, field_name, reason, raw in entries:
            copy.write_row(
                (batch_id, fmt.source, fmt.name, fmt.table.name, label, int(line_no), field_name, reason, raw)
            )


def _forget_line(conn: psycopg.Connection, table: RawTable, batch_id: str, line: int) -> int:
    """Remove what an earlier batch kept of one line (its row, or its quarantine entry)."""
    removed = conn.execute(
        sql.SQL("delete from raw.{} where batch_id = %s and source_line = %s").format(
            sql.Identifier(table.name)
        ),
        (batch_id, line),
    ).rowcount
    conn.execute(
        "delete from quarantine.rejected_rows where batch_id = %s and source_line = %s", (batch_id, line)
    )
    return removed


def _replace_older(cur: psycopg.Cursor, table: RawTable, batch_id: uuid.UUID) -> int:
    """Delete the rows of earlier batches that share a replace key with this batch (NULL matches
    NULL). Keys without a NULL part match by `=`, which the index on the keys serves (the
    migration creates it): one `is not distinct from` over all keys cannot use an index or a hash,
    and made every load compare each new key with every row of the table (a year of monthly
    counter files took minutes). Keys with a NULL part (a COUNTER report without customer id)
    are rare and matched by `is not distinct from` only when this batch has one."""
    keys = [sql.Identifier(k) for k in table.replace_keys]
    key_list = sql.SQL(", ").join(keys)
    any_null = sql.SQL(" or ").join(sql.SQL("{k} is null").format(k=k) for k in keys)
    passes = [
        (
            sql.SQL("not ({})").format(any_null),
            sql.SQL(" and ").join(sql.SQL("old.{k} = new.{k}").format(k=k) for k in keys),
        ),
    ]
    has_null = cur.execute(
        sql.SQL("select exists (select 1 from raw.{t} where batch_id = %s and ({n}))").format(
            t=sql.Identifier(table.name), n=any_null
        ),
        (batch_id,),
    ).fetchone()
    if has_null and has_null[0]:
        # NULL matches NULL: the keys compared as JSON arrays (null is a value there), which a hash
        # join serves; `is not distinct from` on each part cannot, and compared every new key with
        # every old row (a bidirectional people counter, channel null, took 2.4 s a month rising
        # to 5.9 s after a year of its files)
        passes.append(
            (
                any_null,
                sql.SQL("jsonb_build_array({o}) = jsonb_build_array({n})").format(
                    o=sql.SQL(", ").join(sql.SQL("old.{k}").format(k=k) for k in keys),
                    n=sql.SQL(", ").join(sql.SQL("new.{k}").format(k=k) for k in keys),
                ),
            )
        )
    deleted = 0
    for which, match in passes:
        cur.execute(
            sql.SQL(
                "delete from raw.{t} as old using (select distinct {keys} from raw.{t} "
                "where batch_id = %s and ({which})) as new where old.batch_id <> %s and {match}"
            ).format(t=sql.Identifier(table.name), keys=key_list, which=which, match=match),
            (batch_id, batch_id),
        )
        deleted += cur.rowcount
    return deleted


def load_file(
    conn: psycopg.Connection,
    fmt: Format,
    path: Path,
    ctx: ParseContext,
    *,
    max_reject_share: float,
    on_progress: Callable[[int], None] | None = None,
    lock_wait: float | None = None,
    analyze: bool = True,
) -> LoadResult:
    """Parse and load one file; skip it when the same content was loaded into the table before.
    `analyze=False` leaves the table's statistics to the caller (`ingest_files` analyzes once
    after its last file).

    A second process loading the same file waits for the first (up to `lock_wait` seconds,
    default URM_LOAD_LOCK_WAIT or an hour), then skips it; an append-only file that grew since
    its last load loads only its new lines."""
    path = Path(path)
    if not path.is_file():
        raise SourceFileMissing(f"{path}: no such file")
    label = str(path)
    growing = fmt.append_only and fmt.line_parser is not None
    head = _head_checksum(path) if growing else None
    checksum = None
    if head is None:  # keyed on the checksum: look it up before taking any lock
        checksum = file_checksum(path)
        previous = _already_loaded(conn, fmt.table, checksum)
        if previous:
            return _skipped(fmt, label, previous)
    wait = _lock_wait() if lock_wait is None else lock_wait
    with _load_lock(conn, fmt.table, head or checksum or "", label, wait) as waited:
        notes = [waited] if waited else []
        resume = prefix = None
        if head is not None:
            # One read of a log finds both its checksum (a plain file's bytes are its content)
            # and how much of it earlier loads covered.
            resume, prefix, content_checksum = _resume_point(conn, fmt.table, path, head)
            checksum = content_checksum if not _gzipped(path) else file_checksum(path)
        assert checksum is not None
        # Looked at again under the lock: the process we waited for may have loaded it.
        previous = _already_loaded(conn, fmt.table, checksum)
        if previous:
            return _skipped(fmt, label, previous, notes)
        refused: dict[int, tuple[str, str]] = {}
        while True:
            items: Iterator[ParsedItem] | None = None
            in_workers = can_pipeline(fmt, path, ctx)
            chunks = None if in_workers else _fast_chunks(fmt, path, ctx, resume)
            if chunks is None and not in_workers:
                if resume is not None:
                    assert fmt.line_parser is not None
                    items = fmt.line_parser(ctx)(numbered_lines(path, (resume.offset, resume.first_line)))
                else:
                    items = fmt.parse(path, ctx)
            try:
                result = load_rows(
                    conn,
                    fmt,
                    path,
                    items,
                    checksum=checksum,
                    max_reject_share=max_reject_share,
                    on_progress=on_progress,
                    ctx=ctx,
                    refused=refused,
                    resume=resume,
                    prefix=prefix,
                    chunks=chunks,
                )
                break
            except _RowRefused as row:
                refused[row.ordinal] = (row.field, row.reason)
                if len(refused) > MAX_REFUSED_ROWS:
                    reasons = "; ".join(f"{f}: {r}" for f, r in list(refused.values())[:3])
                    raise LoadRejected(
                        f"{label}: the warehouse refused more than {MAX_REFUSED_ROWS} rows ({reasons}), "
                        "so nothing was loaded; the file is probably not in this format, or its parser "
                        "lets through values its table cannot hold (please report it)"
                    ) from None
                log.warning(
                    "%s: %s (row %d); loading the file again without it", label, row.reason, row.ordinal
                )
        result.warnings[:0] = notes
    if result.rows_loaded and analyze:
        analyze_table(conn, fmt.table, result.rows_loaded)
    return result


def _fast_chunks(
    fmt: Format, path: Path, ctx: ParseContext, resume: Resume | None
) -> Callable[[uuid.UUID, str], Iterable[Chunk]] | None:
    """How one process makes a file's COPY text without psycopg formatting each row: the format's
    copy_parser, or its block parser over the file's blocks. None: the rows of `parse` (also with
    the single_process option, the reference every fast path is tested against)."""
    if ctx.options.get("single_process"):
        return None
    if fmt.copy_parser is not None and resume is None:
        copy_parser = fmt.copy_parser
        return lambda batch_id, label: copy_parser(path, ctx, (str(batch_id), label))
    if fmt.block_parser is not None and fmt.line_parser is not None:
        start = (resume.offset, resume.first_line) if resume is not None else (0, 1)
        return lambda batch_id, label: parse_in_process(
            fmt, path, ctx, batch_id=batch_id, label=label, start=start
        )
    return None


ANALYZE_SHARE = 0.1  # as autovacuum_analyze_scale_factor: fewer rows changed keep the statistics


def analyze_table(conn: psycopg.Connection, table: RawTable, added: int | None = None) -> bool:
    """Fresh statistics before anything queries the new rows: the validation that follows a load
    otherwise gets planned on an empty-looking table (nested loops over 400k rows). It samples
    30,000 rows whatever the table's size (0.3-0.6 s on a large table): once per batch of
    files, not once per file (a year of daily gate exports is 350 files), and not at all when
    the `added` rows and the other changes since the last ANALYZE are under a tenth of a table
    that has statistics (a daily file into a year of rows): the planner scales the row count by
    the table's pages itself, and autovacuum analyzes at that same threshold. True if analyzed."""
    name = sql.Identifier(table.schema, table.name)
    if added is not None:
        row = conn.execute(
            "select c.reltuples, coalesce(s.n_mod_since_analyze, 0) from pg_class c "
            "left join pg_stat_user_tables s on s.relid = c.oid where c.oid = %s::regclass",
            (f'{table.schema}."{table.name}"',),
        ).fetchone()
        if row is not None and row[0] > 0 and row[1] + added < ANALYZE_SHARE * row[0]:
            return False
    conn.execute(sql.SQL("analyze {}").format(name))
    return True


def _skipped(fmt: Format, label: str, batch_id: str, warnings: list[str] | None = None) -> LoadResult:
    return LoadResult(
        source=fmt.source,
        format=fmt.name,
        table=fmt.table.name,
        file=label,
        batch_id=batch_id,
        rows_loaded=0,
        rows_quarantined=0,
        skipped=True,
        warnings=list(warnings or ()),
    )


def _lock_wait() -> float:
    raw = os.environ.get(LOCK_WAIT_ENV)
    if not raw:
        return DEFAULT_LOCK_WAIT
    try:
        return float(raw)
    except ValueError:
        raise InvalidOption(f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds, e.g. 600") from None


@contextmanager
def _load_lock(conn: psycopg.Connection, table: RawTable, key: str, label: str, wait: float) -> Iterator[str]:
    """Hold the advisory lock of (table, key) for the block; yields a note when it had to wait.

    A session lock, not a transaction's: it spans the load's retries. A killed process's lock
    goes with its connection."""
    name = f"urm.load:{table.name}:{key}"
    if not conn.execute("select pg_try_advisory_lock(hashtextextended(%s, 0))", (name,)).fetchone()[0]:  # type: ignore[index]
        log.warning("%s: another process is loading this file into raw.%s; waiting for it", label, table.name)
        began = time.monotonic()
        previous = conn.execute("select current_setting('lock_timeout')").fetchone()[0]  # type: ignore[index]
        try:
            conn.execute("select set_config('lock_timeout', %s, false)", (f"{max(int(wait * 1000), 1)}ms",))
            conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (name,))
        except psycopg.errors.LockNotAvailable:
            raise LoadInProgress(
                f"{label}: another process has been loading this file into raw.{table.name} for over "
                f"{wait:g} s, so this one loaded nothing; run it again when that load has finished "
                f"(or give it longer with {LOCK_WAIT_ENV})"
            ) from None
        finally:
            conn.execute("select set_config('lock_timeout', %s, false)", (previous,))
        note = f"waited {time.monotonic() - began:.1f} s for another process loading the same file"
    else:
        note = ""
    try:
        yield note
    finally:
        with suppress(psycopg.Error):  # a broken connection took its locks with it
            conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", (name,))


def _head_checksum(path: Path) -> str | None:
    """SHA-256 of the content's first line (with its newline); None until it has one."""
    try:
        with open_bytes(path) as handle:
            first = handle.readline(HEAD_LIMIT)
    except GZIP_ERRORS as error:
        raise corrupt_gzip(path, error) from None
    return hashlib.sha256(first).hexdigest() if first.endswith(b"\n") else None


def _gzipped(path: Path) -> bool:
    with open(path, "rb") as probe:
        return probe.read(2) == b"\x1f\x8b"


def _scan(path: Path, head: str | None, offsets: Iterable[int]) -> tuple[Prefix, dict[int, str], str]:
    """The content's Prefix, the SHA-256 of its first n bytes for each n of `offsets`, and the
    SHA-256 of the whole content."""
    wanted = sorted(set(offsets))
    digest = hashlib.sha256()
    at: dict[int, str] = {}
    position = lines = complete = 0
    complete_digest = digest.copy()
    with open_bytes(path) as handle:
        for block in _read_blocks(path, handle):
            end = position + len(block)
            cuts = [o for o in wanted if position < o <= end]
            newline = block.rfind(b"\n")
            if newline >= 0:
                cuts.append(position + newline + 1)
            done = position
            for cut in sorted(set(cuts)):
                digest.update(block[done - position : cut - position])
                done = cut
                if cut in wanted:
                    at[cut] = digest.hexdigest()
                if newline >= 0 and cut == position + newline + 1:
                    complete, complete_digest = cut, digest.copy()
            digest.update(block[done - position :])
            lines += block.count(b"\n")
            position = end
    if 0 in wanted:
        at[0] = hashlib.sha256().hexdigest()
    prefix = Prefix(head, complete, lines, complete_digest.hexdigest(), position - complete)
    return prefix, at, digest.hexdigest()


def _read_blocks(path: Path, handle: Any) -> Iterator[bytes]:
    try:
        yield from iter(lambda: handle.read(1 << 20), b"")
    except GZIP_ERRORS as error:
        raise corrupt_gzip(path, error) from None


def _resume_point(
    conn: psycopg.Connection, table: RawTable, path: Path, head: str | None
) -> tuple[Resume | None, Prefix, str]:
    """Where a file of an append-only format goes on from the largest earlier load whose content
    it begins with (None: from the start), what this load will cover, and the content's SHA-256."""
    candidates = []
    if head is not None:
        candidates = conn.execute(
            "select batch_id::text, content_bytes, content_lines, content_checksum, tail_bytes "
            "from raw.load_log where target_table = %s and head_checksum = %s and status = 'loaded' "
            "and content_bytes is not null order by content_bytes desc, finished_at desc limit 50",
            (table.name, head),
        ).fetchall()
    prefix, at, whole = _scan(path, head, (c[1] for c in candidates))
    for batch_id, content_bytes, content_lines, content_checksum, tail_bytes in candidates:
        if content_bytes > prefix.content_bytes or at.get(content_bytes) != content_checksum:
            continue
        return Resume(content_bytes, content_lines + 1, batch_id, bool(tail_bytes)), prefix, whole
    return None, prefix, whole
