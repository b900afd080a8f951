"""Checks every hour that each source delivered within its schedule (urm/steps/freshness.py):
refreshes `ops.freshness`, sends a `source_late` alert and fails when a source is late, so that a
missing export is noticed the same day, not when someone reads a stale mart."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from urm.steps.alerts import default_args, run_callbacks


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # only the present state matters
    tags=["urm", "ops", "freshness"],
    doc_md=__doc__,
    # the check alerts by itself; a retry would only repeat the same answer
    default_args=default_args(retries=0),
    **run_callbacks(),
)
def check_freshness() -> None:
    @task
    def check() -> list[str]:
        from urm.steps.freshness import check_freshness as check_sources

        return [f"{r['kind']} {r['name']}: {r['state']}" for r in check_sources()]

    check()


check_freshness_dag = check_freshness()

if __name__ == "__main__":
    check_freshness_dag.test()
