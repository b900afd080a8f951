"""Campaign files: `campaigns/NAME.yml`, read and checked here.

A campaign names its purpose, the segment it targets, the action (an export under a contract),
the period, the goal metric and the share held out as control. The segment is a small filter
language, never SQL: a list of conditions that must all hold, each `{column, op, value}` over a
whitelisted column of marts.user_persona or marts.user_lifecycle_monthly (or a count of loans or
e-resource sessions before the period, from the facts), or `{any: [...]}` of conditions of which
one must hold. Columns, operators and values are checked here and composed
with psycopg.sql (identifiers quoted, values as literals): a campaign file cannot inject SQL.

Lifecycle columns (stage, previous_stage, is_active, ...) are read for the last month that ended
before the period starts (a period starting 13 October reads September), so that the segment is
what the library knew when the campaign went out, whatever happens during the period.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from psycopg import sql

from ingest.errors import UserError
from urm.platform.settings import PROJECT_ROOT
from urm.platform.yamlfiles import read_yaml, yaml_files


class CampaignRefused(UserError):
    """A campaign file is malformed or asks for something the platform will not do."""


GOALS = ("became_active", "first_loan", "first_eresource_session", "training_attended")
REQUIRED = ("name", "purpose", "segment", "action", "period", "goal", "control_share")

# column -> (relation alias, value kind). persona: marts.user_persona (today's personas);
# lifecycle: marts.user_lifecycle_monthly in the month before the period starts; before: loans
# (fct_loans) and e-resource sessions (fct_eresource_sessions) dated before the period starts.
COLUMNS: dict[str, tuple[str, str]] = {
    **{
        name: ("persona", "text")
        for name in (
            "user_type",
            "user_group",
            "college",
            "major",
            "class_code",
            "degree_level",
            "rfb_segment",
            "lifecycle_stage",
            "channel_mix",
            "top_platform",
            "preferred_hour_band",
        )
    },
    **{
        name: ("persona", "integer")
        for name in (
            "year_of_study",
            "visits",
            "loans_in_window",
            "distinct_subject_classes",
            "eresource_sessions",
            "distinct_platforms",
            "bookings",
            "trainings_attended",
            "consultations",
            "active_days",
            "days_since_last_use",
        )
    },
    "engagement_score": ("persona", "number"),
    "is_vip": ("persona", "boolean"),
    # what the user did before the period starts (from the facts, whatever happens in the period)
    "loans_before_period": ("before", "integer"),
    "eresource_sessions_before_period": ("before", "integer"),
    "stage": ("lifecycle", "text"),
    "previous_stage": ("lifecycle", "text"),
    "is_active": ("lifecycle", "boolean"),
    "is_first_active_month": ("lifecycle", "boolean"),
    "inactive_months": ("lifecycle", "integer"),
    "gap_months": ("lifecycle", "integer"),
    "loyal_window_active_months": ("lifecycle", "integer"),
}
COMPARISONS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
ORDERED = {"lt", "le", "gt", "ge"}
LISTS = {"in": "=", "not_in": "<>"}
NULLS = {"is_null": "is null", "not_null": "is not null"}
OPS = (*COMPARISONS, *LISTS, *NULLS)
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def campaigns_dir() -> Path:
    return Path(os.environ.get("URM_CAMPAIGNS_DIR") or PROJECT_ROOT / "campaigns")


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: Any = None

    def sql(self) -> sql.Composable:
        alias, _ = COLUMNS[self.column]
        target = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(self.column))
        if self.op in NULLS:
            return sql.SQL("{} {}").format(target, sql.SQL(NULLS[self.op]))
        if self.op in LISTS:
            values = sql.SQL(", ").join(sql.Literal(v) for v in self.value)
            quantifier = "any" if self.op == "in" else "all"
            return sql.SQL("coalesce({} {} {}(array[{}]), false)").format(
                target, sql.SQL(LISTS[self.op]), sql.SQL(quantifier), values
            )
        return sql.SQL("coalesce({} {} {}, false)").format(
            target, sql.SQL(COMPARISONS[self.op]), sql.Literal(self.value)
        )

    def describe(self) -> str:
        if self.op in NULLS:
            return f"{self.column} {self.op}"
        return f"{self.column} {self.op} {self.value!r}"


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition | AnyOf, ...]

    def sql(self) -> sql.Composable:
        return sql.SQL("({})").format(sql.SQL(" or ").join(c.sql() for c in self.conditions))

    def describe(self) -> str:
        return "(" + " or ".join(c.describe() for c in self.conditions) + ")"


@dataclass(frozen=True)
class Campaign:
    name: str
    purpose: str
    segment: tuple[Condition | AnyOf, ...]
    export: str  # the consumer whose contract (contracts/CONSUMER.yml) delivers the action
    channel: str
    period_start: date
    period_end: date
    goal: str
    control_share: float
    seed: str
    path: Path | None = field(default=None, compare=False)

    @property
    def as_of_month(self) -> date:
        """The lifecycle month the segment reads: the last month that ended before the period."""
        return (self.period_start.replace(day=1) - timedelta(days=1)).replace(day=1)

    def where(self) -> sql.Composable:
        if not self.segment:
            return sql.SQL("true")
        return sql.SQL(" and ").join(c.sql() for c in self.segment)

    def describe_segment(self) -> str:
        return " and ".join(c.describe() for c in self.segment) or "everyone with a persona"


def _refuse(where: str, message: str) -> CampaignRefused:
    return CampaignRefused(f"{where}: {message}")


def _value(where: str, column: str, kind: str, value: Any) -> Any:
    ok = {
        "text": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }[kind]
    if not ok:
        raise _refuse(where, f"segment column {column} takes a {kind} value, not {value!r}")
    return value


def parse_condition(item: Any, where: str) -> Condition | AnyOf:
    if isinstance(item, dict) and set(item) == {"any"}:
        options = item["any"]
        if not isinstance(options, list) or not options:
            raise _refuse(where, "segment `any:` takes a non-empty list of conditions")
        return AnyOf(tuple(parse_condition(option, where) for option in options))
    if (
        not isinstance(item, dict)
        or not {"column", "op"} <= set(item)
        or set(item) - {"column", "op", "value"}
    ):
        raise _refuse(
            where,
            f"segment condition {item!r} must be {{column: ..., op: ..., value: ...}} or {{any: [...]}}",
        )
    column, op = str(item["column"]), str(item["op"])
    if column not in COLUMNS:
        raise _refuse(where, f"segment column {column!r} is not one of: {', '.join(sorted(COLUMNS))}")
    if op not in OPS:
        raise _refuse(where, f"segment op {op!r} is not one of: {', '.join(OPS)}")
    kind = COLUMNS[column][1]
    if op in NULLS:
        if item.get("value") is not None:
            raise _refuse(where, f"segment op {op} takes no value")
        return Condition(column, op)
    if "value" not in item:
        raise _refuse(where, f"segment condition on {column} needs a value")
    value = item["value"]
    if op in LISTS:
        if not isinstance(value, list) or not value:
            raise _refuse(where, f"segment op {op} takes a non-empty list of values")
        return Condition(column, op, tuple(_value(where, column, kind, v) for v in value))
    if op in ORDERED and kind in ("text", "boolean"):
        raise _refuse(where, f"segment op {op} compares numbers; {column} is {kind}")
    return Condition(column, op, _value(where, column, kind, value))


def _date(where: str, value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _refuse(where, f"period {what} {value!r} is not a date (YYYY-MM-DD)") from None


def parse_campaign(data: Any, *, where: str = "campaign", path: Path | None = None) -> Campaign:
    if not isinstance(data, dict):
        raise _refuse(where, "a campaign is a YAML mapping (name: ..., purpose: ..., segment: ...)")
    missing = [key for key in REQUIRED if data.get(key) in (None, "", [])]
    if missing:
        raise _refuse(where, f"missing {', '.join(missing)}; every campaign states {', '.join(REQUIRED)}")
    name = str(data["name"])
    if not _NAME.match(name):
        raise _refuse(where, f"name {name!r} must be lower case letters, digits and _")
    segment = data["segment"]
    if not isinstance(segment, list):
        raise _refuse(where, "segment is a list of conditions that must all hold")
    conditions = tuple(parse_condition(item, where) for item in segment)
    action = data["action"]
    if not isinstance(action, dict) or not isinstance(action.get("export"), str):
        raise _refuse(
            where, "action must name the export contract that delivers it: action: {export: CONSUMER}"
        )
    period = data["period"]
    if not isinstance(period, dict) or not {"start", "end"} <= set(period):
        raise _refuse(where, "period needs start and end dates")
    start, end = _date(where, period["start"], "start"), _date(where, period["end"], "end")
    if end < start:
        raise _refuse(where, f"period ends ({end}) before it starts ({start})")
    goal = str(data["goal"])
    if goal not in GOALS:
        raise _refuse(where, f"goal {goal!r} is not one of {', '.join(GOALS)}")
    share = data["control_share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise _refuse(where, f"control_share {share!r} must be a number between 0 and 1 (e.g. 0.3)")
    return Campaign(
        name=name,
        purpose=str(data["purpose"]).strip(),
        segment=conditions,
        export=action["export"],
        channel=str(action.get("channel") or action["export"]),
        period_start=start,
        period_end=end,
        goal=goal,
        control_share=float(share),
        seed=str(data.get("seed") or name),
        path=path,
    )


def load_campaign_file(path: Path) -> Campaign:
    data = read_yaml(path, CampaignRefused)
    campaign = parse_campaign(data, where=str(path), path=path)
    if campaign.name != path.stem:
        raise CampaignRefused(f"{path}: name {campaign.name!r} must match the file name {path.stem}")
    return campaign


def list_campaigns(folder: Path | None = None) -> list[Path]:
    folder = folder or campaigns_dir()
    return yaml_files(folder)


def load_campaign(name: str, folder: Path | None = None) -> Campaign:
    folder = folder or campaigns_dir()
    path = folder / f"{name}.yml"
    if not _NAME.match(name) or not path.exists():
        known = ", ".join(p.stem for p in list_campaigns(folder)) or "none"
        raise CampaignRefused(f"no campaign {path}: known campaigns are {known} (`urm campaign --list`)")
    return load_campaign_file(path)
