"""Deterministic, streaming file writers: same rows in, same bytes out.

Monthly files are opened in calendar order as the simulation's clock advances, so each holds only
a month's worth of work in flight; a month without rows still gets its (empty) file.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO

Month = tuple[int, int]


def months_between(first: date, last: date) -> list[Month]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@dataclass
class FileRecord:
    path: str  # relative to the output folder, with forward slashes
    kind: str
    rows: int = 0
    encoding: str = "utf-8"


@dataclass
class Manifest:
    out_dir: Path
    files: list[FileRecord] = field(default_factory=list)

    def add(self, path: Path, kind: str, encoding: str = "utf-8") -> FileRecord:
        record = FileRecord(path.relative_to(self.out_dir).as_posix(), kind, 0, encoding)
        self.files.append(record)
        return record

    def rows(self, kind: str) -> int:
        return sum(record.rows for record in self.files if record.kind == kind)


class _GzipText(io.TextIOWrapper):
    """A text stream into a gzip file with no name or time in its header (byte-identical runs)."""

    def __init__(self, path: Path, encoding: str) -> None:
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        compressed = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
        super().__init__(io.BufferedWriter(compressed, 1 << 20), encoding=encoding, newline="")  # type: ignore[arg-type]

    def close(self) -> None:
        super().close()
        self._raw.close()


def open_text(path: Path, encoding: str = "utf-8", *, compressed: bool = False) -> TextIO:
    """A text file written as is: no newline translation, callers write their own line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if compressed:
        return _GzipText(path, encoding)
    return open(path, "w", encoding=encoding, newline="", buffering=1 << 20)


class MonthlyFiles:
    """One file per month of the period, written in order; `stream(month)` may only move forward."""

    def __init__(
        self,
        manifest: Manifest,
        kind: str,
        months: list[Month],
        path_for: Callable[[Month], Path],
        *,
        encoding_for: Callable[[Month], str] = lambda month: "utf-8",
        compressed: bool = False,
        header: Callable[[Month], str] = lambda month: "",
        footer: Callable[[Month, int], str] = lambda month, rows: "",
    ) -> None:
        self.manifest, self.kind, self.months = manifest, kind, months
        self.path_for, self.encoding_for, self.compressed = path_for, encoding_for, compressed
        self.header, self.footer = header, footer
        self._next = 0  # index of the next month to open
        self._month: Month | None = None
        self._stream: TextIO | None = None
        self.record: FileRecord | None = None

    def stream(self, month: Month) -> TextIO:
        """The open file of `month`, after finishing every earlier month's file."""
        if month == self._month and self._stream is not None:
            return self._stream
        if month not in self.months[self._next :]:
            raise ValueError(f"{self.kind}: month {month} is outside the period or already closed")
        while self._month != month:
            self._finish_current()
            self._month = self.months[self._next]
            self._next += 1
            path = self.path_for(self._month)
            encoding = self.encoding_for(self._month)
            self.record = self.manifest.add(path, self.kind, encoding)
            self._stream = open_text(path, encoding, compressed=self.compressed)
            self._stream.write(self.header(self._month))
        assert self._stream is not None
        return self._stream

    def _finish_current(self) -> None:
        if self._stream is not None and self._month is not None and self.record is not None:
            self._stream.write(self.footer(self._month, self.record.rows))
            self._stream.close()
            self._stream = None

    def close(self) -> None:
        """Finish the current month and write the (empty) files of the months left."""
        if self._next < len(self.months):
            self.stream(self.months[-1])
        self._finish_current()
