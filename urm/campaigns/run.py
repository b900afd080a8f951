"""`urm campaign run NAME`: select the segment, hold out the control group, record who was
targeted when, and export the treated group under the action's contract.

The groups of a campaign period are recorded once, in one transaction (raw.campaign_assignments,
keyed on campaign, period start and user_key): a re-run for the same period finds them and
reuses them, without selecting the segment again, so neither its groups nor its results change
(the people the campaign reached stay the people it reached, whatever the marts say later). The
arm of each user is a pure function of the campaign's seed and user_key (assignment.arm_of).
The segment reads marts.user_persona, which holds only users who allow profiling, and is joined
to their consent again: an opted-out user is never targeted, and the export checks consent once
more before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from urm.campaigns.assignment import CONTROL, TREATED, arm_of
from urm.campaigns.definition import Campaign, CampaignRefused, load_campaign
from urm.exports.contract import load_contract
from urm.exports.export import ExportResult, run_export


@dataclass
class CampaignRun:
    campaign: str
    period_start: str
    period_end: str
    treated: int
    control: int
    newly_recorded: bool
    export: ExportResult | None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["export"] = self.export.as_dict() if self.export else None
        return data


def segment_query(campaign: Campaign, schema: str = "marts") -> sql.Composed:
    """The users the campaign targets (consenting users with a persona), ordered by user_key."""
    return sql.SQL(
        "select persona.user_key from {schema}.user_persona as persona"
        " join {schema}.dim_user as consent on consent.user_key = persona.user_key"
        " and consent.consent_profiling"
        " left join {schema}.user_lifecycle_monthly as lifecycle on lifecycle.user_key = persona.user_key"
        " and lifecycle.month = {month}"
        " cross join lateral (select"
        " (select count(*) from {schema}.fct_loans as l"
        " where l.user_key = persona.user_key and l.loan_date < {start}) as loans_before_period,"
        " (select count(*) from {schema}.fct_eresource_sessions as s"
        " where s.user_key = persona.user_key and s.session_date < {start})"
        " as eresource_sessions_before_period"
        ") as before"
        " where {where} order by persona.user_key"
    ).format(
        schema=sql.Identifier(schema),
        month=sql.Literal(campaign.as_of_month),
        start=sql.Literal(campaign.period_start),
        where=campaign.where(),
    )


def recorded_groups(conn: psycopg.Connection, campaign: Campaign) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select user_key, arm from raw.campaign_assignments where campaign = %s and period_start = %s "
        "order by user_key",
        (campaign.name, campaign.period_start),
    ).fetchall()
    return [(user_key, arm) for user_key, arm in rows]


def _check_recorded_period(conn: psycopg.Connection, campaign: Campaign) -> None:
    row = conn.execute(
        "select period_end, goal_metric, control_share from raw.campaign_assignments "
        "where campaign = %s and period_start = %s limit 1",
        (campaign.name, campaign.period_start),
    ).fetchone()
    if row and (row[0], row[1], float(row[2])) != (
        campaign.period_end,
        campaign.goal,
        campaign.control_share,
    ):
        raise CampaignRefused(
            f"{campaign.path or campaign.name}: the period starting {campaign.period_start} was run with "
            f"end {row[0]}, goal {row[1]}, control share {float(row[2])}; a run's groups are kept: "
            "restore those values, or give the campaign a new period start"
        )


def assign(
    conn: psycopg.Connection, campaign: Campaign, schema: str = "marts"
) -> tuple[list[tuple[str, str]], bool]:
    """The campaign period's groups: the recorded ones, or the segment's, recorded now."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"urm.campaign:{campaign.name}",))
        _check_recorded_period(conn, campaign)
        groups = recorded_groups(conn, campaign)
        if groups:
            return groups, False
        users = [r[0] for r in conn.execute(segment_query(campaign, schema)).fetchall()]
        groups = [(user_key, arm_of(campaign.seed, user_key, campaign.control_share)) for user_key in users]
        assigned_at = datetime.now(UTC)
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.campaign_assignments (campaign, period_start, period_end, goal_metric, "
                "control_share, user_key, arm, assigned_at) values (%s, %s, %s, %s, %s, %s, %s, %s) "
                "on conflict (campaign, period_start, user_key) do nothing",
                [
                    (
                        campaign.name,
                        campaign.period_start,
                        campaign.period_end,
                        campaign.goal,
                        campaign.control_share,
                        user_key,
                        arm,
                        assigned_at,
                    )
                    for user_key, arm in groups
                ],
            )
        return groups, True


def run_campaign(
    name: str,
    *,
    url: str | None = None,
    schema: str = "marts",
    campaigns_folder: Path | None = None,
    contracts_folder: Path | None = None,
    key: bytes | None = None,
    export: bool = True,
) -> CampaignRun:
    """Run one campaign period (see the module's docstring); `export=False` records the groups only."""
    from ingest.run import connect
    from urm.platform.warehouse import warehouse_url

    campaign = load_campaign(name, campaigns_folder)
    contract = load_contract(campaign.export, contracts_folder)
    if contract.level != "individual":
        raise CampaignRefused(
            f"{campaign.path or name}: action export {campaign.export} is an aggregate contract; "
            "a campaign reaches persons through an individual one"
        )
    url = url or warehouse_url()
    with connect(url) as conn:
        groups, recorded = assign(conn, campaign, schema)
    treated = [user_key for user_key, arm in groups if arm == TREATED]
    result = None
    if export:
        result = run_export(
            campaign.export,
            url=url,
            schema=schema,
            contracts_folder=contracts_folder,
            interval_start=datetime.combine(campaign.period_start, time(), UTC),
            interval_end=datetime.combine(campaign.period_end, time(), UTC),
            key=key,
            only_user_keys=treated,
            file_label=f"{campaign.name}-{campaign.period_start:%Y%m%d}",
        )
    return CampaignRun(
        campaign=campaign.name,
        period_start=campaign.period_start.isoformat(),
        period_end=campaign.period_end.isoformat(),
        treated=len(treated),
        control=sum(arm == CONTROL for _, arm in groups),
        newly_recorded=recorded,
        export=result,
    )
