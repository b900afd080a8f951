"""The steps the DAGs run, as plain functions: find landing files, load them, validate them.

DAG files stay thin: each task imports one function from here. The same functions run from the
CLI and the tests without Airflow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.run import ingest_files
from urm.settings import LoadSettings, pseudonym_key, urm_home
from urm.warehouse import warehouse_url


def landing_dir() -> Path:
    """Where source systems (or the synthetic university) drop their files."""
    return Path(os.environ.get("URM_LANDING_DIR", urm_home() / "landing")).resolve()


def ils() -> str:
    """Which ILS's export to load: koha or folio (a library runs one)."""
    value = os.environ.get("URM_ILS", "koha").lower()
    if value not in {"koha", "folio"}:
        raise SystemExit(f"URM_ILS={value!r}: expected koha or folio")
    return value


@dataclass(frozen=True)
class LandingGroup:
    """Files of one format in the landing folder, with any format options."""

    source: str
    format: str
    pattern: str
    options: tuple[tuple[str, Any], ...] = ()


def landing_groups(source: str, root: Path | None = None) -> list[LandingGroup]:
    root = root or landing_dir()
    if source == "campus":
        return [LandingGroup("campus", "campus-json", "campus/*.json")]
    if source == "circulation":
        if ils() == "koha":
            return [
                LandingGroup("circulation", "koha-items-csv", "circulation/koha/items.csv"),
                LandingGroup("circulation", "koha-csv", "circulation/koha/statistics-*.csv"),
            ]
        return [
            LandingGroup("circulation", "folio-items-json", "circulation/folio/items.json"),
            LandingGroup("circulation", "folio-json", "circulation/folio/loans-*.json"),
        ]
    if source == "ezproxy":
        formats_file = root / "ezproxy" / "logformats.json"
        formats = json.loads(formats_file.read_text()) if formats_file.exists() else {}
        campus_networks = os.environ.get("URM_CAMPUS_NETWORKS")
        groups = []
        for site in sorted(p.name for p in (root / "ezproxy").glob("*") if p.is_dir()):
            options: list[tuple[str, Any]] = []
            if site in formats:
                options.append(("log_format", formats[site]))
            if campus_networks:
                options.append(("campus_networks", campus_networks))
            groups.append(
                LandingGroup("ezproxy", "ezproxy-log", f"ezproxy/{site}/*.log*", tuple(options))
            )
        return groups
    raise ValueError(f"no landing layout for source {source!r}")


def ingest_landing(source: str, root: Path | None = None) -> list[dict[str, Any]]:
    """Load every landing file of a source; files loaded before are skipped by checksum."""
    root = root or landing_dir()
    url = warehouse_url()
    key = pseudonym_key()
    share = LoadSettings.from_env().max_reject_share
    results: list[dict[str, Any]] = []
    for group in landing_groups(source, root):
        paths = sorted(root.glob(group.pattern))
        if not paths:
            continue
        for result in ingest_files(
            url,
            group.source,
            group.format,
            paths,
            key=key,
            max_reject_share=share,
            options=dict(group.options),
        ):
            results.append(result.as_dict())
    if not results:
        raise FileNotFoundError(
            f"no {source} files found under {root} (patterns: "
            + ", ".join(g.pattern for g in landing_groups(source, root))
            + ")"
        )
    return results


def summarise(results: Iterable[dict[str, Any]]) -> dict[str, int]:
    totals = {"files": 0, "skipped": 0, "rows_loaded": 0, "rows_quarantined": 0}
    for r in results:
        totals["files"] += 1
        totals["skipped"] += int(bool(r.get("skipped")))
        totals["rows_loaded"] += r["rows_loaded"]
        totals["rows_quarantined"] += r["rows_quarantined"]
    return totals
