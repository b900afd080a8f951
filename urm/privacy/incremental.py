"""Incremental dbt models after a privacy step: their next build is a full rebuild.

The incremental models (dbt_project/macros/incremental.sql) take in new batches only. Retention,
erasure and key rotation change rows that they have already taken in (a pseudonym cleared,
re-keyed, a row gone), and an incremental table must never keep what a full rebuild would not
have (a session of a login that retention de-identified, a session id hashed from an old key).
Forgetting a chain's records in intermediate.incremental_batches, in the privacy step's own
transaction, makes each of its models rebuild from scratch at the next build (a table with rows and no
record is rebuilt), whether that build is `urm build`, the build_warehouse DAG or plain dbt.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg


def forget_incremental_state(conn: psycopg.Connection, landing_tables: Iterable[str] | None = None) -> int:
    """Forget the records of every chain (landing_tables None) or of the chains fed by any of
    `landing_tables` (raw table names). Returns the number of records forgotten."""
    exists = conn.execute("select to_regclass('intermediate.incremental_batches') is not null").fetchone()
    if not exists or not exists[0]:
        return 0
    if landing_tables is None:
        cur = conn.execute("delete from intermediate.incremental_batches")
    else:
        cur = conn.execute(
            "delete from intermediate.incremental_batches where chain in (select chain "
            "from intermediate.incremental_batches where step = 1 and upstream = any(%s))",
            (sorted(set(landing_tables)),),
        )
    return max(cur.rowcount, 0)
