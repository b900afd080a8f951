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
    # True when `raw` holds no identifier of the input any more (the parser pseudonymised it, or
    # it is the row as it would have landed): the quarantine then only masks what looks like one.
    redacted: bool = False


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
    # A format's extra table may live in `restricted` (e.g. redacted free text, which must not
    # land in raw); the loader's own table is always in `raw`.
    schema: str = "raw"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def ddl(self) -> str:
        cols = ",\n    ".join(f"{name} {pg_type}" for name, pg_type in self.columns)
        return (
            f"create table if not exists {self.schema}.{self.name} (\n"
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
class Option:
    """A typed option of a format: a CLI flag (`--log-format`), a DAG setting, a parser input.

    `env` names an environment variable that supplies the value when files are loaded from the
    landing folder (DAGs, `urm ingest` without the flag); the command line wins over it.
    """

    name: str
    help: str
    type: type = str
    default: Any = None
    multiple: bool = False
    env: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass
class Fetched:
    """What a fetch step wrote: landing files, and options to load them with."""

    paths: list[Path]
    load_options: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FetchStep:
    """How a format that reads a remote system gets its data: `fetch(target, options, landing)`
    writes landing files (a harvested report, a synced page set) under the landing folder it is
    given and says which, and they are then loaded with the format `loads_as` of the same source."""

    fetch: Callable[[str, Mapping[str, Any], Path], Fetched]
    loads_as: str
    target_help: str = "Base URL of the remote system."
    # Reads what the warehouse already holds before the fetch (e.g. the watermarks an incremental
    # sync starts from): prepare(conn, target, options) -> the options to fetch with.
    prepare: Callable[[Any, str, Mapping[str, Any]], Mapping[str, Any]] | None = None


# Per-file options taken from the landing folder itself (e.g. the LogFormat of an EZproxy site,
# kept in ezproxy/logformats.json beside its logs): landing_options(root, path) -> options.
LandingOptions = Callable[[Path, Path], Mapping[str, Any]]


@dataclass(frozen=True)
class Format:
    """One way a source's files can be written, and everything the platform needs to know of it.

    The CLI (`urm ingest SOURCE`), `urm formats`, the DAGs' landing step, the quarantine's
    redaction and the migration all read these fields: adding a format touches only its package.
    """

    source: str
    name: str
    table: RawTable
    parse: Parser
    description: str = ""
    # Typed options with defaults and help; the CLI flags are generated from them.
    options: tuple[Option, ...] = ()
    # Glob patterns, relative to the landing folder, of the files this format loads.
    landing: tuple[str, ...] = ()
    landing_options: LandingOptions | None = None
    # Names of the input's fields that hold person identifiers (as written in the source file):
    # pseudonymised at ingest, and removed from the raw text the quarantine keeps.
    identifier_fields: tuple[str, ...] = ()
    # A remote source: see FetchStep. Such a format takes URLs instead of paths.
    fetch: FetchStep | None = None
    # Landing tables this format writes besides `table` (from after_load).
    extra_tables: tuple[RawTable, ...] = ()
    # Runs inside the load's transaction after the rows are copied, for what a format carries
    # besides rows (e.g. the exceptions in a COUNTER report header):
    # after_load(conn, batch_id, file_label, path, ctx) -> warnings for the user (or None).
    after_load: Callable[[Any, str, str, Path, ParseContext], list[str] | None] | None = None
    # For line-oriented formats: line_parser(ctx) gives a parser of numbered lines (keeping its
    # caches between calls), so that a large file can be parsed block by block in worker
    # processes (ingest.pipelined).
    line_parser: (
        Callable[[ParseContext], Callable[[Iterable[tuple[int, str]]], Iterator[ParsedItem]]] | None
    ) = None
    # Optional, for line-oriented formats: block_parser(ctx, (batch_id, file label)) gives
    # parse(first line number, text of whole lines) -> (COPY text of rows, their count, items of
    # the lines it left to line_parser). The workers of ingest.pipelined use it instead of
    # line_parser plus psycopg's row formatting; it must land exactly what line_parser would.
    block_parser: Callable[[ParseContext, tuple[str, str]], Callable[[int, str], Any]] | None = None
    # Optional, for any format: copy_parser(path, ctx, (batch_id, file label)) gives the file's rows
    # as ingest.pipelined.Chunk objects (COPY text, row count, rejected rows), in one process. It
    # must land and quarantine exactly what `parse` does (the loader uses `parse` with the
    # single_process option); a CSV format writes its usual lines' COPY text itself and leaves the
    # others to the code of `parse` (ingest.gate.turnstile_copy).
    copy_parser: Callable[[Path, ParseContext, tuple[str, str]], Iterator[Any]] | None = None
    # A log written by appending (an EZproxy log read before the day ended): when a file begins
    # with the content an earlier load covered, only what follows is loaded, numbered on from
    # there. Needs line_parser. Other formats load a changed file whole (see the README's table
    # of what each format does with overlaps and corrections).
    append_only: bool = False

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


@dataclass(frozen=True)
class Source:
    """A source system (the ILS, the gates, the campus hub...) and the formats it can be read in.

    `select_env` names an environment variable holding a comma-separated list of this source's
    formats to load from the landing folder (a library runs Koha *or* FOLIO); all by default."""

    name: str
    description: str
    formats: tuple[Format, ...]
    select_env: str | None = None

    def __post_init__(self) -> None:
        for fmt in self.formats:
            if fmt.source != self.name:
                raise ValueError(f"format {fmt.name} declares source {fmt.source}, not {self.name}")

    @property
    def options(self) -> tuple[Option, ...]:
        """Every option of every format, once by name (the CLI's flags for `urm ingest SOURCE`)."""
        seen: dict[str, Option] = {}
        for fmt in self.formats:
            for option in fmt.options:
                seen.setdefault(option.name, option)
        return tuple(seen.values())
