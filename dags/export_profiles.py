# TaskFlow passes XComArgs where the task functions declare their values' types.
# mypy: disable-error-code="arg-type"
"""Delivers the contracted exports (contracts/*.yml): one mapped task per consumer, each writing
its file and manifest when its contract's schedule says it is due, after the contract and privacy
checks; refusals fail that consumer's task only. Scheduled on the marts Asset."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import MARTS


@dag(
    schedule=[MARTS],
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,  # exports are of the marts as they are now
    tags=["urm", "exports"],
    doc_md=__doc__,
    default_args=default_args(retries=1),
    **run_callbacks(deadline=pendulum.duration(hours=2)),
)
def export_profiles() -> None:
    @task
    def consumers() -> list[str]:
        from urm.steps.exports import contract_consumers

        return contract_consumers()

    @task(map_index_template="{{ task.op_kwargs['consumer'] }}")
    def export(consumer: str) -> dict:
        from urm.steps.exports import export_consumer

        context = get_current_context()
        run = context["dag_run"]
        as_of = run.logical_date or run.run_after
        return export_consumer(
            consumer,
            as_of=as_of,
            interval_start=context.get("data_interval_start"),
            interval_end=context.get("data_interval_end") or as_of,
        )

    export.expand(consumer=consumers())


export_profiles_dag = export_profiles()

if __name__ == "__main__":
    export_profiles_dag.test()
