"""Builds the warehouse with dbt through astronomer-cosmos, one Airflow task per model (each
runs `dbt build` for its node, tests included): staging views, intermediate views, core marts
and persona marts. With URM_WAREHOUSE_TASKS=single (what `urm demo` uses) the whole project is
one `dbt build` task instead: the same models and tests, without a dbt start-up per model.
Scheduled whenever any landing Asset is updated. Before dbt, the pseudonym key
is checked against the warehouse's; after it, the privacy suite (Great Expectations) runs on every
mart, and only when it passes are the marts published and the marts Asset emitted."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, AssetAny, task
from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import LoadMode, TestBehavior

from urm.platform.dbt import dbt_executable, manifest_path
from urm.platform.settings import DBT_PROJECT_DIR
from urm.steps.alerts import default_args, run_callbacks
from urm.steps.assets import MARTS, landing_assets

DAG_SETTINGS: dict = {
    "dag_id": "build_warehouse",
    "schedule": AssetAny(*landing_assets()),
    "start_date": pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    "catchup": False,
    # one build at a time: two dbt builds replacing the same tables would race; Asset events that
    # arrive during a build queue the next one
    "max_active_runs": 1,
    "tags": ["urm", "warehouse", "dbt"],
    "doc_md": __doc__,
    # dbt failures are deterministic: one retry (for a lost connection), then alert
    "default_args": default_args(retries=1),
    **run_callbacks(deadline=pendulum.duration(hours=3)),
}


def selection_args() -> list[str]:
    """dbt's --select/--exclude for the selection in URM_WAREHOUSE_SELECT / URM_WAREHOUSE_EXCLUDE."""
    args = []
    for option, variable in (("--select", "URM_WAREHOUSE_SELECT"), ("--exclude", "URM_WAREHOUSE_EXCLUDE")):
        nodes = os.environ.get(variable, "").split()
        if nodes:
            args += [option, *nodes]
    return args


if os.environ.get("URM_WAREHOUSE_TASKS", "model") == "single":
    dag = DAG(**DAG_SETTINGS)
    with dag:

        @task
        def dbt_build() -> str:
            """`dbt build` of the whole project (seeds, models, data tests), in dependency order,
            or of the selection URM_WAREHOUSE_SELECT / URM_WAREHOUSE_EXCLUDE when set. dbt's unit
            tests check the models' SQL on fixed inputs, not the data: they run in `make test`
            (tests/test_end_to_end_dbt_unit.py and the dbt test files), not in every build."""
            from urm.platform.dbt import run_dbt

            args = ("--exclude-resource-type", "unit_test", *selection_args())
            return run_dbt("build", *args).stdout[-2000:]

        dbt_build()
else:
    dag = DbtDag(
        **DAG_SETTINGS,
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            # Built when the project is installed (`make`) or the image is built (Dockerfile):
            # `python -m urm.platform.dbt`. Rendering from it keeps dbt out of DAG parsing.
            manifest_path=manifest_path(),
            install_dbt_deps=False,
        ),
        # Connection details come from URM_PG* in the environment (see dbt_project/profiles.yml).
        profile_config=ProfileConfig(
            profile_name="urm",
            target_name=os.environ.get("URM_DBT_TARGET", "embedded"),
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(dbt_executable_path=dbt_executable()),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            # A test on two models (relationships) runs as its own task once both are built.
            should_detach_multiple_parents_tests=True,
            # A dbt selection (e.g. "+fct_loans") renders only those models: for tests and for a
            # deployment that builds a part of the warehouse. Unset: every model.
            select=os.environ.get("URM_WAREHOUSE_SELECT", "").split(),
            exclude=os.environ.get("URM_WAREHOUSE_EXCLUDE", "").split(),
        ),
        operator_args={"install_deps": False},
    )

with dag:
    roots = [t for t in dag.tasks if not t.upstream_list]
    leaves = [t for t in dag.tasks if not t.downstream_list]

    @task
    def check_pseudonym_key() -> str:
        """A warehouse built with another pseudonym key is refused before dbt writes anything."""
        from urm.steps.privacy import check_pseudonym_key as check

        return check()

    @task(retries=0)  # a failed privacy check is not transient: alert at once
    def privacy_suite() -> str:
        """Every mart through the privacy suite: a failure stops the run before publishing, and
        withdraws the failing marts from the BI and export roles."""
        from urm.steps.privacy import privacy_gate

        return privacy_gate()

    @task(outlets=[MARTS])
    def publish_marts() -> str:
        """The marts are built and tested: let the BI role read the new tables, then emit the
        marts Asset that export and report DAGs are scheduled on."""
        from urm.steps.publish import publish_marts as publish

        return publish()

    check_pseudonym_key() >> roots
    leaves >> privacy_suite() >> publish_marts()

if __name__ == "__main__":
    dag.test()
