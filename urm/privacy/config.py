"""The privacy configuration: retention windows (config/retention.yml) and the privacy suite's
rules (config/privacy.yml). Each file is optional: the defaults below are the ones the shipped
files document (a test keeps them equal). URM_RETENTION_CONFIG / URM_PRIVACY_CONFIG name other
files (in production: the mounted /config folder)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from ingest.errors import InvalidOption
from urm.platform.settings import PROJECT_ROOT

CONFIG_DIR = PROJECT_ROOT / "config"

DEFAULT_RETENTION: dict[str, Any] = {
    "default": {"identified_days": 400},
    "tables": {
        "koha_statistics": {"age_from": ["event_at"]},
        "folio_loans": {"age_from": ["returned_at", "loan_at"]},
        "ezproxy_requests": {"age_from": ["requested_at"], "also": ["client_network"]},
        "campus_people": {
            "age_from": ["snapshot_date"],
            "identified_days": 1095,
            "keep_newest": "snapshot_date",
        },
    },
    "quarantine_days": 90,
    "load_log_days": 800,
    "identity_days": 1095,
}

DEFAULT_PRIVACY: dict[str, Any] = {
    "deny_columns": [
        "(first_|last_|given_|family_|full_|real_|user_|person_|display_|nick)?name",
        ".*(phone|mobile|telephone|tel_no|wechat|qq).*",
        ".*e_?mail.*",
        ".*(national_id|id_number|id_card|id_no|resident_id|identity_number|passport).*",
        ".*address.*",
        ".*(student|staff|employee|person|card)_?(no|num|number|id)",
        ".*card.*",
        ".*login.*",
        ".*(patron|borrower)_?(key|no|num|number|id)",
        "(.*_)?ip(_.*)?",
        "client_network",
    ],
    "deny_types": ["inet", "cidr", "macaddr", "macaddr8"],
    "value_patterns": {
        "e-mail address": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
        "mobile number": r"(^|[^0-9A-Za-z])(\+?86[- ]?)?1[3-9][0-9]([- ]?[0-9]{4}){2}($|[^0-9A-Za-z])",
        "student number": r"(^|[^0-9A-Za-z])[Ss](19|20)[0-9]{8}($|[^0-9A-Za-z])",
        "staff number": r"(^|[^0-9A-Za-z])[TtEe](19|20)[0-9]{5}($|[^0-9A-Za-z])",
        "card number": r"(^|[^0-9A-Za-z])21[0-9]{8}($|[^0-9A-Za-z])",
        "IP address": r"(^|[^0-9.])[0-9]{1,3}(\.[0-9]{1,3}){3}($|[^0-9.])",
    },
    "resident_id_numbers": True,
    "individual_marts": ["user_persona", "*rank*"],
    "ranking_marts": ["*rank*"],
    "k_anonymity": True,
    "k_anonymity_exempt": ["library_kpis_daily"],
}


def _load(variable: str, name: str, default: dict[str, Any]) -> dict[str, Any]:
    path = Path(os.environ.get(variable) or CONFIG_DIR / name)
    if not path.exists():
        if os.environ.get(variable):
            raise InvalidOption(f"{variable}={path}: no such file")
        return default
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise InvalidOption(f"{path}: not valid YAML ({str(err).splitlines()[0]}); fix the file") from None
    if not isinstance(loaded, dict):
        raise InvalidOption(f"{path}: expected a mapping of settings at the top level")
    return {**default, **loaded}


@dataclass(frozen=True)
class TableRetention:
    table: str
    identified_days: int
    age_from: tuple[str, ...] | None = None  # None: the table's first timestamp or date column
    also: tuple[str, ...] = ()
    keep_newest: str | None = None


@dataclass(frozen=True)
class RetentionConfig:
    default_days: int
    tables: dict[str, TableRetention] = field(default_factory=dict)
    quarantine_days: int = 90
    load_log_days: int = 800
    identity_days: int = 1095

    def for_table(self, name: str) -> TableRetention:
        return self.tables.get(name) or TableRetention(name, self.default_days)


def _days(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOption(f"retention config: {where} must be a whole number of days >= 0, found {value!r}")
    return value


def retention_config() -> RetentionConfig:
    raw = _load("URM_RETENTION_CONFIG", "retention.yml", DEFAULT_RETENTION)
    default_days = _days((raw.get("default") or {}).get("identified_days", 400), "default.identified_days")
    tables = {}
    for name, entry in (raw.get("tables") or {}).items():
        entry = entry or {}
        age_from = entry.get("age_from")
        tables[name] = TableRetention(
            table=name,
            identified_days=_days(entry.get("identified_days", default_days), f"{name}.identified_days"),
            age_from=tuple(age_from) if age_from else None,
            also=tuple(entry.get("also") or ()),
            keep_newest=entry.get("keep_newest"),
        )
    return RetentionConfig(
        default_days=default_days,
        tables=tables,
        quarantine_days=_days(raw.get("quarantine_days", 90), "quarantine_days"),
        load_log_days=_days(raw.get("load_log_days", 800), "load_log_days"),
        identity_days=_days(raw.get("identity_days", 1095), "identity_days"),
    )


@dataclass(frozen=True)
class PrivacyRules:
    deny_columns: tuple[str, ...]
    deny_types: tuple[str, ...]
    value_patterns: dict[str, str]
    resident_id_numbers: bool
    individual_marts: tuple[str, ...]
    ranking_marts: tuple[str, ...]
    k_anonymity: bool
    k_anonymity_exempt: tuple[str, ...] = ()


def privacy_rules() -> PrivacyRules:
    raw = _load("URM_PRIVACY_CONFIG", "privacy.yml", DEFAULT_PRIVACY)
    return PrivacyRules(
        deny_columns=tuple(raw.get("deny_columns") or ()),
        deny_types=tuple(t.lower() for t in raw.get("deny_types") or ()),
        value_patterns=dict(raw.get("value_patterns") or {}),
        resident_id_numbers=bool(raw.get("resident_id_numbers", True)),
        individual_marts=tuple(raw.get("individual_marts") or ()),
        ranking_marts=tuple(raw.get("ranking_marts") or ()),
        k_anonymity=bool(raw.get("k_anonymity", True)),
        k_anonymity_exempt=tuple(raw.get("k_anonymity_exempt") or ()),
    )
