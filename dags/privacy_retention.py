"""Applies retention every week: identified rows older than their source's window (config/
retention.yml: loans and proxy logs 400 days, roster history 3 years, quarantine 90 days) are
de-identified or purged in the landing tables, the quarantine, the load log and the identity
vault; pseudonyms that no landing table holds any more leave the derived tables at once, and the
marts follow at the next build. Erasures are applied again to what was loaded since the last run.
Windows count back from the run's data interval end, never the wall clock."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from urm.steps.alerts import default_args, run_callbacks


@dag(
    schedule="@weekly",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # each run ages everything up to its own date: a missed day is caught up by the next
    tags=["urm", "privacy", "retention"],
    doc_md=__doc__,
    default_args=default_args(),
    **run_callbacks(deadline=pendulum.duration(hours=6)),
)
def privacy_retention() -> None:
    @task
    def retention() -> dict:
        from urm.steps.privacy import apply_retention

        as_of = get_current_context()["data_interval_end"]
        if as_of is None:
            raise ValueError(
                "a retention run needs its data interval: trigger it on a schedule or with dates"
            )
        return apply_retention(as_of)

    retention()


privacy_retention_dag = privacy_retention()

if __name__ == "__main__":
    privacy_retention_dag.test()
