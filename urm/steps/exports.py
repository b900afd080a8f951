"""The export DAG's steps: which consumers have a contract, and export one when it is due."""

from __future__ import annotations

from datetime import datetime

from urm.exports.contract import list_contracts, load_contract


def contract_consumers() -> list[str]:
    """Every consumer with a contract in contracts/ (each checked: a malformed one fails here)."""
    return [load_contract(path.stem).consumer for path in list_contracts()]


def _period(schedule: str, moment: datetime) -> tuple:
    if schedule == "@daily":
        return (moment.date(),)
    if schedule == "@weekly":
        return tuple(moment.isocalendar()[:2])
    if schedule == "@monthly":
        return (moment.year, moment.month)
    return (moment,)  # on_marts_update: every run is its own period


def is_due(consumer: str, as_of: datetime, url: str | None = None) -> bool:
    """Due unless this consumer already received a release for as_of's period (its schedule)."""
    from ingest.run import connect
    from urm.exports.ledger import ensure_tables
    from urm.platform.warehouse import warehouse_url

    contract = load_contract(consumer)
    if contract.schedule == "on_demand":
        return False  # released by a command only (a campaign's treated group: urm campaign run)
    if contract.schedule == "on_marts_update":
        return True
    with connect(url or warehouse_url()) as conn:
        ensure_tables(conn)
        rows = conn.execute(
            """select coalesce(data_interval_end, started_at) from restricted.export_audit
            where consumer = %s and status = 'published'""",
            (consumer,),
        ).fetchall()
    period = _period(contract.schedule, as_of)
    return all(_period(contract.schedule, row[0]) != period for row in rows)


def export_consumer(
    consumer: str,
    as_of: datetime,
    interval_start: datetime | None = None,
    interval_end: datetime | None = None,
) -> dict:
    """Export one consumer's contract for this run, or say why not (not due)."""
    from urm.exports.export import run_export

    if not is_due(consumer, as_of):
        reason = (
            "released on demand only (urm campaign run)"
            if load_contract(consumer).schedule == "on_demand"
            else "a release for this period exists already"
        )
        return {"consumer": consumer, "skipped": reason}
    result = run_export(consumer, interval_start=interval_start, interval_end=interval_end or as_of)
    return result.as_dict()
