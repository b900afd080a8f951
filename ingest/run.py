"""Load files of one source and format: the one entry point used by the CLI, DAGs and tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg

from ingest.loader import LoadResult, load_file
from ingest.model import ParseContext
from ingest.pseudonym import Pseudonymiser
from ingest.registry import get_format
from ingest.schema import migrate


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def ingest_files(
    url: str,
    source: str,
    format_name: str,
    paths: Iterable[Path | str],
    *,
    key: bytes,
    max_reject_share: float,
    options: Mapping[str, Any] | None = None,
    on_file: Callable[[Path], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[LoadResult]:
    fmt = get_format(source, format_name)
    ctx = ParseContext(pseudonymiser=Pseudonymiser(key), options=dict(options or {}))
    results = []
    with connect(url) as conn:
        migrate(conn)
        for path in paths:
            path = Path(path)
            if on_file is not None:
                on_file(path)
            results.append(
                load_file(
                    conn, fmt, path, ctx, max_reject_share=max_reject_share, on_progress=on_progress
                )
            )
    return results
