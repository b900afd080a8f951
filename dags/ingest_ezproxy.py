# TaskFlow passes XComArgs where the task functions declare their values' types.
# mypy: disable-error-code="arg-type"
"""Delivers `raw.ezproxy_requests`: the EZproxy logs in the landing folder (each site with its own
LogFormat), pseudonymised at ingest, loaded daily (proxies rotate their logs daily; files loaded
before are skipped by checksum). Emits the EZproxy Asset."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import EZPROXY_REQUESTS


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # every log file is loaded once by checksum, whatever the run
    tags=["urm", "ingest", "eresources", "ezproxy"],
    doc_md=__doc__,
    default_args=default_args(),
    **run_callbacks(deadline=pendulum.duration(hours=2)),
)
def ingest_ezproxy() -> None:
    @task
    def load_ezproxy() -> list[dict]:
        from urm.steps.landing import ingest_landing

        return ingest_landing("ezproxy")

    @task(outlets=[EZPROXY_REQUESTS])
    def check_ezproxy(results: list[dict]) -> dict:
        from urm.steps.landing import summarise

        totals = summarise(results)
        if totals["files"] and totals["rows_loaded"] == 0 and totals["skipped"] < totals["files"]:
            raise ValueError(f"EZproxy files were read but no request loaded: {totals}")
        return totals

    check_ezproxy(load_ezproxy())


ingest_ezproxy_dag = ingest_ezproxy()

if __name__ == "__main__":
    ingest_ezproxy_dag.test()
