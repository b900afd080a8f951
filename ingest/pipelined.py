"""Parse large line-oriented files on both cores while this process streams the COPY.

On one core, parsing a log line costs more Python time than COPYing its row, so they take
turns. Here this process only reads blocks of raw bytes (about 1 MiB, cut at a line end) and hands
them round-robin to worker processes, which parse the lines and format the rows as COPY text;
their results come back in block order and are written to COPY unchanged. A format with a
`block_parser` (EZproxy: ingest.ezproxy.blocks) writes the COPY text of a block's usual lines
itself, and leaves the others to its line parser. Memory stays flat: at
most `IN_FLIGHT` blocks per worker are queued at any time, whatever the file size.

Below MIN_BYTES of content (a gzip file's gunzipped size), a format with a block parser still has
its blocks made into COPY text the same way, in this process (`parse_in_process`): on a 4 MB log
(30,000 lines) that took half the time of the line parser with psycopg's row formatting, and as
long as two workers on a machine whose two cores were busy with other work.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import queue as queue_module
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from ingest.errors import FileRefused
from ingest.model import Format, ParseContext, Rejected
from ingest.rowtext import unwritable

MIN_BYTES = 8 * 1024 * 1024  # below this a worker costs more than it saves
BLOCK_BYTES = 1 << 20
# The first block read of a file, doubling at each read up to BLOCK_BYTES (see line_blocks).
FIRST_BLOCK_BYTES = 16 * 1024
IN_FLIGHT = 3
WORKERS = 2
GZIP_MAGIC = b"\x1f\x8b"
# What reading a gzip file cut short (a copy onto a full disk) or damaged raises.
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def corrupt_gzip(path: Path, error: BaseException) -> FileRefused:
    return FileRefused(
        f"{path}: the gzip file is cut short or damaged ({error or type(error).__name__}); nothing of it was "
        "loaded: copy it again whole"
    )


class Chunk(NamedTuple):
    """One block's result: its rows as COPY text, how many, and the rows it rejected."""

    copy_text: bytes
    rows: int
    rejected: list[Rejected]


def can_pipeline(fmt: Format, path: Path, ctx: ParseContext) -> bool:
    return (
        fmt.line_parser is not None
        and not ctx.options.get("single_process")
        and content_size(Path(path)) >= MIN_BYTES
    )


def content_size(path: Path) -> int:
    """The bytes there are to parse: a gzip file's content size from its trailer (ISIZE: of the last
    member, modulo 4 GiB, so never taken below the file's own size). The parsing work follows the
    content, not the compressed file: a month's EZproxy log of 2.5 MB gzip holds 16 MB of lines."""
    size = path.stat().st_size
    with open(path, "rb") as probe:
        if probe.read(2) != GZIP_MAGIC or size < 18:
            return size
        probe.seek(-4, os.SEEK_END)
        return max(size, int.from_bytes(probe.read(4), "little"))


def open_bytes(path: Path) -> IO[bytes]:
    """The file's content as bytes, gunzipped on the fly when it starts with the gzip magic."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def line_blocks(handle: Any, first: int) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, bytes of whole lines; the last may lack its newline) of
    the rest of an open binary file, whose next line is number `first`.

    The first reads are small (FIRST_BLOCK_BYTES, doubling up to BLOCK_BYTES): the server starts
    storing the first rows while the next block is parsed, instead of waiting for a whole MiB (a
    daily export of 100 KB was one block: parse, then store, one after the other)."""
    rest = b""
    size = min(FIRST_BLOCK_BYTES, BLOCK_BYTES)
    while True:
        data = handle.read(size)
        size = min(size * 2, BLOCK_BYTES)
        if not data:
            break
        data = rest + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        block, rest = data[:cut], data[cut:]
        yield first, block
        first += block.count(b"\n")
    if rest:
        yield first, rest


def _blocks(path: Path, start: tuple[int, int] = (0, 1)) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, bytes of whole lines), in file order, from `start`
    (a byte offset in the content at a line's start, and that line's number)."""
    offset, line_no = start
    with open_bytes(path) as handle:
        if offset:
            handle.seek(offset)
        try:
            yield from line_blocks(handle, line_no)
        except GZIP_ERRORS as error:
            raise corrupt_gzip(path, error) from None


def chunk_maker(fmt: Format, ctx: ParseContext, prefix: tuple[str, str]) -> Callable[[int, bytes], Chunk]:
    """make(number of the block's first line, bytes of whole lines) -> the block's Chunk: what a
    worker does with each block, and what one process does with them when workers do not pay."""
    from psycopg import DataError
    from psycopg._copy_base import TextFormatter
    from psycopg.adapt import Transformer

    # Dumpers chosen per Python type, as Copy.write_row does: the same text, byte for byte.
    formatter = TextFormatter(Transformer())
    batch_id, label = prefix
    # psycopg's datetime dumper is the dearest part of formatting a row, and log lines repeat the
    # same second many times: format each distinct timestamp once (same text PostgreSQL reads).
    time_at = [i for i, (_, pg_type) in enumerate(fmt.table.columns) if pg_type.startswith("timestamp")]
    texts: dict[Any, str] = {}

    def as_text(values: tuple[Any, ...]) -> tuple[Any, ...]:
        row = list(values)
        for i in time_at:
            value = row[i]
            if value is not None and not isinstance(value, str):
                text = texts.get(value)
                if text is None:
                    if len(texts) > 100_000:
                        texts.clear()
                    text = texts[value] = value.isoformat(sep=" ")
                row[i] = text
        return tuple(row)

    assert fmt.line_parser is not None
    parse_lines = fmt.line_parser(ctx)
    # A format's block parser writes the COPY text of the lines it can itself (see Format)
    parse_block = fmt.block_parser(ctx, prefix) if fmt.block_parser is not None else None

    def make(first: int, block: bytes) -> Chunk:
        text = block.decode("utf-8", errors="replace")
        out = bytearray()
        rows = 0
        rejected = []
        if parse_block is not None:
            # its rows come first, then those of the lines it left (an order COPY ignores)
            copy_text, rows, items = parse_block(first, text)
            out += copy_text
        else:
            lines = text.split("\n")
            if text.endswith("\n"):
                lines.pop()
            items = parse_lines(enumerate(lines, first))
        for item in items:
            if type(item) is Rejected:
                rejected.append(item)
                continue
            line, values = item  # type: ignore[misc]
            if time_at:
                values = as_text(values)
            try:
                out += formatter.write_row((batch_id, label, line, *values))
            except (DataError, UnicodeEncodeError) as error:  # a NUL byte: a row, not the file
                rejected.append(unwritable(fmt.table, line, item[1], error))
                continue
            rows += 1
        out += formatter.end()  # the formatter keeps a tail of up to 32 KiB: take it now
        return Chunk(bytes(out), rows, rejected)

    return make


def _work(fmt: Format, ctx: ParseContext, prefix: tuple[str, str], tasks: Any, results: Any) -> None:
    try:
        make = chunk_maker(fmt, ctx, prefix)
        while True:
            task = tasks.get()
            if task is None:
                break
            results.put(("chunk", make(*task)))
    except BaseException as error:
        results.put(("error", error))
    finally:
        results.close()
        results.join_thread()


def parse_in_process(
    fmt: Format,
    path: Path,
    ctx: ParseContext,
    *,
    batch_id: uuid.UUID,
    label: str,
    start: tuple[int, int] = (0, 1),
) -> Iterator[Chunk]:
    """What parse_in_workers yields, made in this process: for a file of a format with a block
    parser that is too small for workers to pay (the block parser is still cheaper than the line
    parser and psycopg's row formatting)."""
    make = chunk_maker(fmt, ctx, (str(batch_id), label))
    for first, block in _blocks(path, start):
        yield make(first, block)


def parse_in_workers(
    fmt: Format,
    path: Path,
    ctx: ParseContext,
    *,
    batch_id: uuid.UUID,
    label: str,
    workers: int = WORKERS,
    start: tuple[int, int] = (0, 1),
) -> Iterator[Chunk]:
    """The file's rows as COPY text chunks, in file order, parsed by `workers` processes, from
    `start` (byte offset of a line in the content, its line number) to the end."""
    context = multiprocessing.get_context("fork")  # workers inherit ctx: nothing to pickle
    pool = []
    for number in range(workers):
        tasks, results = context.Queue(IN_FLIGHT), context.Queue(IN_FLIGHT)
        process = context.Process(
            target=_work,
            args=(fmt, ctx, (str(batch_id), label), tasks, results),
            name=f"urm-parse-{number}",
        )
        process.start()
        pool.append((process, tasks, results))

    def receive(number: int) -> Chunk:
        process, _, results = pool[number]
        while True:
            try:
                kind, payload = results.get(timeout=1.0)
            except queue_module.Empty:
                if not process.is_alive():
                    raise RuntimeError(
                        f"{path}: a parsing worker stopped without a word (exit code "
                        f"{process.exitcode}); nothing of this file was loaded"
                    ) from None
                continue
            if kind == "error":
                raise payload
            return payload

    sent = received = 0
    try:
        for block in _blocks(path, start):
            if sent - received >= workers * IN_FLIGHT:
                yield receive(received % workers)
                received += 1
            pool[sent % workers][1].put(block)
            sent += 1
        while received < sent:
            yield receive(received % workers)
            received += 1
    finally:
        for process, tasks, _ in pool:
            if process.is_alive():
                try:
                    tasks.put(None, timeout=1.0)
                except queue_module.Full:
                    process.terminate()
        for process, tasks, results in pool:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
            # A worker that stopped early leaves blocks unread: do not wait at exit to send them.
            tasks.cancel_join_thread()
            tasks.close()
            results.close()


def numbered_lines(path: Path, start: tuple[int, int] = (0, 1)) -> Iterator[tuple[int, str]]:
    """(line number, text) of the file's lines from `start`, split and decoded as the workers do
    (lines end at \n; bytes that are not UTF-8 become U+FFFD): the input of a format's
    line_parser when one process reads a file from the middle."""
    offset, line_no = start
    try:
        with open_bytes(path) as handle:
            if offset:
                handle.seek(offset)
            for raw in handle:
                yield line_no, raw.decode("utf-8", errors="replace")
                line_no += 1
    except GZIP_ERRORS as error:
        raise corrupt_gzip(path, error) from None
