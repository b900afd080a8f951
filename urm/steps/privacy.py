"""Privacy steps the DAGs run: the key check before a build, the privacy suite before the marts
are published, and retention. Plain functions: the CLI and tests call them too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from urm.platform.settings import pseudonym_key
from urm.platform.warehouse import warehouse_url


def _mask_in_task_logs(secret: bytes) -> None:
    """Inside Airflow, have the task logs mask the key should anything ever print it."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - outside Airflow
        return
    mask_secret(secret.decode(errors="replace"))


def check_pseudonym_key() -> str:
    """Refuse to build a warehouse made with another key; returns the key's fingerprint only."""
    from ingest.privacy.keys import verify_pseudonym_key
    from ingest.run import connect
    from ingest.schema import migrate

    key = pseudonym_key(announce=False)
    _mask_in_task_logs(key)
    with connect(warehouse_url()) as conn:
        verify_pseudonym_key(conn, key)  # another key is refused before the migration's DDL too
        migrate(conn)
        return verify_pseudonym_key(conn, key)


def privacy_gate() -> str:
    """Run the privacy suite on every mart; fail (and withdraw the failing marts from BI and
    exports) when a rule is broken, so that the marts are not published and the marts Asset is
    not emitted (publish_marts runs after this step)."""
    from expectations.privacy import PrivacyCheckFailed
    from urm.privacy.suite import run_privacy_suite

    report = run_privacy_suite(warehouse_url())
    if not report.success:
        print(report.summary())
        raise PrivacyCheckFailed(
            f"the privacy suite failed on {', '.join(report.failed_marts)}: "
            + "; ".join(o.describe() for o in report.failures[:5])
        )
    return report.summary()


def apply_retention(as_of: datetime) -> dict[str, Any]:
    from urm.privacy.retention import apply_retention as run

    _mask_in_task_logs(pseudonym_key(announce=False))
    result = run(warehouse_url(), as_of)
    return {"as_of": result.as_of, "deleted": result.rows_deleted, "deidentified": result.rows_deidentified}
