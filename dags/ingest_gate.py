# TaskFlow passes XComArgs where the task functions declare their values' types.
# mypy: disable-error-code="arg-type"
"""Delivers the entrance gates' landing tables: `raw.gate_passages` (card swipes at the
turnstiles, card numbers pseudonymised, names dropped), `raw.gate_counter_readings` (cumulative
people-counter readings) and `raw.gate_counter_intervals` (interval counts and polled totals), from
the landing folder's gate/ exports, then checked by the Great Expectations landing suites
(directions, results, known gates, swipes inside their file's period, plausible counter values).
Emits the gate Asset."""

from __future__ import annotations

import pendulum

# `dag` is the module's DAG below (what urm.platform.run_dag runs), so the decorator is renamed.
from airflow.sdk import dag as taskflow_dag
from airflow.sdk import task

from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import GATE


@taskflow_dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # every export file is loaded once by checksum, whatever the run
    tags=["urm", "ingest", "gate"],
    doc_md=__doc__,
    default_args=default_args(),
    **run_callbacks(deadline=pendulum.duration(hours=1)),
)
def ingest_gate() -> None:
    @task
    def load() -> list[dict]:
        from urm.steps.landing import ingest_landing

        return ingest_landing("gate")

    @task(outlets=[GATE])
    def validate(results: list[dict]) -> str:
        from urm.steps.validation import validate_loaded

        return validate_loaded(sorted({r["table"] for r in results}), results)

    validate(load())


dag = ingest_gate()

if __name__ == "__main__":
    dag.test()
