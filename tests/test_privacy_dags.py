"""Rules 2, 4 and 6 inside Airflow: the warehouse DAG checks the key before dbt and runs the
privacy suite on the marts after it, emitting the marts Asset only from there; the retention DAG
runs daily."""

from __future__ import annotations

import pytest

from urm.platform.settings import DAGS_DIR


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    from urm.platform.airflow_env import airflow_env, ensure_metadata_db

    ensure_metadata_db(airflow_env())  # Cosmos keeps its `dbt ls` cache in Airflow Variables
    return DagBag(dag_folder=str(DAGS_DIR))


def test_the_privacy_dags_import(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert {"build_warehouse", "privacy_retention"} <= set(dagbag.dag_ids)


def test_the_warehouse_is_built_between_the_key_check_and_the_privacy_suite(dagbag) -> None:
    """Rules 2 and 4: every dbt task runs after the key check and before the privacy suite; the
    marts are published (and the marts Asset emitted) only after the suite passed; the DAG is
    still scheduled on the ingest Assets."""
    dag = dagbag.dags["build_warehouse"]
    key, suite = dag.get_task("check_pseudonym_key"), dag.get_task("privacy_suite")
    publish = dag.get_task("publish_marts")
    models = [t for t in dag.tasks if t.task_id not in {key.task_id, suite.task_id, publish.task_id}]
    assert len(models) > 10
    after_key = key.get_flat_relative_ids(upstream=False)
    before_suite = suite.get_flat_relative_ids(upstream=True)
    assert all(t.task_id in after_key and t.task_id in before_suite for t in models)
    assert suite.downstream_task_ids == {"publish_marts"}
    assert [t.task_id for t in dag.tasks if t.outlets] == ["publish_marts"]
    assert [o.uri for o in publish.outlets] == ["urm://warehouse/marts"]
    uris = {asset.uri for asset in dag.timetable.asset_condition.objects}
    assert "urm://warehouse/raw/campus_people" in uris and "urm://warehouse/raw/circulation" in uris
    assert dag.doc_md and "privacy suite" in dag.doc_md


def test_retention_runs_weekly_from_its_own_dag(dagbag) -> None:
    """Rule 6: the privacy_retention DAG applies retention every week, dated by its data interval."""
    dag = dagbag.dags["privacy_retention"]
    assert dag.task_ids == ["retention"]
    assert "urm" in dag.tags and "privacy" in dag.tags and dag.catchup is False
    assert dag.doc_md and len(dag.doc_md) > 40 and dag.start_date.tzinfo is not None
    assert dag.schedule == "@weekly"
