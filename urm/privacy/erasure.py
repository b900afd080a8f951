"""`urm privacy erase PERSON_ID`: one person removed or de-identified everywhere, in one transaction.

Who: the campus person id gives the person pseudonym; the identity vault and the roster history
give every other identifier the person carried (cards, logins, ILS patron ids), and
`--identifier KIND:VALUE` adds any the roster never listed. Where: every table of every schema,
by the rule of urm.privacy.tables.scrub: rows that are about the person (roster history, vault,
personas, dim_user) are deleted; events (loans, proxy requests) keep counting in aggregates with
their pseudonym set to null; quarantined rows that mention the person go. Marts are cleaned at
once and rebuilt without the person at the next build.

Later loads: salted digests of the person's identifiers and pseudonyms are kept
(restricted.erasure_suppression), so a roster page that lists the person again drops them at
load, and the retention run de-identifies what other sources send about them. The audit
(restricted.erasure_log) records that an erasure happened and how many rows it touched, never who.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from ingest.errors import InvalidOption
from ingest.privacy.identity import erasure_salt, identifier_digest, salted_digest
from ingest.privacy.keys import KEY_LOCK, ensure_pseudonym_key
from ingest.pseudonym import KINDS, Pseudonymiser, normalise
from ingest.run import connect
from urm.privacy.incremental import forget_incremental_state
from urm.privacy.tables import add_keys, create_key_set, scrub, user_schemas

# Clear identifiers shorter than this are not searched for in quarantined text (a borrower number
# such as 42 would match half the quarantine); the redaction removed them structurally anyway.
MIN_SEARCHED_LENGTH = 6


@dataclass
class ErasureResult:
    identifiers: int
    rows_deleted: int
    rows_deidentified: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_identifiers(values: Iterable[str]) -> list[tuple[str, str]]:
    """['login:jdoe', 'card:2112345678'] -> [(kind, value)]; a bad one is refused."""
    parsed = []
    for value in values:
        kind, _, text = value.partition(":")
        if kind not in KINDS or not text.strip():
            raise InvalidOption(
                f"--identifier {value!r}: write KIND:VALUE with KIND one of {', '.join(KINDS)}, "
                "e.g. login:jdoe"
            )
        parsed.append((kind, text.strip()))
    return parsed


def erase_person(
    url: str, key: bytes, person_id: str, extra_identifiers: Iterable[tuple[str, str]] = ()
) -> ErasureResult:
    if not person_id.strip():
        raise InvalidOption("give the campus person id of the person to erase")
    pseudonym = Pseudonymiser(key).pseudonym
    with connect(url) as conn:
        ensure_pseudonym_key(conn, key)  # erasure with another key would find nobody
        conn.execute("select pg_advisory_unlock_shared(%s)", (KEY_LOCK,))
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (KEY_LOCK,))
            clear = {("person", normalise(person_id))}
            clear.update((kind, normalise(value)) for kind, value in extra_identifiers)
            person_key = pseudonym("person", person_id)
            assert person_key is not None
            keys = {k for k in (pseudonym(kind, value) for kind, value in clear) if k}
            for kind, identifier, identifier_key in conn.execute(
                "select identifier_kind, identifier, identifier_key from restricted.identity "
                "where person_key = %s",
                (person_key,),
            ):
                clear.add((kind, identifier))
                keys.add(identifier_key)
            keys.update(_roster_keys(conn, person_key))

            salt = erasure_salt(conn)
            assert salt is not None  # ensure_pseudonym_key wrote it
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into restricted.erasure_suppression (digest, digest_of) values (%s, %s) "
                    "on conflict do nothing",
                    [(identifier_digest(salt, kind, value), "identifier") for kind, value in clear]
                    + [(salted_digest(salt, k), "pseudonym") for k in keys],
                )

            key_set = create_key_set(conn)
            add_keys(conn, key_set, keys)
            done = scrub(conn, key_set, user_schemas(conn))
            if done.deleted or done.deidentified:
                forget_incremental_state(conn)  # incremental models rebuild in full next time
            for value in {normalise(value) for _, value in clear}:
                if len(value) >= MIN_SEARCHED_LENGTH:
                    cur = conn.execute(
                        "delete from quarantine.rejected_rows where strpos(lower(raw_text), %s) > 0", (value,)
                    )
                    done.deleted += max(cur.rowcount, 0)
            conn.execute(
                "insert into restricted.erasure_log (erased_at, people, rows_deleted, rows_deidentified) "
                "values (now(), 1, %s, %s)",
                (done.deleted, done.deidentified),
            )
    return ErasureResult(
        identifiers=len(keys), rows_deleted=done.deleted, rows_deidentified=done.deidentified
    )


def _roster_keys(conn: psycopg.Connection, person_key: str) -> set[str]:
    """Every pseudonym the landing tables list beside the person's (the roster's history of
    cards, logins and patron ids): tables with a person_key column describe people."""
    found: set[str] = set()
    rows = conn.execute(
        """
        select c.table_name, array_agg(c.column_name::text order by c.ordinal_position)
        from information_schema.columns as c
        where c.table_schema = 'raw' and c.column_name like '%%\\_key'
            and exists (
                select 1 from information_schema.columns as p
                where p.table_schema = 'raw' and p.table_name = c.table_name and p.column_name = 'person_key'
            )
        group by c.table_name
        """
    ).fetchall()
    for table, columns in rows:
        selected = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        for values in conn.execute(
            sql.SQL("select distinct {} from raw.{} where person_key = %s").format(
                selected, sql.Identifier(table)
            ),
            (person_key,),
        ):
            found.update(v for v in values if v)
    return found
