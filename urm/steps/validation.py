"""Great Expectations landing checks on the batches a DAG run loaded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from urm.platform.warehouse import warehouse_url


def validate_loaded(tables: Sequence[str], results: Iterable[dict[str, Any]]) -> str:
    """Validate the new batches of `tables`; raise with a readable report when a check fails."""
    batch_ids = [r["batch_id"] for r in results if not r.get("skipped")]
    if not batch_ids:
        return "nothing new was loaded: no batch to validate"
    # Great Expectations takes 8-12 s to import: only when there is a batch to check
    from expectations.runner import validate_landing

    report = validate_landing(warehouse_url(), list(tables), batch_ids=batch_ids, raise_on_failure=True)
    return report.summary()
