"""Builds the warehouse with dbt through astronomer-cosmos, one Airflow task per model (each
runs `dbt build` for its node, tests included): staging views, intermediate views, core marts
and persona marts. Scheduled whenever any landing Asset is updated; emits the marts Asset."""

from __future__ import annotations

import os

import pendulum
from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import LoadMode, TestBehavior

from urm.platform.dbt import dbt_executable, manifest_path
from urm.platform.settings import DBT_PROJECT_DIR
from urm.steps.assets import (
    CAMPUS_PEOPLE,
    CIRCULATION,
    CONSULTATIONS,
    COUNTER_USAGE,
    EZPROXY_REQUESTS,
    FEEDBACK,
    SPACE_BOOKINGS,
    TRAINING,
    VOLUNTEERING,
)

dag = DbtDag(
    dag_id="build_warehouse",
    schedule=(
        CAMPUS_PEOPLE
        | CIRCULATION
        | EZPROXY_REQUESTS
        | COUNTER_USAGE
        | SPACE_BOOKINGS
        | TRAINING
        | CONSULTATIONS
        | FEEDBACK
        | VOLUNTEERING
    ),
    start_date=pendulum.datetime(2025, 9, 1, tz="Asia/Shanghai"),
    catchup=False,
    tags=["urm", "warehouse", "dbt"],
    doc_md=__doc__,
    project_config=ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=manifest_path() if manifest_path().exists() else None,
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
        load_method=LoadMode.AUTOMATIC,  # the parsed manifest when present, else `dbt ls`
        test_behavior=TestBehavior.BUILD,
        # A test on two models (relationships) runs as its own task once both are built.
        should_detach_multiple_parents_tests=True,
    ),
    operator_args={"install_deps": False},
    default_args={"retries": 0},
)

if __name__ == "__main__":
    dag.test()
