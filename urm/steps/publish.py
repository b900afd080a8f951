"""The last step of the warehouse DAG: the marts are built and tested; make them readable to BI."""

from __future__ import annotations

from ingest.run import connect
from ingest.schema import migrate
from urm.platform.warehouse import warehouse_url
from urm.steps.freshness import record_marts_published


def publish_marts() -> str:
    """Grant the BI role SELECT on every mart table (new ones included) and count them."""
    with connect(warehouse_url()) as conn:
        migrate(conn)
        row = conn.execute("select count(*) from pg_tables where schemaname = 'marts'").fetchone()
        record_marts_published(conn)  # when each mart was built, for `urm status` and ops.freshness
    return f"{row[0] if row else 0} mart tables published"
