"""`urm ingest counter --format sushi URL`: harvest one platform over SUSHI, then load."""

from __future__ import annotations

import json
from collections.abc import Sequence

import typer
from rich.console import Console

from urm.eresources import month_start
from urm.pipeline import landing_dir
from urm.settings import LoadSettings, pseudonym_key
from urm.warehouse import warehouse_url


def harvest_command(
    urls: Sequence[str],
    *,
    platform: str | None,
    reports: Sequence[str],
    begin: str | None,
    end: str | None,
    as_json: bool,
    console: Console,
) -> None:
    from ingest.counter.load import harvest_and_load
    from ingest.counter.sushi import SushiCredentials, SushiError

    if len(urls) != 1:
        raise typer.BadParameter("give exactly one SUSHI base URL")
    if not platform or not begin:
        raise typer.BadParameter("--platform and --begin YYYY-MM are required with --format sushi")
    try:
        results = harvest_and_load(
            warehouse_url(),
            urls[0],
            platform=platform,
            reports=reports,
            begin=month_start(begin),
            end=month_start(end or begin),
            credentials=SushiCredentials.from_env(),
            landing_dir=landing_dir() / "counter" / "harvested",
            key=pseudonym_key(),
            max_reject_share=LoadSettings.from_env().max_reject_share,
        )
    except SushiError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    for result in results:
        load = result.load
        if as_json:
            typer.echo(json.dumps({**load.as_dict(), "warnings": result.warnings}))
            continue
        state = "already loaded" if load.skipped else f"{load.rows_loaded} rows loaded"
        if load.replaced_rows:
            state += f", {load.replaced_rows} older figures replaced"
        console.print(f"{load.file}: {state}")
        for warning in result.warnings:
            console.print(f"  warning: {warning}")
