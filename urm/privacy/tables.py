"""Walking the warehouse's tables for pseudonyms, and removing a set of them everywhere.

By the platform's convention a pseudonym column is a text column named `*_key` (person_key,
card_key, login_key, patron_key, user_key, identifier_key ...): every landing table and mart
follows it, so rotation, retention and erasure reach tables added later without being told.
Derived keys that are not pseudonyms (loan_key, usage_key: md5 digests) never equal one, so a
map or a set of pseudonyms leaves them alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

LANDING_SCHEMAS = ("raw", "quarantine", "restricted")
DERIVED_SCHEMAS = ("intermediate", "marts")
PSEUDONYM_SHAPE = "^[0-9a-f]{32}$"
HEX_TOKEN = r"\m[0-9a-f]{32}\M"  # a whole word of 32 hex characters
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass(frozen=True)
class KeyColumn:
    schema: str
    table: str
    column: str
    nullable: bool

    @property
    def relation(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.table))


def user_schemas(conn: psycopg.Connection) -> list[str]:
    """Every schema of the warehouse but PostgreSQL's own (snapshots and exports included)."""
    rows = conn.execute(
        "select nspname from pg_namespace where nspname not like 'pg\\_%' "
        "and nspname <> 'information_schema' order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def key_columns(conn: psycopg.Connection, schemas: tuple[str, ...] | list[str]) -> list[KeyColumn]:
    """Pseudonym columns (text, named *_key) of the base tables in `schemas`."""
    rows = conn.execute(
        """
        select c.table_schema, c.table_name, c.column_name, c.is_nullable = 'YES'
        from information_schema.columns as c
        join information_schema.tables as t
            on t.table_schema = c.table_schema and t.table_name = c.table_name
        where t.table_type = 'BASE TABLE'
            and c.table_schema = any(%s)
            and c.column_name like '%%\\_key'
            and c.data_type in ('text', 'character varying')
        order by 1, 2, c.ordinal_position
        """,
        (list(schemas),),
    ).fetchall()
    return [KeyColumn(*row) for row in rows]


def create_key_set(conn: psycopg.Connection, name: str = "privacy_keys") -> sql.Identifier:
    """A temporary table of pseudonyms (one column `key`), dropped at the end of the transaction."""
    table = sql.Identifier(name)
    conn.execute(
        sql.SQL("create temporary table if not exists {} (key text primary key) on commit drop").format(table)
    )
    conn.execute(sql.SQL("truncate {}").format(table))
    return table


def add_keys(conn: psycopg.Connection, table: sql.Identifier, keys: list[str] | set[str]) -> None:
    with conn.cursor() as cur, cur.copy(sql.SQL("copy {} (key) from stdin").format(table)) as copy:
        for key in sorted(set(keys)):
            copy.write_row((key,))


@dataclass
class Scrubbed:
    deleted: int = 0
    deidentified: int = 0

    def add(self, other: Scrubbed) -> None:
        self.deleted += other.deleted
        self.deidentified += other.deidentified


def scrub(conn: psycopg.Connection, keys: sql.Identifier, schemas: tuple[str, ...] | list[str]) -> Scrubbed:
    """Remove the pseudonyms in `keys` from every table of `schemas`.

    A row whose NOT NULL pseudonym column holds one (the pseudonym is what the row is about: a
    roster row, a vault entry, a persona) is deleted; otherwise the pseudonym is set to null and
    the row stays, de-identified, counted in aggregates. Quarantined rows whose text holds one are
    deleted."""
    done = Scrubbed()
    columns = key_columns(conn, schemas)
    by_table: dict[tuple[str, str], list[KeyColumn]] = {}
    for column in columns:
        by_table.setdefault((column.schema, column.table), []).append(column)
    for table_columns in by_table.values():
        relation = table_columns[0].relation
        required = [c for c in table_columns if not c.nullable]
        if required:
            condition = sql.SQL(" or ").join(
                sql.SQL("{} in (select key from {})").format(sql.Identifier(c.column), keys) for c in required
            )
            cur = conn.execute(sql.SQL("delete from {} where {}").format(relation, condition))
            done.deleted += max(cur.rowcount, 0)
        for column in (c for c in table_columns if c.nullable):
            cur = conn.execute(
                sql.SQL("update {rel} set {col} = null where {col} in (select key from {keys})").format(
                    rel=relation, col=sql.Identifier(column.column), keys=keys
                )
            )
            done.deidentified += max(cur.rowcount, 0)
    if "quarantine" in schemas:
        cur = conn.execute(
            sql.SQL(
                "delete from quarantine.rejected_rows as q where q.raw_text ~ %s and exists ("
                "select 1 from regexp_matches(q.raw_text, %s, 'g') as m(found) "
                "where m.found[1] in (select key from {}))"
            ).format(keys),
            (HEX_TOKEN, HEX_TOKEN),
        )
        done.deleted += max(cur.rowcount, 0)
    return done


def forget_present(
    conn: psycopg.Connection, keys: sql.Identifier, schemas: tuple[str, ...] | list[str]
) -> None:
    """Drop from `keys` every pseudonym some table of `schemas` still holds."""
    for column in key_columns(conn, schemas):
        conn.execute(
            sql.SQL("delete from {keys} where key in (select {col} from {rel})").format(
                keys=keys, col=sql.Identifier(column.column), rel=column.relation
            )
        )
