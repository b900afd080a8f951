"""Every source the platform reads, found by itself: each sub-package of `ingest` that declares
`SOURCES` (a list of `ingest.model.Source`) is one or more sources. Adding a source or a format
touches nothing outside its own package."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import ingest
from ingest.errors import UnknownSource
from ingest.model import Format, RawTable, Source


@cache
def sources() -> dict[str, Source]:
    found: dict[str, Source] = {}
    for module in sorted(pkgutil.iter_modules(ingest.__path__), key=lambda m: m.name):
        if not module.ispkg:
            continue
        package = importlib.import_module(f"ingest.{module.name}")
        for source in getattr(package, "SOURCES", ()):
            if source.name in found:
                raise ValueError(f"source {source.name!r} is declared twice")
            found[source.name] = source
    return found


def formats() -> dict[tuple[str, str], Format]:
    return {(s.name, f.name): f for s in sources().values() for f in s.formats}


def raw_tables() -> list[RawTable]:
    """Landing tables of every format, the ones written by after_load hooks included."""
    seen: dict[str, RawTable] = {}
    for fmt in formats().values():
        if fmt.fetch is None:
            seen.setdefault(fmt.table.name, fmt.table)
        for table in fmt.extra_tables:
            seen.setdefault(table.name, table)
    return list(seen.values())


def get_source(name: str) -> Source:
    try:
        return sources()[name]
    except KeyError:
        raise UnknownSource(
            f"no source {name!r}; known sources: {', '.join(sorted(sources()))} (see `urm formats`)"
        ) from None


def get_format(source: str, name: str | None = None) -> Format:
    """A source's format by name; the name may be left out when the source has one format."""
    src = get_source(source)
    if name is None:
        loadable = [f for f in src.formats if f.fetch is None]
        if len(loadable) == 1:
            return loadable[0]
        raise UnknownSource(
            f"source {source!r} has several formats: pass --format with one of "
            + ", ".join(f.name for f in src.formats)
        )
    for fmt in src.formats:
        if fmt.name == name:
            return fmt
    raise UnknownSource(
        f"no format {name!r} for source {source!r}; its formats: " + ", ".join(f.name for f in src.formats)
    )
