"""Delivers e-resource use: `raw.ezproxy_requests` from the EZproxy logs in the landing folder
(each site with its own LogFormat), and `raw.counter_usage` harvested monthly over SUSHI from
every configured platform (COUNTER R5 / R5.1 TR, DR, PR, IR). Each part is checked, then emits
its Asset. A run harvests the month of its data interval; `{"begin": "YYYY-MM", "end": "YYYY-MM"}`
in the run's conf harvests a range (a back-fill, or a month re-harvested with corrected figures,
which replaces the old figures)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from urm.steps.assets import COUNTER_USAGE, EZPROXY_REQUESTS


@dag(
    schedule="@monthly",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # back-fills go through conf begin/end, one harvest per range
    tags=["urm", "ingest", "eresources", "counter", "ezproxy"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=10)},
)
def ingest_eresources() -> None:
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

    @task
    def harvest_counter() -> dict:
        from ingest.counter.load import month_start
        from urm.steps.eresources import harvest_and_load_counter

        context = get_current_context()
        conf = (context.get("dag_run").conf if context.get("dag_run") else None) or {}
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

    check_ezproxy(load_ezproxy())
    check_counter(harvest_counter())


dag = ingest_eresources()

if __name__ == "__main__":
    dag.test()
