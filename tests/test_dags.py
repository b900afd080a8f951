"""DagBag integrity: every DAG imports, is documented, tagged, scheduled on purpose, and shaped
as the design says (ingest DAGs emit Assets; the warehouse DAG runs one task per dbt model)."""

from __future__ import annotations

import pytest

from urm.platform.settings import DAGS_DIR

EXPECTED = {"ingest_campus", "ingest_circulation", "ingest_eresources", "build_warehouse"}
EXPECTED |= {"ingest_services"}


@pytest.fixture(scope="module")
def dagbag():  # noqa: ANN201
    from airflow.dag_processing.dagbag import DagBag

    from urm.platform.airflow_env import airflow_env, ensure_metadata_db

    ensure_metadata_db(airflow_env())  # Cosmos keeps its `dbt ls` cache in Airflow Variables
    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag) -> None:  # noqa: ANN001
    assert dagbag.import_errors == {}


def test_every_expected_dag_is_there_and_documented(dagbag) -> None:  # noqa: ANN001
    assert set(dagbag.dag_ids) >= EXPECTED
    for dag_id in EXPECTED:
        dag = dagbag.dags[dag_id]
        assert dag.doc_md and len(dag.doc_md) > 40, dag_id
        assert "urm" in dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.start_date.tzinfo is not None, dag_id


def test_ingest_dags_emit_assets_after_validation(dagbag) -> None:  # noqa: ANN001
    for dag_id in EXPECTED - {"build_warehouse"}:
        dag = dagbag.dags[dag_id]
        outlets = [o.uri for t in dag.tasks for o in t.outlets]
        assert outlets, f"{dag_id} declares no Asset"
        for task in dag.tasks:
            if task.outlets:
                assert task.upstream_task_ids, f"{dag_id}.{task.task_id} emits before anything ran"


def test_warehouse_dag_is_scheduled_on_the_ingest_assets_with_a_task_per_model(dagbag) -> None:  # noqa: ANN001
    dag = dagbag.dags["build_warehouse"]
    uris = {asset.uri for asset in dag.timetable.asset_condition.objects}
    assert uris == {
        "urm://warehouse/raw/campus_people",
        "urm://warehouse/raw/circulation",
        "urm://warehouse/raw/ezproxy_requests",
        "urm://warehouse/raw/counter_usage",
        "urm://warehouse/raw/space_bookings",
        "urm://warehouse/raw/training_registrations",
        "urm://warehouse/raw/consultations",
        "urm://warehouse/raw/feedback_responses",
        "urm://warehouse/raw/volunteer_hours",
    }
    task_ids = " ".join(dag.task_ids)
    for model in ("stg_campus__people", "dim_user", "fct_loans", "user_persona"):
        assert model in task_ids, f"no task for {model}"


def test_services_dag_loads_and_validates_each_source_before_its_asset(dagbag) -> None:
    dag = dagbag.dags["ingest_services"]
    for source, table in (
        ("spaces", "space_bookings"),
        ("training", "training_registrations"),
        ("consultations", "consultations"),
        ("feedback", "feedback_responses"),
        ("volunteering", "volunteer_hours"),
    ):
        validate = dag.get_task(f"validate_{source}")
        assert validate.upstream_task_ids == {f"load_{source}"}
        assert [o.uri for o in validate.outlets] == [f"urm://warehouse/raw/{table}"]
