"""The synthetic university's campus data hub, served on 127.0.0.1 while the demo runs: the
ingest_campus DAG syncs from it through the real connector (URM_CAMPUS_API_URL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The hub's name keys the sync watermarks: stable across demo runs (the port is not).
DEMO_HUB = "synthetic-university"


def hub_records(sources: Path) -> dict[str, list[dict[str, Any]]]:
    """What the generator wrote under campus_hub/: {resource: records}."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((sources / "campus_hub").glob("*.jsonl")):
        with open(path, encoding="utf-8") as stream:
            found[path.stem] = [json.loads(line) for line in stream if line.strip()]
    return found


@contextmanager
def synthetic_campus(sources: Path, *, now: datetime | None = None) -> Iterator[dict[str, str]]:
    """Yield the environment that points the ingest_campus DAG at the local campus API."""
    from urm_demo.campus_server import CampusServer

    records = hub_records(sources)
    if not records.get("persons"):
        yield {}
        return
    manifest = json.loads((sources / "manifest.json").read_text(encoding="utf-8"))
    last_day = manifest["period"]["last_day"]
    clock = now or datetime.fromisoformat(f"{last_day}T23:59:59+08:00").astimezone(UTC)
    # a fixed secret: the demo's second run must reach the same hub the same way
    with CampusServer(records, port=0, client_secret="urm-demo-campus-secret", now=clock) as server:
        yield {
            "URM_CAMPUS_API_URL": server.base_url,
            "URM_CAMPUS_CLIENT_ID": server.client_id,
            "URM_CAMPUS_CLIENT_SECRET": server.client_secret,
            "URM_CAMPUS_HUB": DEMO_HUB,
        }
