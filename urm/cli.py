"""`urm`: the command line of library-urm. Every command has --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="library-urm: user data warehouse and persona marts for university libraries.",
    no_args_is_help=True,
    add_completion=False,
)
warehouse_app = typer.Typer(
    help="Start, stop, locate or open the warehouse (PostgreSQL).", no_args_is_help=True
)
app.add_typer(warehouse_app, name="warehouse")
console = Console(stderr=True)


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="People in the synthetic university.")] = 2000,
    days: Annotated[int, typer.Option(help="Days of activity, from 2025-09-01.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same university.")] = 7,
    ils: Annotated[str, typer.Option(help="Which ILS export to load: koha or folio.")] = "koha",
) -> None:
    """Generate a synthetic university and run every DAG on it, in dependency order, through
    Airflow's local runner; end with a summary. Running it again changes no count."""
    from urm.demo import run_demo

    run_demo(users=users, days=days, seed=seed, ils=ils, console=console)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder to write the source files into.")],
    users: Annotated[int, typer.Option(help="People in the synthetic university.")] = 2000,
    days: Annotated[int, typer.Option(help="Days of activity, from 2025-09-01.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
) -> None:
    """Write the synthetic university's source files (campus API pages, Koha and FOLIO
    circulation, item records, EZproxy logs) in their real formats."""
    from urm.synth import generate

    summary = generate(out, users=users, days=days, seed=seed)
    console.print(f"wrote the synthetic university to {out}")
    typer.echo(json.dumps(getattr(summary, "counts", {}), indent=2, default=str))


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="campus, circulation, ezproxy or counter.")],
    paths: Annotated[list[str], typer.Argument(help="Files to load (a SUSHI base URL for --format sushi).")],
    format: Annotated[str, typer.Option("--format", "-f", help="Format of the files; see `urm formats`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per file.")] = False,
    max_reject_share: Annotated[
        float | None,
        typer.Option(
            help="Fail the load (and load nothing) when more than this share of rows is bad. "
            "Default: URM_MAX_REJECT_SHARE or 0.25."
        ),
    ] = None,
    encoding: Annotated[str, typer.Option(help="CSV encoding: auto, utf-8 or gb18030.")] = "auto",
    timezone: Annotated[str, typer.Option(help="Time zone of local timestamps (Koha).")] = "Asia/Shanghai",
    log_format: Annotated[
        str | None,
        typer.Option("--log-format", help="EZproxy LogFormat, default '%h %l %u %t \"%r\" %s %b'."),
    ] = None,
    campus_networks: Annotated[
        str | None, typer.Option(help="Comma-separated CIDR ranges counted as on campus (EZproxy).")
    ] = None,
    snapshot_date: Annotated[
        str | None, typer.Option(help="Roster snapshot date when the campus pages carry none.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="SUSHI: platform name to harvest.")] = None,
    report: Annotated[list[str], typer.Option(help="SUSHI: report ids (repeatable).")] = [  # noqa: B006
        "TR",
        "DR",
        "PR",
        "IR",
    ],  # noqa: B006
    begin: Annotated[str | None, typer.Option(help="SUSHI: first month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option(help="SUSHI: last month, YYYY-MM.")] = None,
) -> None:
    """Load files of one source into the warehouse. Bad rows go to quarantine with file, line,
    field and reason; a file loaded before is skipped (same checksum)."""
    from ingest.loader import LoadRejected
    from ingest.run import ingest_files
    from urm.progress import FileProgress
    from urm.settings import LoadSettings, pseudonym_key
    from urm.warehouse import warehouse_url

    if source == "counter" and format == "sushi":
        from urm.sushi_cli import harvest_command

        harvest_command(
            paths,
            platform=platform,
            reports=report,
            begin=begin,
            end=end,
            as_json=as_json,
            console=console,
        )
        return
    from ingest.registry import get_format

    try:
        get_format(source, format)
    except KeyError as err:
        console.print(f"[red]error:[/red] {err.args[0]}")
        raise typer.Exit(2) from None
    options = {"encoding": encoding, "timezone": timezone}
    if log_format:
        options["log_format"] = log_format
    if campus_networks:
        options["campus_networks"] = campus_networks
    if snapshot_date:
        options["snapshot_date"] = snapshot_date
    share = LoadSettings.from_env().max_reject_share if max_reject_share is None else max_reject_share
    try:
        with FileProgress(console, enabled=not as_json) as progress:
            results = ingest_files(
                warehouse_url(),
                source,
                format,
                paths,
                key=pseudonym_key(),
                max_reject_share=share,
                options=options,
                on_file=progress.start_file,
                on_progress=progress.advance,
            )
    except (LoadRejected, FileNotFoundError, KeyError, ValueError) as err:
        console.print(f"[red]error:[/red] {err.args[0] if err.args else err}")
        raise typer.Exit(2) from None
    for result in results:
        if as_json:
            typer.echo(json.dumps(result.as_dict()))
        elif result.skipped:
            console.print(f"{result.file}: already loaded (batch {result.batch_id}); nothing to do")
        else:
            console.print(
                f"{result.file}: {result.rows_loaded} rows loaded, {result.rows_quarantined} "
                f"quarantined (batch {result.batch_id})"
            )
            if result.rows_quarantined:
                console.print(
                    "  see: select source_line, field, reason from quarantine.rejected_rows "
                    f"where batch_id = '{result.batch_id}' order by source_line;"
                )


@app.command()
def formats() -> None:
    """List the sources and the formats each can read."""
    from ingest.registry import formats as all_formats

    for (source, name), fmt in sorted(all_formats().items()):
        typer.echo(f"{source:12} {name:18} -> raw.{fmt.table.name:20} {fmt.description}")
    typer.echo(f"{'counter':12} {'sushi':18} -> raw.counter_usage        harvest over SUSHI (URL)")


@app.command()
def build(
    select: Annotated[str | None, typer.Option(help="dbt selector, e.g. +user_persona.")] = None,
) -> None:
    """Run `dbt build` (seeds, models, tests) on the warehouse."""
    from ingest.run import connect
    from ingest.schema import migrate
    from urm.dbt import run_dbt
    from urm.warehouse import warehouse_url

    with connect(warehouse_url()) as conn:
        migrate(conn)
    args = ["build"] + (["--select", select] if select else [])
    result = run_dbt(*args, check=False)
    typer.echo(result.stdout)
    if result.returncode:
        typer.echo(result.stderr, err=True)
        raise typer.Exit(result.returncode)
    with connect(warehouse_url()) as conn:
        migrate(conn)  # grants the BI role SELECT on the new mart tables


@app.command()
def validate(
    table: Annotated[list[str], typer.Option(help="Landing tables to check (repeatable).")] = [],  # noqa: B006
) -> None:
    """Run the Great Expectations landing suites on whole landing tables (default: every guarded
    table loaded so far)."""
    from expectations.runner import validate_landing
    from expectations.suites import LANDING_SUITES
    from ingest.run import connect
    from urm.warehouse import warehouse_url

    url = warehouse_url()
    if not table:  # every guarded landing table that has been loaded at least once
        with connect(url) as conn:
            loaded = {r[0] for r in conn.execute("select distinct target_table from raw.load_log")}
        table = [name for name in LANDING_SUITES if name in loaded]
    if not table:
        console.print("nothing has been loaded yet: no landing table to check")
        return
    report = validate_landing(url, table)
    typer.echo(report.summary())
    if not report.success:
        raise typer.Exit(1)


@warehouse_app.command("url")
def warehouse_url_command() -> None:
    """Print the warehouse URL (starting the embedded server when needed)."""
    from urm.warehouse import warehouse_url

    typer.echo(warehouse_url())


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the embedded PostgreSQL (no-op with URM_WAREHOUSE_URL) and create the schemas."""
    from ingest.run import connect
    from ingest.schema import migrate
    from urm.warehouse import redact, warehouse_url

    url = warehouse_url()
    with connect(url) as conn:
        tables = migrate(conn)
    console.print(f"warehouse ready at {redact(url)} ({len(tables)} landing tables)")


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded PostgreSQL (its data stays under .urm/pgdata)."""
    from urm.warehouse import EmbeddedWarehouse, external_url

    if external_url():
        console.print("URM_WAREHOUSE_URL is set: that server is not ours to stop")
        return
    stopped = EmbeddedWarehouse().stop()
    console.print("stopped" if stopped else "it was not running")


@warehouse_app.command("psql")
def warehouse_psql(
    command: Annotated[str | None, typer.Option("-c", help="Run one SQL command and exit.")] = None,
) -> None:
    """Open psql on the warehouse (the wheel's own psql in embedded mode)."""
    from urm.warehouse import _bin_dir, warehouse_url

    psql = _bin_dir() / "psql"
    args = [str(psql if psql.exists() else "psql"), warehouse_url()]
    if command:
        args += ["-c", command]
    raise typer.Exit(subprocess.call(args, env={**os.environ, "PGTZ": "UTC"}))


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
