"""`urm docs`: dbt's documentation site for the marts (descriptions, columns, tests, lineage)."""

from __future__ import annotations

import contextlib
import functools
import http.server
from pathlib import Path

from urm.platform.dbt import run_dbt
from urm.platform.settings import urm_home


def build_docs() -> Path:
    """`dbt docs generate` (it reads the warehouse's catalog); returns the folder with index.html."""
    run_dbt("docs", "generate")
    return urm_home() / "dbt" / "target"


def serve_docs(folder: Path, port: int) -> None:  # pragma: no cover - interactive
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with (
        http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server,
        contextlib.suppress(KeyboardInterrupt),
    ):
        server.serve_forever()
