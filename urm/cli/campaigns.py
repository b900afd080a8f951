"""`urm campaign`: outreach campaigns (campaigns/NAME.yml) run against the marts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from ingest.errors import InvalidOption

HELP = """Outreach campaigns, one YAML file each under campaigns/ (URM_CAMPAIGNS_DIR): a segment of
user_persona and user_lifecycle_monthly, an action (an export under a contract), a period, a goal
metric (became_active, first_loan, first_eresource_session, training_attended) and a control
share. `urm campaign --list` lists them; `urm campaign run NAME` runs one; dbt's campaign_results
mart then compares the goal in the treated and control groups."""


def campaign_app(console: Console) -> typer.Typer:
    app = typer.Typer(help=HELP, no_args_is_help=False, invoke_without_command=True)

    @app.callback(invoke_without_command=True)
    def main(
        ctx: typer.Context,
        list_: Annotated[bool, typer.Option("--list", help="List the campaigns and exit.")] = False,
    ) -> None:
        if list_:
            from urm.campaigns.definition import list_campaigns, load_campaign_file

            for path in list_campaigns():
                c = load_campaign_file(path)
                typer.echo(
                    f"{c.name:32} {c.period_start} to {c.period_end}  goal {c.goal:24} "
                    f"control {c.control_share:.0%}  -> {c.export} ({c.channel})\n"
                    f"{'':32} segment: {c.describe_segment()}"
                )
            raise typer.Exit()
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit()

    @app.command("run", short_help="Run one campaign period: segment, control group, record, export.")
    def run(
        name: Annotated[str, typer.Argument(help="The campaign: campaigns/NAME.yml.")],
        no_export: Annotated[
            bool, typer.Option("--no-export", help="Record the groups only; export nothing.")
        ] = False,
        json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Select the campaign's segment, hold out its seeded random control group, record who was
        targeted when (raw.campaign_assignments, pseudonymous) and export the treated group under
        the action's contract. Re-running the same period reuses the recorded groups: it changes
        neither the groups nor the results. Rebuild campaign_results afterwards (`urm build
        --select campaign_results`, or the warehouse DAG) to see the uptake."""
        if not name.strip():
            raise InvalidOption("name a campaign (`urm campaign run NAME`); list them: `urm campaign --list`")
        from urm.campaigns.run import run_campaign

        result = run_campaign(name, export=not no_export)
        if json_:
            typer.echo(json.dumps(result.as_dict(), indent=2, default=str))
            return
        what = "recorded" if result.newly_recorded else "already recorded, reused"
        console.print(
            f"[green]✓[/green] {result.campaign} {result.period_start} to {result.period_end}: "
            f"{result.treated} treated, {result.control} control ({what})"
        )
        if result.export:
            console.print(f"[green]✓[/green] treated group exported: {result.export.file} (+ .manifest.json)")

    return app
