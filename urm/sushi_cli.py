"""`urm ingest counter --format sushi URL`: harvest one platform over SUSHI, then load."""

from __future__ import annotations

import json
from collections.abc import Sequence

import typer
from rich.console import Console

from ingest.run import ingest_files
from urm.eresources import month_start
from urm.pipeline import landing_dir
from urm.settings import LoadSettings, pseudonym_key
from urm.warehouse import warehouse_url


def harvest_command(urls: Sequence[str], *, platform: str | None, reports: Sequence[str],
                    begin: str | None, end: str | None, as_json: bool, console: Console) -> None:
    from ingest.counter.sushi import SushiCredentials, SushiError, describe, harvest

    if len(urls) != 1:
        raise typer.BadParameter("give exactly one SUSHI base URL")
    if not platform or not begin:
        raise typer.BadParameter("--platform and --begin YYYY-MM are required with --format sushi")
    try:
        credentials = SushiCredentials.from_env()
        harvested = harvest(urls[0], platform=platform, reports=reports, begin=month_start(begin),
                            end=month_start(end or begin), credentials=credentials,
                            landing_dir=landing_dir() / "counter" / "harvested")
    except SushiError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    for report in harvested:
        console.print(describe(report))
    results = ingest_files(warehouse_url(), "counter", "counter-json", [r.path for r in harvested],
                           key=pseudonym_key(), max_reject_share=LoadSettings.from_env().max_reject_share)
    for result, report in zip(results, harvested, strict=True):
        if as_json:
            typer.echo(json.dumps({**result.as_dict(), "warnings": report.warnings}))
        else:
            state = "already loaded" if result.skipped else f"{result.rows_loaded} rows loaded"
            console.print(f"{report.report_id} {report.begin:%Y-%m}..{report.end:%Y-%m}: {state}"
                          + (f", {result.replaced_rows} older figures replaced" if result.replaced_rows else ""))
