"""DagBag integrity: every DAG imports, is documented, tagged, scheduled on purpose, and shaped
as the design says (ingest DAGs emit Assets; the warehouse DAG runs one task per dbt model)."""

from __future__ import annotations

import pytest

from urm.platform.settings import DAGS_DIR

EXPECTED = {"ingest_campus", "ingest_circulation", "ingest_ezproxy", "ingest_counter", "build_warehouse"}
EXPECTED |= {"ingest_gate"}
EXPECTED |= {"ingest_services"}
EXPECTED |= {"export_profiles", "privacy_retention"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    from urm.platform.airflow_env import airflow_env, ensure_metadata_db

    ensure_metadata_db(airflow_env())  # Cosmos keeps its `dbt ls` cache in Airflow Variables
    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_every_expected_dag_is_there_and_documented(dagbag) -> None:
    assert set(dagbag.dag_ids) >= EXPECTED
    for dag_id in EXPECTED:
        dag = dagbag.dags[dag_id]
        assert dag.doc_md and len(dag.doc_md) > 40, dag_id
        assert "urm" in dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.start_date.tzinfo is not None, dag_id


def test_ingest_dags_emit_assets_after_validation(dagbag) -> None:
    for dag_id in sorted(d for d in EXPECTED if d.startswith("ingest_")):
        dag = dagbag.dags[dag_id]
        outlets = [o.uri for t in dag.tasks for o in t.outlets]
        assert outlets, f"{dag_id} declares no Asset"
        for task in dag.tasks:
            if task.outlets:
                assert task.upstream_task_ids, f"{dag_id}.{task.task_id} emits before anything ran"


def test_warehouse_dag_is_scheduled_on_the_ingest_assets_with_a_task_per_model(dagbag) -> None:
    dag = dagbag.dags["build_warehouse"]
    uris = {asset.uri for asset in dag.timetable.asset_condition.objects}
    assert uris == {
        "urm://warehouse/raw/campus_people",
        "urm://warehouse/raw/circulation",
        "urm://warehouse/raw/ezproxy_requests",
        "urm://warehouse/raw/counter_usage",
        "urm://warehouse/raw/gate",
        "urm://warehouse/raw/space_bookings",
        "urm://warehouse/raw/training_registrations",
        "urm://warehouse/raw/consultations",
        "urm://warehouse/raw/feedback_responses",
        "urm://warehouse/raw/volunteer_hours",
    }
    task_ids = " ".join(dag.task_ids)
    for model in ("stg_campus__people", "dim_user", "fct_loans", "user_persona"):
        assert model in task_ids, f"no task for {model}"


def test_warehouse_dag_emits_the_marts_asset_after_every_model(dagbag) -> None:
    dag = dagbag.dags["build_warehouse"]
    [publish] = [t for t in dag.tasks if any(o.uri == "urm://warehouse/marts" for o in t.outlets)]
    models = [t for t in dag.tasks if t is not publish and not t.downstream_list]
    assert not models, f"tasks that end outside publish_marts: {[t.task_id for t in models]}"
    assert len(publish.get_flat_relative_ids(upstream=True)) > 10


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


def test_every_dag_serialises_as_the_dag_processor_does(dagbag) -> None:
    """The scheduler only sees what serialises (callbacks, deadlines, retry settings included)."""
    from airflow.serialization.serialized_objects import DagSerialization

    for dag_id in EXPECTED:
        DagSerialization.to_dict(dagbag.dags[dag_id])


def test_ingest_dags_retry_with_backoff_and_alert(dagbag) -> None:
    from urm.steps.alerts import on_task_failure

    for dag_id in EXPECTED:
        dag = dagbag.dags[dag_id]
        for task in dag.tasks:
            if task.task_id == "privacy_suite":  # a failed privacy check is not transient
                assert task.retries == 0
                continue
            assert task.retries >= 1, f"{dag_id}.{task.task_id}"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id}"
            callbacks = task.on_failure_callback
            assert on_task_failure in (callbacks if isinstance(callbacks, list) else [callbacks])


def test_schedules_fit_the_sources(dagbag) -> None:
    timed = EXPECTED - {"build_warehouse", "export_profiles"}  # these two run on Assets
    schedules = {d: dagbag.dags[d].timetable.expression for d in timed}
    assert schedules == {
        "ingest_campus": "0 0 * * *",
        "ingest_circulation": "0 * * * *",
        "ingest_gate": "0 * * * *",
        "ingest_ezproxy": "0 0 * * *",
        "ingest_counter": "0 0 1 * *",
        "ingest_services": "0 0 * * *",
        "privacy_retention": "0 0 * * 0",
    }
    # COUNTER runs over a whole month: the run on the 1st harvests the month before.
    assert type(dagbag.dags["ingest_counter"].timetable).__name__ == "CronDataIntervalTimetable"


def test_the_freshness_check_runs_hourly_and_serialises(dagbag) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.dags["check_freshness"]
    assert dag.timetable.expression == "0 * * * *" and "urm" in dag.tags and dag.doc_md
    DagSerialization.to_dict(dag)


def test_deadline_alerts_are_declared_for_the_scheduler(monkeypatch) -> None:
    """Production (the scheduler) gets run deadlines; local `dag.test()` runs leave them out."""
    import runpy

    from urm.platform.settings import DAGS_DIR

    monkeypatch.setenv("URM_RUN_DEADLINES", "1")
    namespace = runpy.run_path(str(DAGS_DIR / "ingest_campus.py"), run_name="deadline_check")
    assert namespace["ingest_campus_dag"].deadline
    monkeypatch.setenv("URM_RUN_DEADLINES", "0")
    namespace = runpy.run_path(str(DAGS_DIR / "ingest_campus.py"), run_name="deadline_check")
    assert not namespace["ingest_campus_dag"].deadline
