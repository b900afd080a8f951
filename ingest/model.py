"""The shapes every parser and the loader agree on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ingest.pseudonym import Pseudonymiser


class Rejected(NamedTuple):
    """A row that could not be used: where it was, which field, why, and the raw text."""

    line: int
    field: str
    reason: str
    raw: str


# A good row is a plain (line, values) tuple: values in the order of RawTable.columns.
# Plain tuples keep the hot loop of large logs cheap.
GoodRow = tuple[int, tuple[Any, ...]]
ParsedItem = GoodRow | Rejected


@dataclass(frozen=True)
class RawTable:
    """A landing table in schema `raw`. The loader adds batch_id, source_file and source_line."""

    name: str
    columns: tuple[tuple[str, str], ...]
    description: str = ""
    # When set, rows of a newer batch replace the rows of older batches with the same values in
    # these columns (a re-harvested month replaces the old figures instead of adding to them).
    replace_keys: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def ddl(self) -> str:
        cols = ",\n    ".join(f"{name} {pg_type}" for name, pg_type in self.columns)
        return (
            f"create table if not exists raw.{self.name} (\n"
            "    batch_id uuid not null,\n    source_file text not null,\n"
            f"    source_line integer not null,\n    {cols}\n)"
        )


@dataclass
class ParseContext:
    """What a parser may need besides the file: the pseudonymiser and format options."""

    pseudonymiser: Pseudonymiser
    options: Mapping[str, Any] = field(default_factory=dict)


Parser = Callable[[Path, ParseContext], Iterator[ParsedItem]]


@dataclass(frozen=True)
class Format:
    """One way a source's files can be written, and the raw table they land in."""

    source: str
    name: str
    table: RawTable
    parse: Parser
    description: str = ""
    # Runs inside the load's transaction after the rows are copied, for what a format carries
    # besides rows (e.g. the exceptions in a COUNTER report header):
    # after_load(conn, batch_id, file_label, path, ctx).
    after_load: Callable[[Any, str, str, Path, ParseContext], None] | None = None
    # For line-oriented formats: line_parser(ctx) gives a parser of numbered lines (keeping its
    # caches between calls), so that a large file can be parsed block by block in worker
    # processes (ingest.pipelined).
    line_parser: (
        Callable[[ParseContext], Callable[[Iterable[tuple[int, str]]], Iterator[ParsedItem]]] | None
    ) = None
