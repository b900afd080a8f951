"""The pseudonym key's fingerprint: a warehouse is built with one key, and refuses another.

Pseudonyms made with two keys never match, so a load with the wrong key would silently cut every
join across sources. The first load records the key's fingerprint (an HMAC of a fixed text under
the key: it identifies the key without revealing it); every later load, build or export compares
before it writes anything. A load also holds a shared lock on the key for as long as it runs, so
that `urm privacy rotate-key` (which takes it exclusively) never re-keys under a running load.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import psycopg

from ingest.errors import KeyMismatch

FINGERPRINT_CONTEXT = b"library-urm pseudonym key fingerprint v1"
# Advisory lock id for the key (any fixed bigint): loads share it, rotation takes it alone.
KEY_LOCK = 0x75726D2D6B6579  # "urm-key"


def key_fingerprint(key: bytes) -> str:
    return hmac.new(key, FINGERPRINT_CONTEXT, hashlib.sha256).hexdigest()[:16]


def recorded_fingerprint(conn: psycopg.Connection) -> str | None:
    """The fingerprint the warehouse was built with; None before its first load."""
    exists = conn.execute("select to_regclass('restricted.privacy_state') is not null").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("select key_fingerprint from restricted.privacy_state").fetchone()
    return row[0] if row else None


def mismatch(recorded: str, given: str) -> KeyMismatch:
    return KeyMismatch(
        "the pseudonym key is not the one this warehouse was built with (warehouse key "
        f"fingerprint {recorded}, this key's {given}), so nothing was written: set "
        "URM_PSEUDONYM_KEY to the warehouse's key, or re-key the warehouse with "
        "`urm privacy rotate-key` (old key in URM_PSEUDONYM_KEY, new key in URM_PSEUDONYM_KEY_NEW)"
    )


def verify_pseudonym_key(conn: psycopg.Connection, key: bytes) -> str:
    """Refuse a key other than the warehouse's (builds and exports: they record nothing)."""
    given = key_fingerprint(key)
    recorded = recorded_fingerprint(conn)
    if recorded is not None and recorded != given:
        raise mismatch(recorded, given)
    return given


def ensure_pseudonym_key(conn: psycopg.Connection, key: bytes) -> str:
    """Before a load writes: hold the key lock (shared, for the session), then verify the key,
    recording its fingerprint when the warehouse has none yet. Returns the fingerprint."""
    conn.execute("select pg_advisory_lock_shared(%s)", (KEY_LOCK,))
    given = key_fingerprint(key)
    recorded = recorded_fingerprint(conn)
    if recorded is None:
        with conn.transaction():
            conn.execute(
                "insert into restricted.privacy_state (key_fingerprint, key_recorded_at, erasure_salt) "
                "values (%s, now(), %s) on conflict do nothing",
                (given, secrets.token_hex(16)),
            )
        recorded = recorded_fingerprint(conn)
    if recorded != given:
        conn.execute("select pg_advisory_unlock_shared(%s)", (KEY_LOCK,))
        raise mismatch(str(recorded), given)
    return given
