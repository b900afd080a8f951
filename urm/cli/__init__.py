"""`urm`: the command line of library-urm. Every command has --help."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

from ingest.errors import InvalidOption
from urm.cli.campaigns import campaign_app
from urm.cli.errors import is_cli_control, report_and_exit
from urm.cli.exports import register as register_exports
from urm.cli.ingest import ingest_app
from urm.cli.privacy import privacy_app
from urm.cli.status import status as status_command


class _Group(TyperGroup):
    """The root command: every error ends as one line (see urm.cli.errors)."""

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except Exception as err:
            if is_cli_control(err):
                raise
            report_and_exit(err, console, debug=bool(ctx.params.get("debug")))
            raise  # unreachable: report_and_exit always exits


app = typer.Typer(
    help="library-urm: user data warehouse and persona marts for university libraries.",
    no_args_is_help=True,
    add_completion=False,
    cls=_Group,
)
warehouse_app = typer.Typer(
    help="Start, stop, locate or open the warehouse (PostgreSQL).", no_args_is_help=True
)
app.add_typer(warehouse_app, name="warehouse")
console = Console(stderr=True)
app.add_typer(ingest_app(console), name="ingest")
app.add_typer(privacy_app(console), name="privacy")
app.add_typer(campaign_app(console), name="campaign")


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """library-urm: user data warehouse and persona marts for university libraries."""


def _demo_package() -> None:
    try:
        import urm_demo  # noqa: F401
    except ImportError:
        raise InvalidOption(
            "the demo is not installed: install the project with its demo extra "
            "(`pip install -e '.[demo]'`, as `make demo` does)"
        ) from None


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="People in the synthetic university.")] = 2000,
    days: Annotated[int, typer.Option(help="Days of activity, from 2025-09-01.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same university.")] = 7,
    ils: Annotated[str, typer.Option(help="Which ILS export to load: koha or folio.")] = "koha",
) -> None:
    """Generate a synthetic university and run every DAG on it, in dependency order, through
    Airflow's local runner; end with a summary. Running it again changes no count."""
    _demo_package()
    from urm_demo.run import run_demo

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
    _demo_package()
    from urm_demo.synth import generate

    summary = generate(out, users=users, days=days, seed=seed)
    console.print(f"wrote the synthetic university to {out}")
    typer.echo(json.dumps(getattr(summary, "counts", {}), indent=2, default=str))


@app.command()
def formats() -> None:
    """List the sources, the formats each can read, their options and landing patterns."""
    from ingest.registry import sources

    for source in sources().values():
        typer.echo(f"{source.name}: {source.description}")
        for fmt in source.formats:
            target = f"raw.{fmt.table.name}" if fmt.fetch is None else f"fetch, then {fmt.fetch.loads_as}"
            typer.echo(f"  --format {fmt.name:20} -> {target:24} {fmt.description}")
            if fmt.options:
                typer.echo("      options: " + " ".join(o.flag for o in fmt.options))
            if fmt.landing:
                typer.echo("      landing: " + " ".join(fmt.landing))


@app.command()
def build(
    select: Annotated[str | None, typer.Option(help="dbt selector, e.g. +user_persona.")] = None,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild the incremental models from scratch (e.g. after a seed change).")
    ] = False,
) -> None:
    """Run `dbt build` (seeds, models, tests) on the warehouse. Incremental models take in the
    batches loaded since the last build; --full-refresh rebuilds them from every row."""
    from ingest.privacy.keys import verify_pseudonym_key
    from ingest.run import connect
    from ingest.schema import migrate
    from urm.platform.dbt import run_dbt
    from urm.platform.settings import pseudonym_key
    from urm.platform.warehouse import warehouse_url

    with connect(warehouse_url()) as conn:
        migrate(conn)
        verify_pseudonym_key(conn, pseudonym_key(announce=False))  # another key: refused before dbt
    args = ["build"] + (["--select", select] if select else []) + (["--full-refresh"] if full_refresh else [])
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
    from urm.platform.warehouse import warehouse_url

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
    from urm.platform.warehouse import warehouse_url

    typer.echo(warehouse_url())


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the embedded PostgreSQL (no-op with URM_WAREHOUSE_URL) and create the schemas."""
    from ingest.run import connect
    from ingest.schema import migrate
    from urm.platform.warehouse import redact, warehouse_url

    url = warehouse_url()
    with connect(url) as conn:
        tables = migrate(conn)
    console.print(f"warehouse ready at {redact(url)} ({len(tables)} landing tables)")


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded PostgreSQL (its data stays under .urm/pgdata)."""
    from urm.platform.warehouse import EmbeddedWarehouse, external_url

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
    from urm.platform.warehouse import _bin_dir, warehouse_url

    psql = _bin_dir() / "psql"
    args = [str(psql if psql.exists() else "psql"), warehouse_url()]
    if command:
        args += ["-c", command]
    raise typer.Exit(subprocess.call(args, env={**os.environ, "PGTZ": "UTC"}))


register_exports(app, console)  # urm export, urm report, urm docs
app.command("status")(status_command)


def main() -> None:  # pragma: no cover - console script entry
    app(prog_name="urm")


if __name__ == "__main__":  # pragma: no cover
    main()
