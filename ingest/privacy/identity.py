"""The identity vault (`restricted.identity`), filled from the roster as it loads.

Pseudonyms are HMACs: re-keying them needs the identifiers they were made from, which the landing
tables never hold. The roster is where the campus says who is who, so a roster format's
`after_load` hook (`record_identities`) writes each person's identifiers (person id, card, login,
ILS patron ids) with their pseudonyms into the vault, in the load's own transaction. Key rotation
(urm.privacy.rotation) recomputes every vault pseudonym under the new key; erasure finds all of a
person's identifiers here.

The same hook keeps erased people out: a person whose identifiers match an erasure digest is
dropped from the batch just loaded, and the digests of their pseudonyms under the current key are
added so that the next retention run removes whatever other sources send about them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ingest.model import ParseContext
from ingest.pseudonym import normalise


@dataclass(frozen=True)
class RosterIdentity:
    """One person of a roster file: their campus person id and every identifier they carry."""

    person_id: str
    identifiers: Sequence[tuple[str, str | None]]  # (pseudonym kind, identifier as written)
    seen: date | None = None


Extractor = Callable[[Path, ParseContext], Iterable[RosterIdentity]]


def salted_digest(salt: str, text: str) -> str:
    return hashlib.sha256((salt + text).encode()).hexdigest()


def erasure_salt(conn: psycopg.Connection) -> str | None:
    row = conn.execute("select erasure_salt from restricted.privacy_state").fetchone()
    return row[0] if row else None


def identifier_digest(salt: str, kind: str, identifier: str) -> str:
    return salted_digest(salt, f"{kind}:{normalise(identifier)}")


def record_identities(
    extract: Extractor, table: str, person_column: str = "person_key"
) -> Callable[[Any, str, str, Path, ParseContext], list[str]]:
    """An after_load hook for a roster format landing in raw.`table` (whose `person_column` holds
    the person pseudonym): fills the vault and drops erased people from the batch."""

    def after_load(conn: Any, batch_id: str, label: str, path: Path, ctx: ParseContext) -> list[str]:
        pseudonym = ctx.pseudonymiser.pseudonym
        salt = erasure_salt(conn)
        erased = set()
        if salt is not None:
            erased = {
                r[0]
                for r in conn.execute(
                    "select digest from restricted.erasure_suppression where digest_of = 'identifier'"
                )
            }
        vault: dict[tuple[str, str], tuple[str, str, date | None]] = {}
        dropped: list[str] = []
        new_digests: list[str] = []
        for person in extract(path, ctx):
            person_key = pseudonym("person", person.person_id)
            if person_key is None:
                continue
            known = [("person", person.person_id), *person.identifiers]
            # kept as written (a re-identified export gives the campus its own numbers); matching
            # (pseudonyms, erasure digests) normalises
            clear = [(kind, value.strip()) for kind, value in known if value is not None]
            clear = [(kind, value) for kind, value in clear if value and value != "-"]
            if erased and salt is not None and any(identifier_digest(salt, k, v) in erased for k, v in clear):
                dropped.append(person_key)
                for kind, value in clear:
                    key = pseudonym(kind, value)
                    if key is not None:
                        new_digests.append(salted_digest(salt, key))
                continue
            for kind, value in clear:
                key = pseudonym(kind, value)
                if key is not None:
                    vault[(kind, value)] = (key, person_key, person.seen)
        _write_vault(conn, vault)
        warnings: list[str] = []
        if dropped:
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("delete from raw.{} where batch_id = %s and {} = any(%s)").format(
                        sql.Identifier(table), sql.Identifier(person_column)
                    ),
                    (batch_id, dropped),
                )
                cur.executemany(
                    "insert into restricted.erasure_suppression (digest, digest_of) values (%s, 'pseudonym') "
                    "on conflict do nothing",
                    [(d,) for d in new_digests],
                )
            warnings.append(f"{len(dropped)} erased people in {label} were not loaded (urm privacy erase)")
        return warnings

    return after_load


def _write_vault(conn: Any, vault: dict[tuple[str, str], tuple[str, str, date | None]]) -> None:
    if not vault:
        return
    with conn.cursor() as cur:
        cur.execute(
            "create temporary table if not exists identity_incoming "
            "(like restricted.identity including defaults) on commit drop"
        )
        with cur.copy(
            "copy identity_incoming (identifier_kind, identifier, identifier_key, person_key, "
            "first_seen, last_seen) from stdin"
        ) as copy:
            for (kind, value), (key, person_key, seen) in vault.items():
                copy.write_row((kind, value, key, person_key, seen, seen))
        cur.execute(
            "insert into restricted.identity select * from identity_incoming "
            "on conflict (identifier_kind, identifier) do update set "
            "identifier_key = excluded.identifier_key, person_key = excluded.person_key, "
            "first_seen = least(identity.first_seen, excluded.first_seen), "
            "last_seen = greatest(identity.last_seen, excluded.last_seen)"
        )
        cur.execute("drop table identity_incoming")
