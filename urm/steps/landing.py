"""The landing step the ingest DAGs run: find each format's files in the landing folder (the
patterns its registry entry declares) and load them. Files loaded before are skipped by checksum.

DAG files stay thin: each task imports one function from here. The same functions run from the
CLI and the tests without Airflow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.errors import InvalidOption, SourceFileMissing
from ingest.model import Format, Source
from ingest.registry import get_source
from ingest.run import ingest_files
from urm.platform.settings import LoadSettings, pseudonym_key, urm_home
from urm.platform.warehouse import warehouse_url


def landing_dir() -> Path:
    """Where source systems (or the synthetic university) drop their files."""
    return Path(os.environ.get("URM_LANDING_DIR", urm_home() / "landing")).resolve()


@dataclass
class LandingGroup:
    """Files of one format found in the landing folder, with the options to load them with."""

    format: Format
    paths: list[Path]
    options: dict[str, Any] = field(default_factory=dict)


def selected_formats(source: Source) -> list[Format]:
    """The source's file formats, narrowed by its select_env variable when set."""
    formats = [f for f in source.formats if f.fetch is None and f.landing]
    chosen = os.environ.get(source.select_env or "", "").strip() if source.select_env else ""
    if not chosen:
        return formats
    names = [n.strip() for n in chosen.split(",") if n.strip()]
    unknown = sorted(set(names) - {f.name for f in formats})
    if unknown:
        raise InvalidOption(
            f"{source.select_env}={chosen!r} names no format of {source.name}: {', '.join(unknown)}"
        )
    return [f for f in formats if f.name in names]


def env_options(fmt: Format) -> dict[str, Any]:
    return {o.name: os.environ[o.env] for o in fmt.options if o.env and os.environ.get(o.env)}


def landing_groups(source_name: str, root: Path | None = None) -> list[LandingGroup]:
    """Each format's landing files, grouped by the options they load with, in file order."""
    root = root or landing_dir()
    groups: list[LandingGroup] = []
    for fmt in selected_formats(get_source(source_name)):
        paths = sorted({p for pattern in fmt.landing for p in root.glob(pattern) if p.is_file()})
        by_options: dict[tuple[tuple[str, str], ...], LandingGroup] = {}
        for path in paths:
            options = env_options(fmt)
            if fmt.landing_options is not None:
                options.update(fmt.landing_options(root, path))
            signature = tuple(sorted((k, repr(v)) for k, v in options.items()))
            by_options.setdefault(signature, LandingGroup(fmt, [], options)).paths.append(path)
        groups.extend(by_options.values())
    return groups


def ingest_landing(source: str, root: Path | None = None) -> list[dict[str, Any]]:
    """Load every landing file of a source; files loaded before are skipped by checksum."""
    root = root or landing_dir()
    url = warehouse_url()
    key = pseudonym_key()
    share = LoadSettings.from_env().max_reject_share
    results: list[dict[str, Any]] = []
    groups = landing_groups(source, root)
    for group in groups:
        for result in ingest_files(
            url,
            source,
            group.format.name,
            group.paths,
            key=key,
            max_reject_share=share,
            options=group.options,
        ):
            results.append(result.as_dict())
    if not results:
        patterns = [p for f in selected_formats(get_source(source)) for p in f.landing]
        raise SourceFileMissing(f"no {source} files found under {root} (patterns: {', '.join(patterns)})")
    return results


def summarise(results: Iterable[dict[str, Any]]) -> dict[str, int]:
    totals = {"files": 0, "skipped": 0, "rows_loaded": 0, "rows_quarantined": 0}
    for r in results:
        totals["files"] += 1
        totals["skipped"] += int(bool(r.get("skipped")))
        totals["rows_loaded"] += r["rows_loaded"]
        totals["rows_quarantined"] += r["rows_quarantined"]
    return totals
