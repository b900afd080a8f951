"""The Assets the ingest DAGs produce and the warehouse DAG is scheduled on."""

from airflow.sdk import Asset

CAMPUS_PEOPLE = Asset("urm://warehouse/raw/campus_people")
CIRCULATION = Asset("urm://warehouse/raw/circulation")
EZPROXY_REQUESTS = Asset("urm://warehouse/raw/ezproxy_requests")
COUNTER_USAGE = Asset("urm://warehouse/raw/counter_usage")
MARTS = Asset("urm://warehouse/marts")
GATE = Asset("urm://warehouse/raw/gate")

# The library's services, one Asset per source (dags/ingest_services.py).
SPACE_BOOKINGS = Asset("urm://warehouse/raw/space_bookings")
TRAINING = Asset("urm://warehouse/raw/training_registrations")
CONSULTATIONS = Asset("urm://warehouse/raw/consultations")
FEEDBACK = Asset("urm://warehouse/raw/feedback_responses")
VOLUNTEERING = Asset("urm://warehouse/raw/volunteer_hours")
SERVICE_ASSETS = {
    "spaces": SPACE_BOOKINGS,
    "training": TRAINING,
    "consultations": CONSULTATIONS,
    "feedback": FEEDBACK,
    "volunteering": VOLUNTEERING,
}


def landing_assets() -> tuple[Asset, ...]:
    """Every Asset an ingest DAG emits: the warehouse DAG runs when any of them is updated."""
    return tuple(
        value
        for value in globals().values()
        if isinstance(value, Asset) and value.uri.startswith("urm://warehouse/raw/")
    )
