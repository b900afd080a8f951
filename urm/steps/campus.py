"""Campus steps for the `ingest_campus` DAG: sync the campus data platform's API when
URM_CAMPUS_API_URL is set (records changed since the committed watermark, loaded as one unit),
else load the campus files in the landing folder (roster pages, registrar exports, FOLIO users).

Credentials: URM_CAMPUS_CLIENT_ID / URM_CAMPUS_CLIENT_SECRET, else the Airflow connection
`urm_campus_api` (login = client id, password = client secret; from AIRFLOW_CONN_URM_CAMPUS_API
or any secrets backend Airflow is configured with). They never reach a log or a result.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from urm.platform.settings import LoadSettings, pseudonym_key
from urm.platform.warehouse import warehouse_url
from urm.steps.landing import ingest_landing, landing_dir

CAMPUS_TABLES = ["campus_people", "campus_person_records", "folio_users"]


@contextmanager
def _airflow_credentials() -> Iterator[None]:
    """Make the Airflow connection urm_campus_api's login and password visible to the connector
    for the length of the sync, when the environment does not carry credentials itself."""
    if os.environ.get("URM_CAMPUS_CLIENT_ID") or os.environ.get("AIRFLOW_CONN_URM_CAMPUS_API"):
        yield
        return
    found: dict[str, str] = {}
    try:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection("urm_campus_api")
        if connection.login and connection.password:
            found = {
                "URM_CAMPUS_CLIENT_ID": connection.login,
                "URM_CAMPUS_CLIENT_SECRET": connection.password,
            }
    except Exception:
        found = {}
    os.environ.update(found)
    try:
        yield
    finally:
        for name in found:
            os.environ.pop(name, None)


def sync_campus_api(base_url: str | None = None, **options: Any) -> list[dict[str, Any]]:
    """One sync of the campus API into the warehouse; [] when nothing changed."""
    from ingest.run import fetch_and_ingest

    base_url = base_url or os.environ["URM_CAMPUS_API_URL"]
    settings = {
        "hub": os.environ.get("URM_CAMPUS_HUB") or None,
        "contract": os.environ.get("URM_CAMPUS_API_CONTRACT") or None,
        "page_size": int(os.environ["URM_CAMPUS_PAGE_SIZE"])
        if os.environ.get("URM_CAMPUS_PAGE_SIZE")
        else None,
        **options,
    }
    with _airflow_credentials():
        results = fetch_and_ingest(
            warehouse_url(),
            "campus",
            "campus-api",
            base_url,
            landing=landing_dir(),
            key=pseudonym_key(),
            max_reject_share=LoadSettings.from_env().max_reject_share,
            options={k: v for k, v in settings.items() if v is not None},
        )
    if not results:
        print("campus API: nothing changed since the last committed sync")
    for result in results:
        for note in result.warnings:
            print(note)
    return [r.as_dict() for r in results]


def to_validate(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The loads the landing suites check: a sync that brought only colleges, majors or classes
    lands no person record, which is no sign of a broken export (a file of roster pages is)."""
    return [r for r in results if r.get("format") != "campus-sync" or r.get("rows_loaded")]


def load_campus() -> list[dict[str, Any]]:
    """The DAG's load step: the API when URM_CAMPUS_API_URL is set, else the landing files."""
    if os.environ.get("URM_CAMPUS_API_URL"):
        return sync_campus_api()
    return ingest_landing("campus")
