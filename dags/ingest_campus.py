# TaskFlow passes XComArgs where the task functions declare their values' types.
# mypy: disable-error-code="arg-type"
"""Delivers the campus roster and its history: `raw.campus_person_records` (with the cards each
person held, the colleges, majors and classes, and the sync watermarks) synced from the campus
data platform's API when URM_CAMPUS_API_URL is set (only the records changed since the last
committed sync, loaded as one unit); otherwise `raw.campus_people` from the roster pages and the
registrar's exports in the landing folder, and `raw.folio_users`. Everything is pseudonymised at
ingest and checked by the Great Expectations landing suites. Emits the campus Asset."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import CAMPUS_PEOPLE


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # a sync resumes from its watermark: one run brings every change since
    tags=["urm", "ingest", "campus"],
    doc_md=__doc__,
    default_args=default_args(),
    **run_callbacks(deadline=pendulum.duration(hours=2)),
)
def ingest_campus() -> None:
    @task
    def load() -> list[dict]:
        from urm.steps.campus import load_campus

        return load_campus()

    @task(outlets=[CAMPUS_PEOPLE])
    def validate(results: list[dict]) -> str:
        from urm.steps.campus import CAMPUS_TABLES, to_validate
        from urm.steps.validation import validate_loaded

        return validate_loaded(CAMPUS_TABLES, to_validate(results))

    validate(load())


ingest_campus_dag = ingest_campus()

if __name__ == "__main__":
    ingest_campus_dag.test()
