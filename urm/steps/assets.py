"""The Assets the ingest DAGs produce and the warehouse DAG is scheduled on."""

from airflow.sdk import Asset

CAMPUS_PEOPLE = Asset("urm://warehouse/raw/campus_people")
CIRCULATION = Asset("urm://warehouse/raw/circulation")
EZPROXY_REQUESTS = Asset("urm://warehouse/raw/ezproxy_requests")
COUNTER_USAGE = Asset("urm://warehouse/raw/counter_usage")
MARTS = Asset("urm://warehouse/marts")

# Producers: ingest_campus (CAMPUS_PEOPLE), ingest_circulation (CIRCULATION), ingest_ezproxy
# (EZPROXY_REQUESTS), ingest_counter (COUNTER_USAGE), build_warehouse (MARTS).
