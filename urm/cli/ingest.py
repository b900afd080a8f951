"""`urm ingest SOURCE [--format F] [options] PATH...`, generated from the source registry: each
source is a sub-command whose flags are its formats' declared options. Adding a format adds its
flags here without touching this file."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ingest.model import Format, Option, Source
from ingest.registry import get_format, sources


def _print_results(results: list[Any], console: Console, *, as_json: bool) -> None:
    if not results:  # a remote source with nothing new since its last sync
        console.print("nothing new to load", highlight=False)
    for result in results:
        if as_json:
            typer.echo(json.dumps(result.as_dict()))
            continue
        if result.skipped:
            console.print(f"{result.file}: already loaded (batch {result.batch_id}); nothing to do")
            continue
        state = f"{result.rows_loaded} rows loaded, {result.rows_quarantined} quarantined"
        if result.replaced_rows:
            state += f", {result.replaced_rows} older rows replaced"
        console.print(f"{result.file}: {state} (batch {result.batch_id})", highlight=False)
        for warning in result.warnings:
            console.print(f"  warning: {warning}", highlight=False)
        if result.rows_quarantined:
            console.print(
                "  see: select source_line, field, reason from quarantine.rejected_rows "
                f"where batch_id = '{result.batch_id}' order by source_line;",
                highlight=False,
            )


def run_ingest(
    source: Source,
    format_name: str | None,
    targets: list[str],
    *,
    as_json: bool,
    max_reject_share: float | None,
    options: dict[str, Any],
    console: Console,
) -> None:
    from ingest.errors import InvalidOption
    from ingest.run import fetch_and_ingest, ingest_files
    from urm.platform.progress import FileProgress
    from urm.platform.settings import LoadSettings, pseudonym_key
    from urm.platform.warehouse import warehouse_url
    from urm.steps.landing import landing_dir

    fmt: Format = get_format(source.name, format_name)
    given = {
        k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items() if v is not None and v != []
    }
    foreign = sorted(k for k in given if fmt.option(k) is None)
    if foreign:
        flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise InvalidOption(f"{flags} does not apply to --format {fmt.name}")
    share = LoadSettings.from_env().max_reject_share if max_reject_share is None else max_reject_share
    with FileProgress(console, enabled=not as_json) as progress:
        if fmt.fetch is not None:
            if len(targets) != 1:
                raise InvalidOption(f"--format {fmt.name} takes exactly one URL: {fmt.fetch.target_help}")
            results = fetch_and_ingest(
                warehouse_url(),
                source.name,
                fmt.name,
                targets[0],
                landing=landing_dir(),
                key=pseudonym_key(),
                max_reject_share=share,
                options=given,
                on_file=progress.start_file,
                on_progress=progress.advance,
            )
        else:
            results = ingest_files(
                warehouse_url(),
                source.name,
                fmt.name,
                [Path(t) for t in targets],
                key=pseudonym_key(),
                max_reject_share=share,
                options=given,
                on_file=progress.start_file,
                on_progress=progress.advance,
            )
    _print_results(results, console, as_json=as_json)


def _option_parameter(option: Option) -> inspect.Parameter:
    help_text = option.help
    if option.default not in (None, ()):
        help_text += f" Default: {option.default!r}."
    if option.env:
        help_text += f" Also read from {option.env}."
    value_type: Any = list[option.type] if option.multiple else option.type  # type: ignore[name-defined]
    return inspect.Parameter(
        option.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[value_type | None, typer.Option(option.flag, help=help_text)],
    )


def source_command(source: Source, console: Console) -> Callable[..., None]:
    """A function whose signature typer turns into the source's sub-command."""
    file_formats = [f for f in source.formats if f.fetch is None]
    names = ", ".join(f.name for f in source.formats)
    single = len(file_formats) == 1

    def command(**kwargs: Any) -> None:
        run_ingest(
            source,
            kwargs.pop("format"),
            kwargs.pop("targets"),
            as_json=kwargs.pop("as_json"),
            max_reject_share=kwargs.pop("max_reject_share"),
            options=kwargs,
            console=console,
        )

    kw = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(
            "targets",
            kw,
            annotation=Annotated[
                list[str], typer.Argument(help="Files to load (a URL for a remote format).")
            ],
        ),
        inspect.Parameter(
            "format",
            kw,
            default=None,
            annotation=Annotated[
                str | None,
                typer.Option(
                    "--format",
                    "-f",
                    help=f"One of: {names}."
                    + (
                        f" May be left out: {file_formats[0].name} is the only file format." if single else ""
                    ),
                ),
            ],
        ),
        inspect.Parameter(
            "as_json",
            kw,
            default=False,
            annotation=Annotated[bool, typer.Option("--json", help="Print one JSON object per file.")],
        ),
        inspect.Parameter(
            "max_reject_share",
            kw,
            default=None,
            annotation=Annotated[
                float | None,
                typer.Option(
                    "--max-reject-share",
                    help="Fail the load (and load nothing) when more than this share of rows is "
                    "bad. Default: URM_MAX_REJECT_SHARE or 0.25.",
                ),
            ],
        ),
        *(_option_parameter(o) for o in source.options),
    ]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    lines = [source.description, "", "Formats (see `urm formats`):"]
    lines += [f"- {f.name}: {f.description}" for f in source.formats]
    lines += [
        "",
        "Bad rows go to quarantine with file, line, field and reason; a file loaded "
        "before is skipped (same checksum).",
    ]
    command.__doc__ = "\n\n".join(lines)
    return command


def ingest_app(console: Console) -> typer.Typer:
    app = typer.Typer(
        help="Load files (or a remote source) of one source into the warehouse.",
        no_args_is_help=True,
    )
    for source in sources().values():
        app.command(name=source.name, short_help=source.description)(source_command(source, console))
    return app
