"""Run one contracted export: check, read, protect, write atomically, record.

Order matters: the contract is checked against the warehouse (marts, columns, rights, and what
the export role is granted) before anything is read; the rows are read in one snapshot, as the
export role (`urm_exporter`, URM_EXPORT_ROLE: marts only), so that a contract's SQL can never
read raw data, the identity vault or a column it is not granted; re-identifying contracts then get
their identifier from the identity vault, outside the contract's SQL; individual rows are limited
to consenting people and get this consumer's own pseudonym; aggregate rows are suppressed against
k and the disclosure ledger; the very rows to be written pass the export's own checks and the
project's privacy suite (Great Expectations, expectations/privacy.py); the file and its manifest
are written under temporary names and moved into place; the ledger and the audit row commit with
them. A refusal writes no file and leaves an audit row saying why.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import yaml  # type: ignore[import-untyped]
from psycopg import sql

from urm.exports import checks
from urm.exports.contract import Contract, ContractRefused, load_contract
from urm.exports.ledger import ensure_tables, last_published
from urm.exports.suppression import cell_key, suppress
from urm.platform.settings import DBT_PROJECT_DIR, pseudonym_key


@cache
def k_anonymity() -> int:
    """The dbt var k_anonymity (dbt_project.yml), so marts and exports suppress alike."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return int(project.get("vars", {}).get("k_anonymity", 10))


def consumer_pseudonymiser(consumer: str, key: bytes | None = None):
    """user_key -> this consumer's pseudonym: HMAC under a key derived for the consumer alone, so
    two consumers' extracts cannot be joined with each other or with the marts."""
    derived = hmac.new(
        key or pseudonym_key(announce=False), b"export:" + consumer.encode(), "sha256"
    ).digest()

    def pseudonym(user_key: str) -> str:
        return hmac.new(derived, user_key.encode(), "sha256").hexdigest()[:32]

    return pseudonym


def export_role() -> str:
    """The role exports read the warehouse as (URM_EXPORT_ROLE, default urm_exporter)."""
    return os.environ.get("URM_EXPORT_ROLE") or "urm_exporter"


def become_export_role(conn: psycopg.Connection, role: str) -> None:
    """SET LOCAL ROLE for the rest of the transaction; refused in one line when impossible."""
    try:
        with conn.transaction():  # a savepoint: a failed SET leaves the outer transaction usable
            conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
    except (psycopg.errors.InvalidParameterValue, psycopg.errors.InsufficientPrivilege) as err:
        first = str(err).strip().splitlines()[0]
        raise ContractRefused(
            f"exports read the warehouse as role {role} and cannot ({first}): run `urm warehouse "
            f"migrate`, grant {role} to this login, or name another role in URM_EXPORT_ROLE"
        ) from None


@dataclass
class ExportResult:
    consumer: str
    release_id: str
    file: str
    manifest: str
    row_count: int
    sha256: str
    cells_suppressed: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- the contract against the warehouse ---------------------------------------------------------
def mart_columns(conn: psycopg.Connection, schema: str, marts: tuple[str, ...]) -> dict[str, list[str]]:
    rows = conn.execute(
        """select table_name, column_name from information_schema.columns
        where table_schema = %s and table_name = any(%s) order by table_name, ordinal_position""",
        (schema, list(marts)),
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def granted_columns(
    conn: psycopg.Connection, role: str, schema: str, marts: tuple[str, ...]
) -> dict[str, set[str]]:
    """mart -> the columns `role` may select (table or column grants)."""
    rows = conn.execute(
        """select table_name, column_name from information_schema.columns
        where table_schema = %s and table_name = any(%s)
        and has_schema_privilege(%s, table_schema, 'USAGE')
        and has_column_privilege(%s, format('%%I.%%I', table_schema, table_name), column_name, 'SELECT')""",
        (schema, list(marts), role, role),
    ).fetchall()
    granted: dict[str, set[str]] = {}
    for table, column in rows:
        granted.setdefault(table, set()).add(column)
    return granted


def check_against_warehouse(
    conn: psycopg.Connection, contract: Contract, schema: str, role: str | None = None
) -> dict[str, str]:
    """Refuse a contract whose marts or columns do not exist, or that `role` may not read; return
    column -> owning mart (the columns the role is granted)."""
    where = str(contract.path or contract.consumer)
    consent_schema, schema = schema, contract.source_schema or schema
    found = mart_columns(conn, schema, contract.sources)
    missing_marts = [m for m in contract.sources if m not in found]
    if missing_marts:
        raise ContractRefused(f"{where}: no mart {schema}.{missing_marts[0]}; build it first or fix sources")
    if role is not None:
        granted = granted_columns(conn, role, schema, contract.sources)
        for mart in contract.sources:
            if not granted.get(mart):
                raise ContractRefused(
                    f"{where}: the export role {role} may not read {schema}.{mart} (not granted, or "
                    "withdrawn after a failed privacy suite): exports read published marts only"
                )
        existing = {c for columns in found.values() for c in columns}
        found = {mart: [c for c in found[mart] if c in granted[mart]] for mart in contract.sources}
        readable = {c for columns in found.values() for c in columns}
        needed = [*contract.columns, *(["user_key"] if contract.level == "individual" else [])]
        refused = [c for c in needed if c in existing and c not in readable]
        if refused:
            raise ContractRefused(
                f"{where}: column {refused[0]!r} of {', '.join(contract.sources)} is not granted to the "
                f"export role {role}: a contract exports only the columns the role may read"
            )
    owner: dict[str, str] = {}
    for mart in contract.sources:
        for column in found[mart]:
            owner.setdefault(column, mart)
    if len(contract.sources) > 1 or contract.level == "individual":
        lacking = [m for m in contract.sources if "user_key" not in found[m]]
        if lacking:
            raise ContractRefused(
                f"{where}: {schema}.{lacking[0]} has no user_key: marts are joined on user_key and "
                "individual exports are about persons"
            )
    for column in contract.columns:
        if column not in owner:
            raise ContractRefused(
                f"{where}: column {column!r} is in none of {', '.join(contract.sources)} "
                f"(they have: {', '.join(sorted(owner))}); fix the contract's columns"
            )
    if contract.level == "individual" and "dim_user" not in mart_columns(conn, consent_schema, ("dim_user",)):
        raise ContractRefused(f"{where}: {consent_schema}.dim_user is missing: consent cannot be checked")
    return owner


def _source_cte(contract: Contract, owner: dict[str, str], schema: str) -> sql.Composed:
    first = contract.sources[0]
    columns = [
        sql.SQL("{}.{}").format(sql.Identifier(mart), sql.Identifier(col)) for col, mart in owner.items()
    ]
    joins = [
        sql.SQL(" left join {}.{} as {} on {}.user_key = {}.user_key").format(
            sql.Identifier(schema),
            sql.Identifier(mart),
            sql.Identifier(mart),
            sql.Identifier(mart),
            sql.Identifier(first),
        )
        for mart in contract.sources[1:]
    ]
    return sql.SQL("select {} from {}.{} as {}{}").format(
        sql.SQL(", ").join(columns),
        sql.Identifier(schema),
        sql.Identifier(first),
        sql.Identifier(first),
        sql.Composed(joins),
    )


def build_query(
    contract: Contract, owner: dict[str, str], schema: str, only_user_keys: list[str] | None = None
) -> tuple[sql.Composed, list[Any]]:
    """The export's query; `only_user_keys` limits an individual export to those persons (a
    campaign's treated group), on top of the contract's row filter and consent."""
    consent_schema, schema = schema, contract.source_schema or schema
    row_filter = sql.SQL(contract.row_filter) if contract.row_filter else sql.SQL("true")  # type: ignore[arg-type]
    # The row filter reads the joined marts' columns by their plain names, before anything else.
    source = sql.SQL("select * from ({}) as joined where ({})").format(
        _source_cte(contract, owner, schema), row_filter
    )
    params: list[Any] = []
    if contract.aggregate is not None:
        spec = contract.aggregate
        groups = sql.SQL(", ").join(sql.Identifier(c) for c in spec.group_by)
        measures = sql.SQL(", ").join(
            sql.SQL("({}) as {}").format(sql.SQL(expr), sql.Identifier(name))  # type: ignore[arg-type]
            for name, expr in spec.measures.items()
        )
        query = sql.SQL("with src as ({}) select {}, {} from src where ({}) group by {} order by {}").format(
            source, groups, measures, row_filter, groups, groups
        )
        return query, params
    columns = sql.SQL(", ").join(sql.SQL("src.{}").format(sql.Identifier(c)) for c in contract.columns)
    consent = sql.SQL(" and ").join(
        sql.SQL("consent.{}").format(sql.Identifier(f"consent_{c}")) for c in contract.consent
    )
    if contract.reidentification.allowed:
        # the identifier itself comes from the identity vault afterwards (reidentify), which the
        # export role cannot read: only the person's type is needed here
        columns = sql.SQL("{}, consent.user_type as urm_user_type").format(columns)
    only = sql.SQL("")
    if only_user_keys is not None:
        only = sql.SQL(" where src.user_key = any(%s)")
        params.append(list(only_user_keys))
    query = sql.SQL(
        "with src as ({}) select src.user_key as urm_user_key, {} from src"
        " join {}.dim_user as consent on consent.user_key = src.user_key and {}{}"
        " order by src.user_key"
    ).format(source, columns, sql.Identifier(consent_schema), consent, only)
    return query, params


def reidentify(conn: psycopg.Connection, rows: list[dict[str, Any]], identifier: str) -> list[dict[str, Any]]:
    """Each row's identifier from the identity vault (ingest.privacy.identity, filled from the
    roster: a person's id is the student number of a student and the staff number of staff and
    faculty); rows of persons without one, or of the other kind, are left out."""
    keys = sorted({r["urm_user_key"] for r in rows})
    found: dict[str, str] = dict(
        conn.execute(
            """select person_key, min(identifier) from restricted.identity
            where identifier_kind = 'person' and person_key = any(%s) group by 1""",
            (keys,),
        ).fetchall()
    )
    students = identifier == "student_number"
    kept = []
    for row in rows:
        user_type, number = row.pop("urm_user_type"), found.get(row["urm_user_key"])
        if number is not None and user_type is not None and (user_type == "student") == students:
            row["identifier"] = number
            kept.append(row)
    return kept


# -- shaping -------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# The file's schema follows the marts' column types, not the values of one release (a column
# that happens to be all NULL keeps its type).
PG_TO_ARROW = {
    "bool": pa.bool_(),
    "int2": pa.int32(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "numeric": pa.float64(),
    "float4": pa.float64(),
    "float8": pa.float64(),
    "date": pa.date32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
}


def column_types(conn: psycopg.Connection, description: Any) -> dict[str, pa.DataType]:
    types = {}
    for column in description or []:
        info = conn.adapters.types.get(column.type_code)
        types[column.name] = PG_TO_ARROW.get(info.name if info else "", pa.string())
    return types


def arrow_table(rows: list[dict[str, Any]], columns: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({c: pa.array([r[c] for r in rows], type=types.get(c, pa.string())) for c in columns})


def serialise(table: pa.Table, fmt: str) -> bytes:
    if fmt == "parquet":
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()
    rows = table.to_pylist()
    if fmt == "jsonl":
        return "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in rows).encode()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(table.column_names)
    for row in rows:
        writer.writerow(
            ["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in row.values()]
        )
    return text.getvalue().encode("utf-8-sig")  # the BOM makes spreadsheets read UTF-8


# -- writing ------------------------------------------------------------------------------------
def _write_bytes(fs: Any, path: str, data: bytes) -> None:
    with fs.open(path, "wb") as handle:
        handle.write(data)


def write_atomically(fs: Any, final: str, data: bytes) -> None:
    """Write under a temporary name in the same folder, then move into place: a reader (or a
    crash) never sees a partial file under the final name."""
    folder, name = final.rsplit("/", 1)
    partial = f"{folder}/.{name}.partial-{uuid.uuid4().hex}"
    try:
        _write_bytes(fs, partial, data)
        fs.mv(partial, final)
    except BaseException:
        try:
            if fs.exists(partial):
                fs.rm(partial)
        finally:
            raise


def _audit(
    conn: psycopg.Connection,
    *,
    release_id: str,
    consumer: str,
    contract: Contract | None,
    status: str,
    started_at: datetime,
    interval: tuple[datetime | None, datetime | None],
    message: str | None = None,
    file: str | None = None,
    sha256: str | None = None,
    row_count: int | None = None,
    cells_suppressed: int | None = None,
) -> None:
    conn.execute(
        """insert into restricted.export_audit (release_id, consumer, contract_version, contract_sha256,
        level, status, file, sha256, row_count, cells_suppressed, data_interval_start, data_interval_end,
        started_at, finished_at, message)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), %s)""",
        (
            release_id,
            consumer,
            contract.version if contract else None,
            contract.text_sha256 if contract else None,
            contract.level if contract else None,
            status,
            file,
            sha256,
            row_count,
            cells_suppressed,
            interval[0],
            interval[1],
            started_at,
            message,
        ),
    )


def run_export(
    consumer: str,
    *,
    url: str | None = None,
    schema: str = "marts",
    contracts_folder: Path | None = None,
    interval_start: datetime | None = None,
    interval_end: datetime | None = None,
    key: bytes | None = None,
    only_user_keys: list[str] | None = None,
    file_label: str | None = None,
) -> ExportResult:
    """Export one consumer's contract; raise ContractRefused / PrivacyCheckFailed (no file written).

    `only_user_keys` limits an individual export to those persons (a campaign's treated group);
    `file_label` names the file `CONSUMER-LABEL.EXT` instead of by the interval's end date."""
    from ingest.run import connect
    from urm.platform.warehouse import warehouse_url

    started_at = datetime.now(UTC)
    release_id = str(uuid.uuid4())
    interval = (interval_start, interval_end)
    url = url or warehouse_url()
    with connect(url) as conn:
        # per-consumer pseudonyms derive from the pseudonym key: another key is refused before
        # anything is written (rule: a load, build or export with another key fails)
        from ingest.privacy.keys import verify_pseudonym_key
        from urm.platform.settings import pseudonym_key

        verify_pseudonym_key(conn, key or pseudonym_key(announce=False))
        ensure_tables(conn)
        contract: Contract | None = None
        try:
            contract = load_contract(consumer, contracts_folder)
            return _export(
                conn, contract, schema, release_id, started_at, interval, key, url, only_user_keys, file_label
            )
        except (ContractRefused, checks.PrivacyCheckFailed) as err:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            with conn.transaction():
                _audit(
                    conn,
                    release_id=release_id,
                    consumer=consumer,
                    contract=contract,
                    status="refused",
                    started_at=started_at,
                    interval=interval,
                    message=str(err),
                )
            raise
        except Exception as err:  # a bug or a failing destination: record it, write nothing
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            with conn.transaction():
                _audit(
                    conn,
                    release_id=release_id,
                    consumer=consumer,
                    contract=contract,
                    status="failed",
                    started_at=started_at,
                    interval=interval,
                    message=f"{type(err).__name__}: {err}"[:2000],
                )
            raise


def _export(
    conn: psycopg.Connection,
    contract: Contract,
    schema: str,
    release_id: str,
    started_at: datetime,
    interval: tuple[datetime | None, datetime | None],
    key: bytes | None,
    url: str,
    only_user_keys: list[str] | None = None,
    file_label: str | None = None,
) -> ExportResult:
    k = k_anonymity()
    role = export_role()
    rules: list[str] = [f"read as role {role} (published marts only)"]
    where = str(contract.path or contract.consumer)
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        owner = check_against_warehouse(conn, contract, schema, role)
        if only_user_keys is not None and contract.aggregate is not None:
            raise ContractRefused(
                f"{contract.consumer}: a list of persons is exported by individual contracts"
            )
        query, params = build_query(contract, owner, schema, only_user_keys)
        become_export_role(conn, role)
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(query, params)
                names = [d.name for d in cur.description or []]
                types = column_types(conn, cur.description)
                rows = [dict(zip(names, map(_plain, r), strict=True)) for r in cur.fetchall()]
        except psycopg.errors.InsufficientPrivilege as err:
            first = str(err).strip().splitlines()[0]
            raise ContractRefused(
                f"{where}: the export role {role} refused the contract's query ({first}): a contract "
                "reads its marts only"
            ) from None
        conn.execute("reset role")
        if contract.reidentification.allowed:
            rows = reidentify(conn, rows, contract.reidentification.identifier or "")

        suppressed_cells = 0
        suppression_counts: dict[str, int] = {}
        if contract.aggregate is not None:
            previous = last_published(conn, contract.consumer)
            result = suppress(rows, contract.aggregate, k, previous)
            rows, suppressed_cells, suppression_counts = result.rows, result.total, result.counts
            rules += [
                f"cells of 1 to {k - 1} persons suppressed (k = {k})",
                "complementary suppression within each grouping column",
                "no person count differs by 1 to k-1 from the value this consumer last received",
                "aggregates count every person, opted-out included",
            ]
        else:
            pseudonym = consumer_pseudonymiser(contract.consumer, key)
            for row in rows:
                mart_key = row.pop("urm_user_key")
                if "user_key" in row:
                    row.pop("user_key")
                    row["export_user_key"] = pseudonym(mart_key)
                if contract.reidentification.allowed:
                    row[contract.reidentification.identifier or ""] = row.pop("identifier")
            rules += [f"only persons with dim_user.consent_{c} = true" for c in contract.consent]
            rules.append(
                f"user_key replaced by export_user_key, a pseudonym derived for {contract.consumer} only"
            )
            if contract.reidentification.allowed:
                rules.append(
                    f"re-identified through restricted.identity ({contract.reidentification.identifier}) "
                    "under the contract's legal basis; persons without one are left out"
                )
        if contract.row_filter:
            rules.append(f"row filter: {contract.row_filter}")
        if only_user_keys is not None:
            rules.append(
                f"only the {len(only_user_keys)} persons the caller listed (a campaign's treated group)"
            )

        columns = contract.output_columns()
        table = arrow_table(rows, columns, types)
        checks.check_before_publish(table.to_pandas(types_mapper=pd.ArrowDtype), contract, k=k)
        checks.check_with_privacy_suite(url, table, contract, k=k)
        rules.append("the rows passed the privacy suite (expectations/privacy.py) before publishing")
        data = serialise(table, contract.format)
        digest = hashlib.sha256(data).hexdigest()

        label = file_label or (interval[1] or started_at).strftime("%Y%m%d")
        folder = contract.destination_url()
        fs, root = fsspec.core.url_to_fs(folder)
        fs.makedirs(root, exist_ok=True)
        name = f"{contract.consumer}-{label}.{contract.extension}"
        final = f"{root.rstrip('/')}/{name}"
        manifest = {
            "consumer": contract.consumer,
            "contract_version": contract.version,
            "contract_sha256": contract.text_sha256,
            "purpose": contract.purpose,
            "legal_basis": contract.legal_basis,
            "owner": contract.owner,
            "level": contract.level,
            "release_id": release_id,
            "file": name,
            "format": contract.format,
            "schema": [{"name": f.name, "type": str(f.type)} for f in table.schema],
            "row_count": table.num_rows,
            "sha256": digest,
            "data_interval": {
                "start": interval[0].isoformat() if interval[0] else None,
                "end": interval[1].isoformat() if interval[1] else None,
            },
            "generated_at": started_at.isoformat(),
            "k_anonymity": k,
            "rules_applied": rules,
            "cells_suppressed": {"total": suppressed_cells, **suppression_counts},
        }
        if contract.aggregate is not None:
            released_at = datetime.now(UTC)
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into restricted.export_ledger values (%s, %s, %s, %s, %s, %s)",
                    [
                        (
                            contract.consumer,
                            release_id,
                            released_at,
                            cell_key(row, contract.aggregate.group_by),
                            measure,
                            row[measure],
                        )
                        for row in rows
                        for measure in contract.aggregate.measures
                    ],
                )
        _audit(
            conn,
            release_id=release_id,
            consumer=contract.consumer,
            contract=contract,
            status="published",
            started_at=started_at,
            interval=interval,
            file=f"{folder}/{name}",
            sha256=digest,
            row_count=table.num_rows,
            cells_suppressed=suppressed_cells,
        )
        write_atomically(fs, final, data)
        try:
            write_atomically(fs, final + ".manifest.json", json.dumps(manifest, indent=2).encode())
        except BaseException:
            fs.rm(final)  # a file without its manifest is not a release
            raise
    return ExportResult(
        consumer=contract.consumer,
        release_id=release_id,
        file=f"{folder}/{name}",
        manifest=f"{folder}/{name}.manifest.json",
        row_count=table.num_rows,
        sha256=digest,
        cells_suppressed=suppressed_cells,
    )
