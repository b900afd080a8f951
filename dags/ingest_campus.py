# TaskFlow passes XComArgs where the task functions declare their values' types.
# mypy: disable-error-code="arg-type"
"""Delivers `raw.campus_people`: the campus roster (students, faculty, staff, colleges, majors,
classes, consent flags) from the campus API pages in the landing folder, pseudonymised at ingest,
then checked by the Great Expectations landing suite. Emits the campus Asset."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import CAMPUS_PEOPLE


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # the roster is a snapshot: only the newest one matters
    tags=["urm", "ingest", "campus"],
    doc_md=__doc__,
    default_args=default_args(),
    **run_callbacks(deadline=pendulum.duration(hours=2)),
)
def ingest_campus() -> None:
    @task
    def load() -> list[dict]:
        from urm.steps.landing import ingest_landing

        return ingest_landing("campus")

    @task(outlets=[CAMPUS_PEOPLE])
    def validate(results: list[dict]) -> str:
        from urm.steps.validation import validate_loaded

        return validate_loaded(["campus_people"], results)

    validate(load())


ingest_campus_dag = ingest_campus()

if __name__ == "__main__":
    ingest_campus_dag.test()
