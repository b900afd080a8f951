"""Export contracts: one YAML file per consumer under `contracts/`, read and checked here.

A contract says who receives what, why and on which legal basis; which marts and columns; which
rows; whether the consumer may re-identify people (and through which identifier); the format, the
destination and the schedule. Anything a contract asks that the platform will not give is refused
with a one-line message before anything is read or written.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from ingest.errors import UserError
from urm.platform.settings import PROJECT_ROOT
from urm.platform.yamlfiles import read_yaml, yaml_files


class ContractRefused(UserError):
    """An export contract asks for something the platform will not give, or is malformed."""


FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}
LEVELS = ("individual", "aggregate")
# Schemas a contract may read: marts (BI's too), or exports (models no BI role can read, such as
# personal recommendations, that leave the warehouse only through a contract).
SOURCE_SCHEMAS = ("marts", "exports")
SCHEDULES = ("on_marts_update", "@daily", "@weekly", "@monthly", "on_demand")
# on_demand: released only when a command asks (`urm campaign run` exports a campaign's treated
# group), never by the export DAG's schedule.
# Identifier kinds `restricted.identity` may hold; a column of one of these names is an identifier.
IDENTIFIER_KINDS = ("student_number", "staff_number")
# Names that are person identifiers or contact data wherever they appear: never exported.
FORBIDDEN_COLUMNS = (
    "name",
    "full_name",
    "email",
    "phone",
    "mobile",
    "national_id",
    "id_number",
    "address",
    "person_id",
    "card_key",
    "card_number",
    "login_key",
    "login",
    "patron_key",
    "borrowernumber",
)
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Row filters and measures are SQL written in reviewed contracts; still, they may read marts only.
_FORBIDDEN_SQL = re.compile(
    r";|--|/\*|\b(raw|quarantine|restricted|staging|intermediate|pg_\w+)\"?\s*\.", re.I
)

REQUIRED = ("consumer", "version", "purpose", "legal_basis", "owner", "level", "sources", "columns", "format")


def contracts_dir() -> Path:
    return Path(os.environ.get("URM_CONTRACTS_DIR") or PROJECT_ROOT / "contracts")


def export_root() -> str:
    """Where relative destinations are resolved: URM_EXPORT_DIR, or `.urm/exports`."""
    from urm.platform.settings import urm_home

    return os.environ.get("URM_EXPORT_DIR") or str(urm_home() / "exports")


@dataclass(frozen=True)
class Reidentification:
    allowed: bool = False
    identifier: str | None = None  # an IDENTIFIER_KINDS entry; becomes a column of that name


@dataclass(frozen=True)
class Aggregate:
    group_by: tuple[str, ...]
    measures: dict[str, str]  # output column -> SQL aggregate expression over the sources
    population: str  # the `_users` measure that counts the persons a row describes


@dataclass(frozen=True)
class Contract:
    consumer: str
    version: int
    purpose: str
    legal_basis: str
    owner: str
    level: str
    sources: tuple[str, ...]
    columns: tuple[str, ...]
    format: str
    destination: str
    schedule: str
    row_filter: str | None = None
    consent: tuple[str, ...] = ("profiling",)
    reidentification: Reidentification = field(default_factory=Reidentification)
    aggregate: Aggregate | None = None
    path: Path | None = None
    text_sha256: str = ""
    # None: the marts schema of the run; "exports": the export-only schema (see SOURCE_SCHEMAS)
    source_schema: str | None = None

    @property
    def extension(self) -> str:
        return {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}[self.format]

    @property
    def pseudonymous(self) -> bool:
        return self.level == "individual"

    def output_columns(self) -> list[str]:
        """The columns of the exported file, in order."""
        if self.aggregate is not None:
            return [*self.aggregate.group_by, *self.aggregate.measures, "suppressed"]
        cols = [("export_user_key" if c == "user_key" else c) for c in self.columns]
        if self.reidentification.allowed and self.reidentification.identifier:
            cols.append(self.reidentification.identifier)
        return cols

    def destination_url(self) -> str:
        """The folder (local path or fsspec URL) the file goes to."""
        if "://" in self.destination or self.destination.startswith("/"):
            return self.destination.rstrip("/")
        return f"{export_root().rstrip('/')}/{self.destination.strip('/')}"


def _refuse(where: str, message: str) -> ContractRefused:
    return ContractRefused(f"{where}: {message}")


def parse_contract(data: dict[str, Any], *, where: str = "contract", path: Path | None = None) -> Contract:
    """A Contract from its YAML mapping; refuses what is malformed or never allowed."""
    if not isinstance(data, dict):
        raise _refuse(where, "a contract is a YAML mapping (consumer: ..., purpose: ..., ...)")
    missing = [key for key in REQUIRED if not data.get(key)]
    if missing:
        raise _refuse(where, f"missing {', '.join(missing)}; every contract states {', '.join(REQUIRED)}")
    consumer = str(data["consumer"])
    if not _NAME.match(consumer):
        raise _refuse(where, f"consumer {consumer!r} must be lower case letters, digits and _")
    level = str(data["level"])
    if level not in LEVELS:
        raise _refuse(where, f"level {level!r} is not one of {', '.join(LEVELS)}")
    fmt = str(data["format"]).lower()
    if fmt not in FORMATS:
        raise _refuse(where, f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    schedule = str(data.get("schedule", "on_marts_update"))
    if schedule not in SCHEDULES:
        raise _refuse(where, f"schedule {schedule!r} is not one of {', '.join(SCHEDULES)}")
    sources = data["sources"] if isinstance(data["sources"], list) else [data["sources"]]
    columns = list(data["columns"])
    for name in sources:
        if "." in str(name):
            raise _refuse(
                where,
                f"source {name!r}: a contract reads marts only, named without a schema (e.g. "
                "user_persona); raw, staging and restricted tables are never exported",
            )
    for name in [*sources, *columns]:
        if not _NAME.match(str(name)):
            raise _refuse(where, f"{name!r} is not a plain mart or column name")
    reid = data.get("reidentification") or {}
    reidentification = Reidentification(
        allowed=bool(reid.get("allowed", False)), identifier=reid.get("identifier")
    )
    consent = tuple(data.get("consent") or ("profiling",))
    if "profiling" not in consent:
        consent = ("profiling", *consent)
    unknown_consent = set(consent) - {"profiling", "ranking"}
    if unknown_consent:
        raise _refuse(where, f"consent {sorted(unknown_consent)} unknown: use profiling and/or ranking")
    aggregate = None
    if level == "aggregate":
        spec = data.get("aggregate") or {}
        measures = {str(k): str(v) for k, v in (spec.get("measures") or {}).items()}
        users = [m for m in measures if m.endswith("_users")]
        if not measures or not users:
            raise _refuse(
                where,
                "an aggregate contract needs aggregate.measures with at least one count of persons "
                "named *_users (e.g. borrowing_users: count(distinct user_key))",
            )
        population = str(spec.get("population") or users[0])
        if population not in users:
            raise _refuse(where, f"aggregate.population {population!r} must be one of its *_users measures")
        aggregate = Aggregate(group_by=tuple(columns), measures=measures, population=population)
    sql_parts = [data.get("row_filter") or "", *(aggregate.measures.values() if aggregate else [])]
    for part in sql_parts:
        if _FORBIDDEN_SQL.search(str(part)):
            raise _refuse(
                where, f"SQL {part!r} may only read the contract's marts (no ';', comments or other schemas)"
            )
    source_schema = data.get("schema")
    if source_schema is not None and source_schema not in SOURCE_SCHEMAS:
        raise _refuse(where, f"schema {source_schema!r} is not one of {', '.join(SOURCE_SCHEMAS)}")
    text = yaml.safe_dump(data, sort_keys=True)
    contract = Contract(
        consumer=consumer,
        version=int(data["version"]),
        purpose=str(data["purpose"]).strip(),
        legal_basis=str(data["legal_basis"]).strip(),
        owner=str(data["owner"]),
        level=level,
        sources=tuple(str(s) for s in sources),
        columns=tuple(str(c) for c in columns),
        format=fmt,
        destination=str(data.get("destination") or consumer),
        schedule=schedule,
        row_filter=(str(data["row_filter"]).strip() if data.get("row_filter") else None),
        consent=consent,
        reidentification=reidentification,
        aggregate=aggregate,
        path=path,
        text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        source_schema=None if source_schema in (None, "marts") else str(source_schema),
    )
    check_rights(contract, where=where)
    return contract


def check_rights(contract: Contract, *, where: str) -> None:
    """What no contract may ask, whatever the marts hold."""
    reid = contract.reidentification
    named = set(contract.columns)
    forbidden = sorted(named & set(FORBIDDEN_COLUMNS))
    if forbidden:
        raise _refuse(where, f"columns {forbidden} are direct identifiers or contact data: never exported")
    identifiers = sorted(named & set(IDENTIFIER_KINDS))
    if identifiers:
        raise _refuse(
            where,
            f"column(s) {identifiers} are identifiers: ask for one under reidentification "
            "(allowed: true, identifier: ...) with its purpose and legal basis, not in columns",
        )
    if reid.identifier and not reid.allowed:
        raise _refuse(
            where,
            f"identifier {reid.identifier!r} without re-identification rights: set "
            "reidentification.allowed: true only where the consumer is entitled to it",
        )
    if reid.allowed:
        if reid.identifier not in IDENTIFIER_KINDS:
            raise _refuse(where, f"reidentification.identifier must be one of {', '.join(IDENTIFIER_KINDS)}")
        if contract.level != "individual":
            raise _refuse(where, "re-identification makes sense for individual-level exports only")
    if contract.level == "aggregate" and "user_key" in named:
        raise _refuse(where, "an aggregate export cannot group by user_key: that is an individual export")
    if contract.level == "aggregate" and contract.aggregate:
        clash = named & set(contract.aggregate.measures)
        if clash:
            raise _refuse(where, f"{sorted(clash)} are both grouping columns and measures")


def load_contract_file(path: Path) -> Contract:
    data = read_yaml(path, ContractRefused)
    contract = parse_contract(data, where=str(path), path=path)
    if contract.consumer != path.stem:
        raise ContractRefused(f"{path}: consumer {contract.consumer!r} must match the file name {path.stem}")
    return contract


def list_contracts(folder: Path | None = None) -> list[Path]:
    folder = folder or contracts_dir()
    return yaml_files(folder)


def load_contract(consumer: str, folder: Path | None = None) -> Contract:
    folder = folder or contracts_dir()
    path = folder / f"{consumer}.yml"
    if not path.exists():
        known = ", ".join(p.stem for p in list_contracts(folder)) or "none"
        raise ContractRefused(f"no contract {path}: known consumers are {known} (`urm export --list`)")
    return load_contract_file(path)
