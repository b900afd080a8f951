"""The synthetic publishers' SUSHI endpoint, served on 127.0.0.1 while the demo runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from urm.platform.settings import urm_home

DEMO_START = date(2025, 9, 1)


def harvest_range(days: int) -> dict[str, str]:
    """The months the demo harvests: every month of the synthetic period."""
    last_day = DEMO_START + timedelta(days=max(days, 1) - 1)
    return {"begin": f"{DEMO_START:%Y-%m}", "end": f"{last_day:%Y-%m}"}


@contextmanager
def synthetic_sushi(sources: Path, *, days: int, seed: int) -> Iterator[dict[str, str]]:
    """Yield the environment that points the ingest_counter DAG at the local endpoint."""
    from urm_demo.sushi_server import SushiServer
    from urm_demo.synth.counter import PLATFORMS, synthetic_counter_usage

    last_day = DEMO_START + timedelta(days=max(days, 1) - 1)
    usage = synthetic_counter_usage(DEMO_START, last_day, seed=seed)
    with SushiServer(usage, port=0) as server:
        config = urm_home() / "demo" / "sushi_platforms.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            json.dumps(
                [
                    {
                        "platform": name,
                        "base_url": server.base_url,
                        "reports": ["TR", "DR", "PR", "IR"],
                        "credentials_prefix": "URM_SUSHI_",
                    }
                    for name in PLATFORMS
                ],
                indent=2,
            )
        )
        yield {
            "URM_SUSHI_PLATFORMS": str(config),
            "URM_SUSHI_CUSTOMER_ID": server.customer_id,
            "URM_SUSHI_REQUESTOR_ID": server.requestor_id,
            "URM_SUSHI_API_KEY": server.api_key,
        }
