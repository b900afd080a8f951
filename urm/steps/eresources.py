"""E-resource steps for the `ingest_ezproxy` and `ingest_counter` DAGs: EZproxy logs from the landing
folder, and COUNTER reports harvested over SUSHI from each configured platform, then loaded.

Platforms come from URM_SUSHI_PLATFORMS: a JSON file (or inline JSON) listing
`{"platform": "JSTOR", "base_url": "https://.../sushi", "reports": ["TR", "PR"],
"credentials_prefix": "URM_SUSHI_JSTOR_"}`; credentials are read from the environment under that
prefix (CUSTOMER_ID, REQUESTOR_ID, API_KEY), never from the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from urm.platform.settings import LoadSettings, pseudonym_key
from urm.platform.warehouse import warehouse_url
from urm.steps.landing import landing_dir


@dataclass(frozen=True)
class SushiPlatform:
    platform: str
    base_url: str
    reports: tuple[str, ...] = ("TR", "DR", "PR", "IR")
    credentials_prefix: str = "URM_SUSHI_"


def sushi_platforms() -> list[SushiPlatform]:
    value = os.environ.get("URM_SUSHI_PLATFORMS", "").strip()
    if not value:
        return []
    text = value if value.startswith("[") else Path(value).read_text()
    entries = json.loads(text)
    return [
        SushiPlatform(
            platform=e["platform"],
            base_url=e["base_url"],
            reports=tuple(e.get("reports", SushiPlatform.reports)),
            credentials_prefix=e.get("credentials_prefix", "URM_SUSHI_"),
        )
        for e in entries
    ]


def harvest_and_load_counter(begin: date, end: date) -> dict[str, Any]:
    """Harvest every configured platform for the months begin..end and load the reports.

    A platform that answers "no usage" (3030) is reported and skipped; any other failure is
    collected and raised after the other platforms were harvested and loaded."""
    from ingest.counter.sushi import SushiError, SushiNoUsage
    from ingest.errors import SourceUnavailable
    from ingest.run import fetch_and_ingest

    url = warehouse_url()
    share = LoadSettings.from_env().max_reject_share
    loaded: list[dict[str, Any]] = []
    notes: list[str] = []
    failures: list[str] = []
    for platform in sushi_platforms():
        try:
            results = fetch_and_ingest(
                url,
                "counter",
                "sushi",
                platform.base_url,
                landing=landing_dir(),
                key=pseudonym_key(),
                max_reject_share=share,
                options={
                    "platform": platform.platform,
                    "report": platform.reports,
                    "begin": f"{begin:%Y-%m}",
                    "end": f"{end:%Y-%m}",
                    "credentials_prefix": platform.credentials_prefix,
                },
            )
        except SushiNoUsage as err:
            notes.append(str(err))
            continue
        except SushiError as err:
            failures.append(f"{platform.platform}: {err}")
            continue
        for result in results:
            loaded.append(result.as_dict())
            notes.extend(result.warnings)
    if failures:
        raise SourceUnavailable("SUSHI harvest failed for: " + " | ".join(failures))
    return {"results": loaded, "notes": notes}
