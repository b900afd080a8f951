"""Delivers the library's service interactions from the exports in the landing folder
(`services/<source>/*.csv`): `raw.space_bookings` (room and seat bookings), `raw.training_registrations`
(information-literacy training), `raw.consultations` (questions by channel), `raw.feedback_responses`
(survey answers; their comments, redacted, in `restricted.feedback_comments`) and
`raw.volunteer_hours`. Persons are pseudonymised at ingest; each source is checked by its Great
Expectations landing suite, then emits its own Asset. A source whose folder holds no file (a
library without that system) is skipped, and its Asset is not emitted."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import SERVICE_ASSETS


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # every export file is loaded once by checksum, whatever the run
    tags=["urm", "ingest", "services"],
    doc_md=__doc__,
    default_args=default_args(),
    **run_callbacks(deadline=pendulum.duration(hours=2)),
)
def ingest_services() -> None:
    @task
    def load(source: str) -> list[dict]:
        from airflow.sdk.exceptions import AirflowSkipException

        from ingest.errors import SourceFileMissing
        from urm.steps.landing import ingest_landing

        try:
            return ingest_landing(source)
        except SourceFileMissing as missing:
            raise AirflowSkipException(str(missing)) from None

    @task
    def validate(results: list[dict]) -> str:
        from urm.steps.validation import validate_loaded

        return validate_loaded(sorted({r["table"] for r in results}), results)

    for source, asset in SERVICE_ASSETS.items():
        # an XComArg standing for the load's results (typed as Any: .override() loses the type)
        loaded: Any = load.override(task_id=f"load_{source}")(source)
        validate.override(task_id=f"validate_{source}", outlets=[asset])(loaded)


ingest_services_dag = ingest_services()

if __name__ == "__main__":
    ingest_services_dag.test()
