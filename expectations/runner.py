"""Run the landing suites on the warehouse and say, in plain text, what failed.

An ephemeral Great Expectations context is built per call (nothing is written to disk); each
table, or the given load batches of it, becomes a query asset of one PostgreSQL data source.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from great_expectations.core import ExpectationSuite
from psycopg import sql

from expectations.suites import LANDING_SUITES, REDACT

# GX refuses a Unix-socket URL written inline but accepts it through an environment variable.
URL_VARIABLE = "URM_GX_WAREHOUSE_URL"
SAMPLE_SIZE = 5
# Counts without sample values (see _validate).
COUNTS_ONLY = {"result_format": "SUMMARY", "partial_unexpected_count": 0}


@dataclass(frozen=True)
class Outcome:
    """One expectation's result on one table, reduced to what a person needs to act."""

    table: str
    expectation: str
    column: str | None
    success: bool
    expected: str
    observed: str
    why: str = ""

    def describe(self) -> str:
        where = f' on column "{self.column}"' if self.column else ""
        status = "passed" if self.success else "FAILED"
        text = f"  {status}: {self.expectation}{where}\n      expected {self.expected}"
        text += f"\n      observed {self.observed}"
        if self.why:
            text += f"\n      why: {self.why}"
        return text


@dataclass(frozen=True)
class TableReport:
    table: str
    outcomes: tuple[Outcome, ...]
    batch_ids: tuple[str, ...] | None = None
    # none of the given batches loaded this table
    skipped: bool = False

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]


@dataclass(frozen=True)
class ValidationReport:
    tables: tuple[TableReport, ...]
    as_of: datetime
    batch_ids: tuple[str, ...] | None = field(default=None)

    @property
    def success(self) -> bool:
        return all(t.success for t in self.tables)

    @property
    def failures(self) -> list[Outcome]:
        return [o for t in self.tables for o in t.failures]

    def summary(self) -> str:
        checked = sum(len(t.outcomes) for t in self.tables)
        scope = "all rows" if self.batch_ids is None else "batches " + ", ".join(self.batch_ids)
        if self.success:
            verdict = f"passed: all {checked} expectations passed"
        else:
            verdict = f"FAILED: {len(self.failures)} of {checked} expectations failed"
        tables = ", ".join(f"raw.{t.table}" for t in self.tables)
        lines = [
            f"Landing checks {verdict} on {tables} "
            f"({scope}; dates after {self.as_of.isoformat()} count as future)"
        ]
        for table in self.tables:
            if table.skipped:
                lines.append(f"raw.{table.table}: no new batch in this run, nothing to check")
                continue
            if table.success:
                lines.append(f"raw.{table.table}: all {len(table.outcomes)} expectations passed")
                continue
            lines.append(
                f"raw.{table.table}: {len(table.failures)} of {len(table.outcomes)} expectations failed"
            )
            lines.extend(outcome.describe() for outcome in table.failures)
        return "\n".join(lines)


class ValidationFailed(Exception):
    """Raised by validate_landing(raise_on_failure=True); str() is the readable summary."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.summary())
        self.report = report


def validate_landing(
    url: str,
    tables: Sequence[str],
    batch_ids: Sequence[str] | None = None,
    *,
    as_of: datetime | None = None,
    raise_on_failure: bool = False,
) -> ValidationReport:
    """Validate landing tables (all rows, or only the given load batches) against their suites.

    `url` is a PostgreSQL URL or a `"${ENV_VAR}"` reference to one. `as_of` is when the future
    starts (default: now); an Airflow task should pass its data interval's end.
    """
    unknown = [t for t in tables if t not in LANDING_SUITES]
    if unknown:
        raise ValueError(
            f"no landing suite for {', '.join(unknown)}; known tables: {', '.join(sorted(LANDING_SUITES))}"
        )
    as_of = as_of or datetime.now(UTC)
    batches = None if batch_ids is None else tuple(str(uuid.UUID(str(b))) for b in batch_ids)

    context = _ephemeral_context()
    source = context.data_sources.add_postgres("warehouse", connection_string=_gx_url(url))
    queries: set[str] = set()
    _columns_without_rows(source.get_execution_engine().engine, queries)
    owned = None if batches is None else _batches_by_table(url, batches)
    suites = {t: LANDING_SUITES[t](as_of) for t in tables if owned is None or owned(t)}
    _fresh_statistics(url, _tables_read(suites))
    reports = []
    for table in tables:
        table_batches = None if owned is None else owned(table)
        if table_batches == ():
            # a run that loaded nothing new into this table has nothing here to check
            reports.append(TableReport(table, (), (), skipped=True))
            continue
        suite = suites[table]
        try:
            query = _query(table, table_batches)
            queries.add(query)
            asset = source.add_query_asset(name=table, query=query)
            batch = asset.add_batch_definition_whole_table("landing").get_batch()
            results = _validate(batch, suite, partial(LANDING_SUITES[table], as_of))
        except Exception as error:
            outcome = Outcome(
                table,
                "read the table",
                None,
                False,
                "a readable table",
                f"{type(error).__name__}: {str(error).splitlines()[0][:300]}",
            )
            reports.append(TableReport(table, (outcome,), table_batches))
            continue
        outcomes = tuple(_outcome(table, r) for r in results)
        reports.append(TableReport(table, outcomes, table_batches))
    report = ValidationReport(tuple(reports), as_of, batches)
    if raise_on_failure and not report.success:
        raise ValidationFailed(report)
    return report


def _validate(batch: Any, suite: Any, rebuild: Callable[[], Any]) -> list[Any]:
    """The suite's results on the batch, as `result_format="SUMMARY"` gives them, in two passes.

    With SUMMARY, GX follows the counts of every column check with a second scan of the batch
    that collects sample failing values, for the passing checks too (where it finds none after
    reading every row; twice the pseudonym regex, 4 µs a row). The first pass counts only
    (`partial_unexpected_count` 0 makes those scans `limit 0`); the checks that failed run again
    with SUMMARY, from a fresh copy of the suite (`rebuild`), for the values the report shows."""
    results = list(batch.validate(suite, result_format=COUNTS_ONLY).results)
    failed = [r for r in results if not r.success]
    if not failed:
        return results
    keys = {_key(r.expectation_config) for r in failed}
    again = ExpectationSuite(
        name=f"{suite.name}.failures",
        expectations=[e for e in rebuild().expectations if _key(e.configuration) in keys],
    )
    detailed = {_key(r.expectation_config): r for r in batch.validate(again, result_format="SUMMARY").results}
    return [detailed.get(_key(r.expectation_config), r) if not r.success else r for r in results]


def _key(config: Any) -> tuple[str, str]:
    """An expectation by type and parameters (a result's copy also names the batch)."""
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return config.type, repr(sorted(kwargs.items(), key=lambda item: item[0]))


def _batches_by_table(url: str, batches: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    """Which of the given batches each table should be checked on, from the load log.

    A DAG run passes the batches of all its loads; a table is checked on its own batches only.
    Batches the load log does not know (rows written by other means) are checked everywhere.
    """
    with psycopg.connect(_plain(url)) as conn:
        logged: dict[Any, Any] = dict(
            conn.execute(
                "select batch_id::text, target_table from raw.load_log where batch_id = any(%s::uuid[])",
                (list(batches),),
            ).fetchall()
        )

    def owned(table: str) -> tuple[str, ...]:
        return tuple(b for b in batches if logged.get(b, table) == table)

    return owned


def _tables_read(suites: Mapping[str, Any]) -> set[str]:
    """The landing tables `suites` (by table) read: their own and those their SQL checks join."""
    read = set(suites)
    for suite in suites.values():
        for expectation in suite.expectations:
            read.update(
                re.findall(r"\braw\.(\w+)", getattr(expectation, "unexpected_rows_query", None) or "")
            )
    return read


def _plain(url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", os.path.expandvars(url))


def _fresh_statistics(url: str, tables: set[str]) -> list[str]:
    """Planner statistics for `tables` before the checks run (see _analyze_stale). A warehouse
    that cannot be reached is left for the checks to report, as they did before this step."""
    try:
        with psycopg.connect(_plain(url), autocommit=True) as conn:
            return _analyze_stale(conn, tables)
    except psycopg.OperationalError:
        return []


def _analyze_stale(conn: psycopg.Connection, tables: set[str]) -> list[str]:
    """Analyze those of `tables` whose planner statistics are missing or stale; returns them.

    The loader analyzes the table it loads, not the ones a format also writes (a campus sync's
    cards and units). Planned on a never-analyzed raw.campus_cards, the suites' card checks (a
    self-join on batch, person and overlapping validity) became a nested loop over every card
    of the batch for every card: 59 s for 8,678 people, quadratic in the roster. Stale is
    autovacuum's own threshold (more than 50 + 10 % of the rows changed since the last analyze),
    so a daily batch on a large table does not trigger it. Statistics only steer plans: a table
    another session holds locked, or this role may not analyze, is left as it is."""
    stale = [
        name
        for (name,) in conn.execute(
            "select c.relname from pg_class as c "
            "join pg_namespace as n on n.oid = c.relnamespace "
            "left join pg_stat_user_tables as s on s.relid = c.oid "
            "where n.nspname = 'raw' and c.relkind in ('r', 'p') and c.relname = any(%s) "
            "and (coalesce(s.last_analyze, s.last_autoanalyze) is null "
            "or s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)) "
            "order by 1",
            (sorted(tables),),
        ).fetchall()
    ]
    analyzed = []
    conn.execute("set lock_timeout = '5s'")
    for name in stale:
        try:
            conn.execute(sql.SQL("analyze raw.{}").format(sql.Identifier(name)))
            analyzed.append(name)
        except (
            psycopg.errors.LockNotAvailable,
            psycopg.errors.InsufficientPrivilege,
            psycopg.errors.ReadOnlySqlTransaction,
        ):
            continue  # the checks still run, on the plans the old statistics give
    return analyzed


def _columns_without_rows(engine: Any, queries: set[str]) -> None:
    """Let GX read a query asset's columns from an empty result of it.

    GX learns them by running the asset's query bare and fetching what it returns
    (`column_reflection_fallback` in great_expectations/expectations/metrics/util.py): every
    row of the batches under check, 366,128 gate swipes (1.5 s and their size in memory) at a
    twentieth of the reference year, 6 M at full size. On this engine, a statement that is one of
    `queries` verbatim runs as `limit 0` of itself: the same columns, no rows. The metrics wrap
    the query in their own SQL and never match."""
    from sqlalchemy import event

    def limit(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> Any:
        if statement.strip() in queries:
            statement = f"select * from ({statement}) as columns_only limit 0"
        return statement, parameters

    event.listen(engine, "before_cursor_execute", limit, retval=True)


def _ephemeral_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _gx_url(url: str) -> str:
    """The connection string as GX accepts it: a socket URL goes through an env variable."""
    if "${" in url:
        return url
    parts = urlsplit(url)
    socket_host = parse_qs(parts.query).get("host", [""])[0].startswith("/")
    if socket_host or not parts.hostname:
        os.environ[URL_VARIABLE] = url
        return "${" + URL_VARIABLE + "}"
    return url


def _query(table: str, batch_ids: tuple[str, ...] | None) -> str:
    # table names come from LANDING_SUITES and batch ids were parsed as UUIDs: safe to inline
    query = f"select * from raw.{table}"
    if batch_ids is not None:
        listed = ", ".join(f"'{b}'" for b in batch_ids) or "null"
        query += f" where batch_id in ({listed})"
    return query


def _outcome(table: str, result: Any) -> Outcome:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "column")}
    expected = ", ".join(f"{k} = {_show(v)}" for k, v in kwargs.items()) or "(no parameters)"
    return Outcome(
        table=table,
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(result.success),
        expected=expected,
        observed=_observed(result, redact=bool((config.meta or {}).get(REDACT))),
        why=config.notes or "",
    )


def _observed(result: Any, *, redact: bool = False) -> str:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return f"an error: {str(info.get('exception_message')).splitlines()[0][:300]}"
    details: Mapping[str, Any] = result.result or {}
    if "observed_value" in details:
        text = _show(details["observed_value"])
        mismatched = (details.get("details") or {}).get("mismatched")
        if mismatched:
            text += f" (missing {_show(mismatched.get('missing'))}, "
            text += f"unexpected {_show(mismatched.get('unexpected'))})"
        return text
    if "unexpected_count" in details:
        count, total = details["unexpected_count"], details.get("element_count")
        text = f"{count} of {total} rows unexpected"
        if details.get("unexpected_percent") is not None:
            text += f" ({details['unexpected_percent']:.1f}% of non-null values)"
        samples = details.get("partial_unexpected_counts") or []
        if redact and samples:
            text += "; values withheld (they may be personal identifiers)"
        elif samples:
            shown = ", ".join(f"{_show(s['value'])} x{s['count']}" for s in samples[:SAMPLE_SIZE])
            text += f"; e.g. {shown}"
        return text
    return _show(details)


def _show(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(value)
