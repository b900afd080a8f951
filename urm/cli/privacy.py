"""`urm privacy ...`: key rotation, erasure, retention, the privacy suite and the privacy report."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ingest.errors import InvalidOption

NEW_KEY_VARIABLE = "URM_PSEUDONYM_KEY_NEW"


def _new_key() -> bytes:
    value = os.environ.get(NEW_KEY_VARIABLE, "")
    if len(value) < 16:
        raise InvalidOption(
            f"{NEW_KEY_VARIABLE} must hold the new key (at least 16 characters; 32+ random bytes is "
            "better), from your secret store"
        )
    return value.encode()


def privacy_app(console: Console) -> typer.Typer:
    app = typer.Typer(
        help="Privacy and governance: rotate the pseudonym key, erase a person, apply retention, "
        "check the marts, report.",
        no_args_is_help=True,
    )

    @app.command("rotate-key")
    def rotate_key_command(
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Re-key every pseudonym in the warehouse in one transaction: old key from
        URM_PSEUDONYM_KEY (or the local key file), new key from URM_PSEUDONYM_KEY_NEW. Pause the
        DAGs first; afterwards set URM_PSEUDONYM_KEY to the new key everywhere."""
        from urm.platform.settings import pseudonym_key, urm_home
        from urm.platform.warehouse import warehouse_url
        from urm.privacy.rotation import rotate_key

        old_key, new_key = pseudonym_key(announce=False), _new_key()
        result = rotate_key(warehouse_url(), old_key, new_key)
        local = not os.environ.get("URM_PSEUDONYM_KEY")
        if local:  # the embedded setup's key file follows the warehouse
            key_file = urm_home() / "pseudonym.key"
            key_file.write_text(new_key.decode())
            key_file.chmod(0o600)
        if as_json:
            typer.echo(json.dumps(result.as_dict()))
            return
        console.print(
            f"re-keyed the warehouse: key fingerprint {result.old_fingerprint} -> {result.new_fingerprint}; "
            f"{result.pseudonyms_from_identities} pseudonyms recomputed from the identity vault, "
            f"{result.pseudonyms_without_identity} without one re-keyed from the old pseudonym; "
            f"{result.rows_updated} rows and {result.quarantined_rows_updated} quarantined rows updated",
            highlight=False,
        )
        if local:
            console.print("the local key file now holds the new key", highlight=False)
        else:
            console.print(
                "now set URM_PSEUDONYM_KEY to the new key everywhere (Airflow, loaders) before the next load",
                highlight=False,
            )

    @app.command("erase")
    def erase_command(
        person_id: Annotated[str, typer.Argument(help="Campus person id (student or staff number).")],
        identifier: Annotated[
            list[str],
            typer.Option(
                help="Another identifier of the person the roster may not list: KIND:VALUE (repeatable)."
            ),
        ] = [],  # noqa: B006
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Remove or de-identify one person everywhere (raw, quarantine, restricted, history,
        marts; marts are rebuilt without them at the next build) and keep them out of later
        loads. The audit log records that an erasure happened, not who."""
        from urm.platform.settings import pseudonym_key
        from urm.platform.warehouse import warehouse_url
        from urm.privacy.erasure import erase_person, parse_identifiers

        result = erase_person(
            warehouse_url(), pseudonym_key(announce=False), person_id, parse_identifiers(identifier)
        )
        if as_json:
            typer.echo(json.dumps(result.as_dict()))
            return
        console.print(
            f"erased one person: {result.rows_deleted} rows deleted, {result.rows_deidentified} rows "
            f"de-identified ({result.identifiers} pseudonyms); marts are rebuilt without them at the "
            "next build",
            highlight=False,
        )

    @app.command("retention")
    def retention_command(
        as_of: Annotated[
            str | None, typer.Option(help="Date the windows count back from (YYYY-MM-DD); default today.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Apply the retention windows of config/retention.yml now (what the privacy_retention DAG
        does daily)."""
        from urm.platform.warehouse import warehouse_url
        from urm.privacy.retention import apply_retention

        when = _as_of(as_of)
        result = apply_retention(warehouse_url(), when)
        if as_json:
            typer.echo(json.dumps(result.as_dict(), default=str))
            return
        console.print(
            f"retention as of {when.date()}: {result.rows_deidentified} rows de-identified, "
            f"{result.rows_deleted} rows deleted",
            highlight=False,
        )

    @app.command("check")
    def check_command(
        mart: Annotated[
            list[str], typer.Option(help="Marts to check (repeatable); default every mart.")
        ] = [],  # noqa: B006
    ) -> None:
        """Run the privacy suite (Great Expectations) on the marts; a failing mart is withdrawn
        from the BI and export roles until a build passes."""
        from urm.platform.warehouse import warehouse_url
        from urm.privacy.suite import run_privacy_suite

        report = run_privacy_suite(warehouse_url(), mart or None)
        typer.echo(report.summary())
        if not report.success:
            raise typer.Exit(1)

    @app.command("report")
    def report_command(
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Opt-outs, suppressed cells, retention status and the oldest identified row per source,
        key fingerprint and last rotation, erasures, and the last privacy-suite result."""
        from urm.platform.warehouse import warehouse_url
        from urm.privacy.report import privacy_report

        report = privacy_report(warehouse_url())
        if as_json:
            typer.echo(json.dumps(report, default=str))
            return
        _print_report(console, report)

    return app


def _as_of(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
    except ValueError:
        raise InvalidOption(f"--as-of {text!r}: give a date like 2026-01-31") from None


def _print_report(console: Console, report: dict[str, Any]) -> None:
    key = report["key"]
    console.print(
        f"key fingerprint: {key.get('fingerprint') or 'none yet'}"
        + (f" (recorded {key.get('recorded_at')}" if key.get("recorded_at") else "")
        + (
            f", last rotation {key.get('last_rotation') or 'never'}, {key.get('rotations')} in all)"
            if key.get("recorded_at")
            else ""
        ),
        highlight=False,
    )
    consent = report["consent"]
    if consent:
        console.print(
            "consent: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in consent.items() if k != "from"),
            highlight=False,
        )
    table = Table(title="retention: identified rows per source")
    table.add_column("table", no_wrap=True)
    for column in ("source", "window (days)", "oldest identified", "identified past window"):
        table.add_column(column, overflow="fold")
    for name, entry in report["retention"]["tables"].items():
        table.add_row(
            name,
            entry.get("source", ""),
            str(entry.get("window_days", "")),
            str(entry["oldest_identified"])[:10]
            if entry.get("oldest_identified")
            else str(entry.get("note") or entry.get("error") or "-"),
            str(entry.get("identified_rows_past_window", "")),
        )
    console.print(table)
    last = report["retention"]["last_run"]
    console.print(f"last retention run: {last['ran_at'] if last else 'never'}", highlight=False)
    quarantine = report["quarantine"]
    console.print(
        f"quarantine: {quarantine['rows']} rows, oldest {quarantine['oldest'] or '-'} "
        f"(kept {quarantine['window_days']} days)",
        highlight=False,
    )
    if report["suppressed_cells"]:
        cells = ", ".join(
            f"{mart} {sum(v for v in entry.values())}" for mart, entry in report["suppressed_cells"].items()
        )
        console.print(f"suppressed or empty person-count cells: {cells}", highlight=False)
    erasures = report["erasures"]
    console.print(f"erasures: {erasures['erasures']} (last {erasures.get('last') or '-'})", highlight=False)
    suite = report["privacy_suite"]
    if suite.get("last_run"):
        verdict = "passed" if suite["success"] else "FAILED: " + "; ".join(suite["failures"])
        console.print(
            f"privacy suite: {verdict} ({suite['checks']} checks on {suite['marts']} marts, "
            f"{suite['last_run']})",
            highlight=False,
        )
    else:
        console.print("privacy suite: never run", highlight=False)
