# TaskFlow passes XComArgs where the task functions declare their values' types.
# mypy: disable-error-code="arg-type"
"""Delivers the circulation landing tables (`raw.koha_statistics` or `raw.folio_loans`, and
`raw.ils_items`) from the ILS exports in the landing folder (every format whose files are there,
or those URM_CIRCULATION_FORMATS names), pseudonymised at ingest, then checked by the Great
Expectations landing suites. Emits the circulation Asset."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import CIRCULATION


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # every export file is loaded once by checksum, whatever the run
    tags=["urm", "ingest", "circulation"],
    doc_md=__doc__,
    default_args=default_args(),
    **run_callbacks(deadline=pendulum.duration(hours=2)),
)
def ingest_circulation() -> None:
    @task
    def load() -> list[dict]:
        from urm.steps.landing import ingest_landing

        return ingest_landing("circulation")

    @task(outlets=[CIRCULATION])
    def validate(results: list[dict]) -> str:
        from urm.steps.validation import validate_loaded

        return validate_loaded(sorted({r["table"] for r in results}), results)

    validate(load())


ingest_circulation_dag = ingest_circulation()

if __name__ == "__main__":
    ingest_circulation_dag.test()
