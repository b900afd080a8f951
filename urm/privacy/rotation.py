"""`urm privacy rotate-key`: re-key every pseudonym of the warehouse, in one transaction.

Pseudonyms are HMAC(key, kind:identifier), so a new key needs the identifiers. The identity vault
(restricted.identity, filled from every roster load) holds the roster's identifiers: each of their
pseudonyms is recomputed under the new key, exactly as a load with the new key will compute it,
so people keep joining across sources after the rotation. A pseudonym the vault cannot explain
(a proxy login or ILS patron the roster never listed) is re-keyed to HMAC(new key, old pseudonym):
it stays one consistent pseudonym in the warehouse, but a later load of the same identifier under
the new key makes a different one (those rows were unresolved to any user already).

Every pseudonym column (text named *_key) of every table (landing, restricted, intermediate, marts,
and any other schema) and every pseudonym in quarantined text is mapped old -> new at once; the
mapping is one-to-one, so no mart's figures change. Loads hold the key lock while they run: the
rotation waits for them, and a load that starts later with the old key is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import asdict, dataclass
from typing import Any

from psycopg import sql

from ingest.errors import InvalidOption
from ingest.privacy.keys import KEY_LOCK, key_fingerprint, mismatch, recorded_fingerprint
from ingest.pseudonym import Pseudonymiser
from ingest.run import connect
from urm.privacy.incremental import forget_incremental_state
from urm.privacy.tables import HEX_TOKEN, LANDING_SCHEMAS, PSEUDONYM_SHAPE, key_columns, user_schemas


@dataclass
class RotationResult:
    old_fingerprint: str
    new_fingerprint: str
    pseudonyms_from_identities: int
    pseudonyms_without_identity: int
    rows_updated: int
    quarantined_rows_updated: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def orphan_pseudonym(new_key: bytes, old: str) -> str:
    return hmac.new(new_key, b"rekeyed:" + old.encode(), hashlib.sha256).hexdigest()[:32]


def rotate_key(url: str, old_key: bytes, new_key: bytes) -> RotationResult:
    old_fp, new_fp = key_fingerprint(old_key), key_fingerprint(new_key)
    if old_fp == new_fp:
        raise InvalidOption("the new key is the old key: set URM_PSEUDONYM_KEY_NEW to a new random key")
    old_p, new_p = Pseudonymiser(old_key), Pseudonymiser(new_key)
    with connect(url) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (KEY_LOCK,))  # waits for running loads
        recorded = recorded_fingerprint(conn)
        if recorded is None:
            raise InvalidOption(
                "nothing was loaded into this warehouse yet, so there is nothing to re-key: "
                "set URM_PSEUDONYM_KEY to the new key and load"
            )
        if recorded != old_fp:
            raise mismatch(recorded, old_fp)

        mapping: dict[str, str] = {}
        for kind, identifier, stored in conn.execute(
            "select identifier_kind, identifier, identifier_key from restricted.identity"
        ):
            if old_p.pseudonym(kind, identifier) != stored:
                continue  # written under another key: nothing here can be trusted to map it
            new = new_p.pseudonym(kind, identifier)
            if new is not None:
                mapping[stored] = new
        from_identities = len(mapping)

        # Pseudonyms no identity explains: collected from the landing side, where every
        # pseudonym was first written.
        found: set[str] = set()
        for column in key_columns(conn, LANDING_SCHEMAS):
            rows = conn.execute(
                sql.SQL("select distinct {col} from {rel} where {col} ~ %s").format(
                    col=sql.Identifier(column.column), rel=column.relation
                ),
                (PSEUDONYM_SHAPE,),
            )
            found.update(r[0] for r in rows)
        for (text,) in conn.execute(
            "select raw_text from quarantine.rejected_rows where raw_text ~ %s", (HEX_TOKEN,)
        ):
            found.update(re.findall(r"\b[0-9a-f]{32}\b", text))
        for old in found - mapping.keys():
            mapping[old] = orphan_pseudonym(new_key, old)

        conn.execute(
            "create temporary table privacy_key_map (old text primary key, new text not null) on commit drop"
        )
        with conn.cursor() as cur, cur.copy("copy privacy_key_map (old, new) from stdin") as copy:
            for old, new in mapping.items():
                copy.write_row((old, new))
        conn.execute("analyze privacy_key_map")

        rows_updated = 0
        for column in key_columns(conn, user_schemas(conn)):
            cur = conn.execute(
                sql.SQL(
                    "update {rel} as t set {col} = m.new from privacy_key_map as m where t.{col} = m.old"
                ).format(rel=column.relation, col=sql.Identifier(column.column))
            )
            rows_updated += max(cur.rowcount, 0)

        quarantined = 0
        pattern = re.compile(r"\b[0-9a-f]{32}\b")
        rewritten = []
        for ctid, text in conn.execute(
            "select ctid::text, raw_text from quarantine.rejected_rows where raw_text ~ %s", (HEX_TOKEN,)
        ):
            new_text = pattern.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
            if new_text != text:
                rewritten.append((new_text, ctid))
        with conn.cursor() as cur:
            cur.executemany(
                "update quarantine.rejected_rows set raw_text = %s where ctid = %s::tid", rewritten
            )
        quarantined = len(rewritten)

        # Keys hashed into derived ids (session ids) follow only through a full rebuild.
        forget_incremental_state(conn)
        conn.execute(
            "update restricted.privacy_state set key_fingerprint = %s, key_rotated_at = now(), "
            "key_rotations = key_rotations + 1",
            (new_fp,),
        )
    return RotationResult(
        old_fingerprint=old_fp,
        new_fingerprint=new_fp,
        pseudonyms_from_identities=from_identities,
        pseudonyms_without_identity=len(mapping) - from_identities,
        rows_updated=rows_updated,
        quarantined_rows_updated=quarantined,
    )
