"""Load files of one source and format: the one entry point used by the CLI, DAGs and tests.

`ingest_files` loads local files; `fetch_and_ingest` runs a format's fetch step first (a SUSHI
harvest, an HTTP API sync) and loads what it wrote. Both check the format's options against its
declaration, so a typo in an option name fails before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg

from ingest.errors import InvalidOption, WarehouseUnreachable
from ingest.loader import LoadResult, analyze_table, load_file
from ingest.model import Format, ParseContext
from ingest.privacy.keys import ensure_pseudonym_key
from ingest.pseudonym import Pseudonymiser
from ingest.registry import get_format
from ingest.schema import migrate


def connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WarehouseUnreachable(
            f"cannot reach the warehouse ({first}); check URM_WAREHOUSE_URL, or unset it to use "
            "the embedded PostgreSQL (`urm warehouse start`)"
        ) from err


def checked_options(fmt: Format, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options with the format's defaults filled in; an unknown option is refused."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(given) - {o.name for o in fmt.options} - {"single_process"})
    if unknown:
        known = ", ".join(o.flag for o in fmt.options) or "none"
        raise InvalidOption(f"format {fmt.name} takes no option {', '.join(unknown)}; its options: {known}")
    values = {o.name: o.default for o in fmt.options if o.default is not None}
    values.update(given)
    return values


def ingest_files(
    url: str,
    source: str,
    format_name: str | None,
    paths: Iterable[Path | str],
    *,
    key: bytes,
    max_reject_share: float,
    options: Mapping[str, Any] | None = None,
    on_file: Callable[[Path], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[LoadResult]:
    fmt = get_format(source, format_name)
    if fmt.fetch is not None:
        raise InvalidOption(f"format {fmt.name} fetches from a URL: use fetch_and_ingest")
    ctx = ParseContext(pseudonymiser=Pseudonymiser(key), options=checked_options(fmt, options))
    results = []
    with connect(url) as conn:
        migrate(conn)
        ensure_pseudonym_key(conn, key)  # another key than the warehouse's: refused before writing
        for path in paths:
            path = Path(path)
            if on_file is not None:
                on_file(path)
            results.append(
                load_file(
                    conn,
                    fmt,
                    path,
                    ctx,
                    max_reject_share=max_reject_share,
                    on_progress=on_progress,
                    analyze=False,
                )
            )
        added = sum(r.rows_loaded for r in results)
        if added:
            analyze_table(conn, fmt.table, added)
            # the tables a format writes beside its own (a roster's cards, units): analyzed when
            # they have no statistics yet or the changes since reach a tenth of them (a first
            # campus sync left raw.campus_cards unanalyzed, and the landing suite's self-join on
            # it ran as a nested loop: 31-43 s for 4,447 cards, quadratic in the roster)
            for extra in fmt.extra_tables:
                analyze_table(conn, extra, 0)
    return results


def fetch_and_ingest(
    url: str,
    source: str,
    format_name: str,
    target: str,
    *,
    landing: Path,
    key: bytes,
    max_reject_share: float,
    options: Mapping[str, Any] | None = None,
    on_file: Callable[[Path], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[LoadResult]:
    """Run the fetch step of a remote format into `landing`, then load what it wrote."""
    fmt = get_format(source, format_name)
    if fmt.fetch is None:
        raise InvalidOption(f"format {fmt.name} reads files, not a URL")
    fetch_options: Mapping[str, Any] = checked_options(fmt, options)
    if fmt.fetch.prepare is not None:
        with connect(url) as conn:
            migrate(conn)
            fetch_options = fmt.fetch.prepare(conn, target, fetch_options)
    fetched = fmt.fetch.fetch(target, fetch_options, landing)
    loads_as = get_format(source, fmt.fetch.loads_as)
    results = ingest_files(
        url,
        source,
        loads_as.name,
        fetched.paths,
        key=key,
        max_reject_share=max_reject_share,
        options={k: v for k, v in fetched.load_options.items() if loads_as.option(k)},
        on_file=on_file,
        on_progress=on_progress,
    )
    if fetched.warnings and results:
        results[0].warnings[:0] = fetched.warnings
    return results
