"""`urm export`, `urm report` and `urm docs` as a user types them, and the export_profiles DAG's
shape (scheduled on the marts Asset, one mapped task per contracted consumer)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from urm.cli import app
from urm.platform.settings import DAGS_DIR

runner = CliRunner()


@pytest.mark.parametrize("args", [["export"], ["report"], ["docs"]])
def test_every_new_command_has_help(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_export_list_shows_every_contract() -> None:
    result = runner.invoke(app, ["export", "--list"])
    assert result.exit_code == 0, result.output
    for consumer in ("library_assessment", "student_affairs_non_borrowers", "college_reading_summary"):
        assert consumer in result.output
    assert "re-identifies by student_number" in result.output


def test_an_unknown_consumer_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["export", "nobody"])
    assert result.exit_code == 2
    assert "no contract" in result.output and "urm export --list" in result.output


def test_export_profiles_dag_is_scheduled_on_the_marts_and_maps_over_consumers() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from urm.platform.airflow_env import airflow_env, ensure_metadata_db

    ensure_metadata_db(airflow_env())
    bag = DagBag(dag_folder=str(DAGS_DIR / "export_profiles.py"))
    assert bag.import_errors == {}
    dag = bag.dags["export_profiles"]
    assert {a.uri for a in dag.timetable.asset_condition.objects} == {"urm://warehouse/marts"}
    assert dag.catchup is False and "urm" in dag.tags and dag.doc_md
    assert set(dag.task_ids) == {"consumers", "export"}
    assert dag.get_task("export").upstream_task_ids == {"consumers"}


def test_the_demo_runs_the_export_dag_after_the_warehouse() -> None:
    from urm_demo.run import DAG_ORDER

    assert DAG_ORDER.index("export_profiles") == DAG_ORDER.index("build_warehouse") + 1
