"""Rows the campus formats write besides their main table, inside the load's own transaction
(their after_load hooks): the cards each person held, the organisation's units, the sync state,
and quarantine rows for what those carry that cannot be used."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import sql

from ingest.campus.tables import CAMPUS_CARDS
from ingest.model import RawTable, Rejected


def copy_rows(conn: Any, table: RawTable, batch_id: str, label: str, rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows (values in the table's column order; the line number first) under `batch_id`."""
    columns = ("batch_id", "source_file", "source_line", *table.column_names)
    statement = sql.SQL("copy raw.{} ({}) from stdin").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for line, *values in rows:
            copy.write_row((batch_id, label, line, *values))
            count += 1
    return count


def write_cards(conn: Any, batch_id: str, label: str, rows: Iterable[Sequence[Any]]) -> int:
    """Cards as (person_key, card_key, valid_from, valid_to, observed_at), numbered from 1."""
    return copy_rows(conn, CAMPUS_CARDS, batch_id, label, ((n, *row) for n, row in enumerate(rows, start=1)))


def quarantine(
    conn: Any, batch_id: str, source: str, fmt: str, table: str, label: str, rejects: Iterable[Rejected]
) -> int:
    count = 0
    with conn.cursor() as cur:
        for item in rejects:
            cur.execute(
                "insert into quarantine.rejected_rows (batch_id, source, format, target_table, "
                "source_file, source_line, field, reason, raw_text) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (batch_id, source, fmt, table, label, item.line, item.field, item.reason, item.raw),
            )
            count += 1
    return count
