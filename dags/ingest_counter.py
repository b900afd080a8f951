# TaskFlow passes XComArgs where the task functions declare their values' types.
# mypy: disable-error-code="arg-type"
"""Delivers `raw.counter_usage`: COUNTER R5 / R5.1 reports (TR, DR, PR, IR) harvested monthly over
SUSHI from every configured platform, then checked. Emits the COUNTER Asset. A run harvests the
month of its data interval, so a back-fill of past months is `airflow dags backfill ingest_counter
--from-date ... --to-date ...`; `{"begin": "YYYY-MM", "end": "YYYY-MM"}` in a manual run's conf
harvests a range in one run (a month re-harvested with corrected figures replaces the old ones)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import COUNTER_USAGE


@dag(
    # A data interval of one whole month (not Airflow 3's default zero-length trigger): the run
    # that starts on the 1st harvests the month that just ended, and a backfill covers its months.
    schedule=CronDataIntervalTimetable("@monthly", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # back-fills go through `airflow dags backfill` or conf begin/end
    tags=["urm", "ingest", "eresources", "counter"],
    doc_md=__doc__,
    # publishers post a month's reports days into the next month: retry over hours, not minutes
    default_args=default_args(retry_delay=pendulum.duration(minutes=30)),
    **run_callbacks(deadline=pendulum.duration(hours=6)),
)
def ingest_counter() -> None:
    @task
    def harvest_counter() -> dict:
        from ingest.counter.load import month_start
        from urm.steps.eresources import harvest_and_load_counter

        context = get_current_context()
        dag_run = context.get("dag_run")
        conf = (dag_run.conf if dag_run is not None else None) or {}
        interval_start = context["data_interval_start"]
        begin = conf.get("begin") or f"{interval_start:%Y-%m}"
        end = conf.get("end") or begin
        return harvest_and_load_counter(month_start(begin), month_start(end))

    @task(outlets=[COUNTER_USAGE])
    def check_counter(harvest: dict) -> dict:
        """Report what the providers said (warnings, no usage) and what was loaded."""
        from urm.steps.landing import summarise

        for note in harvest["notes"]:
            print(f"COUNTER: {note}")
        return summarise(harvest["results"])

    check_counter(harvest_counter())


ingest_counter_dag = ingest_counter()

if __name__ == "__main__":
    ingest_counter_dag.test()
