"""The Assets the ingest DAGs produce and the warehouse DAG is scheduled on."""

from airflow.sdk import Asset

CAMPUS_PEOPLE = Asset("urm://warehouse/raw/campus_people")
CIRCULATION = Asset("urm://warehouse/raw/circulation")
EZPROXY_REQUESTS = Asset("urm://warehouse/raw/ezproxy_requests")
COUNTER_USAGE = Asset("urm://warehouse/raw/counter_usage")
MARTS = Asset("urm://warehouse/marts")
GATE = Asset("urm://warehouse/raw/gate")
