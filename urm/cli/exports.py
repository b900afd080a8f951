"""`urm export`, `urm report` and `urm docs`: what leaves the warehouse for people and tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ingest.errors import InvalidOption


def register(app: typer.Typer, console: Console) -> None:
    @app.command()
    def export(
        consumer: Annotated[str | None, typer.Argument(help="The consumer whose contract to export.")] = None,
        list_: Annotated[bool, typer.Option("--list", help="List the contracts and exit.")] = False,
        json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Export one consumer's contracted file (contracts/CONSUMER.yml) with its manifest, after
        the contract and privacy checks; `--list` shows every contract."""
        from urm.exports.contract import list_contracts, load_contract_file

        if list_:
            for path in list_contracts():
                c = load_contract_file(path)
                reid = c.reidentification.identifier if c.reidentification.allowed else None
                reid = f", re-identifies by {reid}" if reid else ""
                typer.echo(
                    f"{c.consumer:32} v{c.version} {c.level:10} {c.format:7} {c.schedule:15} "
                    f"-> {c.destination_url()}  ({c.owner}{reid})"
                )
            return
        if not consumer:
            raise InvalidOption("name a consumer (`urm export CONSUMER`), or list them: `urm export --list`")
        from urm.exports.export import run_export

        result = run_export(consumer)
        if json_:
            typer.echo(json.dumps(result.as_dict(), indent=2))
        else:
            console.print(
                f"[green]✓[/green] {result.consumer}: {result.row_count} rows, "
                f"{result.cells_suppressed} cells suppressed -> {result.file} (+ .manifest.json)"
            )

    @app.command()
    def report(
        out: Annotated[Path, typer.Option(help="Folder to write index.html (and report.pdf) into.")],
        college: Annotated[
            str | None, typer.Option(help="A college code: that college's learning-behaviour report.")
        ] = None,
        pdf: Annotated[bool, typer.Option(help="Also print a PDF with headless Chromium.")] = True,
    ) -> None:
        """Write a static, self-contained HTML insights report from the marts (small groups
        suppressed), and campaigns.html, each outreach campaign's uptake; with --college, one
        college's learning-behaviour report, in HTML and PDF."""
        from urm.reports.build import write_report

        written = write_report(out, college=college, pdf=pdf)
        if not college:
            from urm.reports.campaigns import write_campaigns_page

            written.append(write_campaigns_page(out))
        for path in written:
            console.print(f"[green]✓[/green] wrote {path}")

    @app.command()
    def docs(
        port: Annotated[int, typer.Option(help="Port to serve on (127.0.0.1).")] = 8081,
        serve: Annotated[bool, typer.Option(help="Serve the site after building it.")] = True,
    ) -> None:
        """Build dbt's documentation site (every mart, column and test, with lineage) and serve it."""
        from urm.reports.docs import build_docs, serve_docs

        target = build_docs()
        console.print(f"[green]✓[/green] dbt docs built in {target}")
        if serve:
            console.print(f"serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
            serve_docs(target, port)
