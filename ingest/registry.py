"""Every source module and the formats it reads. Add a source by listing its module here."""

from __future__ import annotations

import importlib
from functools import cache

from ingest.model import Format, RawTable

SOURCE_MODULES = (
    "ingest.campus",
    "ingest.circulation",
    "ingest.ezproxy",
    "ingest.counter",
)


@cache
def formats() -> dict[tuple[str, str], Format]:
    found: dict[tuple[str, str], Format] = {}
    for module_name in SOURCE_MODULES:
        module = importlib.import_module(module_name)
        for fmt in module.FORMATS:
            found[(fmt.source, fmt.name)] = fmt
    return found


def raw_tables() -> list[RawTable]:
    """Landing tables of every format, plus any a source module lists in EXTRA_TABLES."""
    seen: dict[str, RawTable] = {}
    for fmt in formats().values():
        seen.setdefault(fmt.table.name, fmt.table)
    for module_name in SOURCE_MODULES:
        for table in getattr(importlib.import_module(module_name), "EXTRA_TABLES", ()):
            seen.setdefault(table.name, table)
    return list(seen.values())


def get_format(source: str, name: str) -> Format:
    try:
        return formats()[(source, name)]
    except KeyError:
        known = sorted(f"{s} --format {n}" for s, n in formats())
        raise KeyError(f"no format {name!r} for source {source!r}; known: " + ", ".join(known)) from None
