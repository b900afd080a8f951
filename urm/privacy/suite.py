"""The privacy suite as a publishing gate: run it on every mart, record the result, and withdraw
a failing mart from the BI and export roles (dbt's next run grants it again, and the suite
checks it again)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from ingest.run import connect

READERS = ("urm_bi", "urm_exporter")


def run_privacy_suite(url: str, marts: Sequence[str] | None = None, **options: Any) -> Any:
    from expectations.privacy import check_marts

    report = check_marts(url, marts, **options)
    with connect(url) as conn, conn.transaction():
        conn.execute(
            "insert into restricted.privacy_suite_runs (ran_at, success, marts, checks, failures) "
            "values (now(), %s, %s, %s, %s)",
            (
                report.success,
                len(report.marts),
                len(report.outcomes),
                json.dumps(report.as_dict()["failures"]),
            ),
        )
        if not report.success:
            withdraw(conn, report.failed_marts)
    return report


def withdraw(conn: Any, marts: Sequence[str]) -> None:
    """Revoke the readers' SELECT on the given marts."""
    roles = [
        r[0] for r in conn.execute("select rolname from pg_roles where rolname = any(%s)", (list(READERS),))
    ]
    if not roles:
        return
    for mart in marts:
        exists = conn.execute("select to_regclass(%s) is not null", (f'marts."{mart}"',)).fetchone()
        if exists and exists[0]:
            conn.execute(
                sql.SQL("revoke select on marts.{} from {}").format(
                    sql.Identifier(mart), sql.SQL(", ").join(map(sql.Identifier, roles))
                )
            )
