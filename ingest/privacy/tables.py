"""The privacy tables, all in `restricted` (read by no BI or export role). Created by the
migration (ingest.schema), idempotently."""

from __future__ import annotations

PRIVACY_TABLES = (
    # One row: the fingerprint of the pseudonym key the warehouse was built with, its rotations,
    # and the salt of the erasure digests.
    """create table if not exists restricted.privacy_state (
    singleton boolean primary key default true check (singleton),
    key_fingerprint text not null,
    key_recorded_at timestamptz not null,
    key_rotated_at timestamptz,
    key_rotations integer not null default 0,
    erasure_salt text not null
)""",
    # The identity vault: the roster's identifiers (person id, card, login, ILS patron ids) and
    # their pseudonyms. It exists so that a key rotation can re-key every pseudonym, and an erasure
    # can find all of a person's identifiers. Never exported, never read by BI.
    """create table if not exists restricted.identity (
    identifier_kind text not null,
    identifier text not null,
    identifier_key text not null,
    person_key text not null,
    first_seen date,
    last_seen date,
    primary key (identifier_kind, identifier)
)""",
    "create index if not exists identity_person on restricted.identity (person_key)",
    # Erased people, as salted digests only (of their identifiers, or of their pseudonyms under the
    # current key): enough to keep them out of later loads, not enough to say who they were.
    """create table if not exists restricted.erasure_suppression (
    digest text primary key,
    digest_of text not null,
    recorded_at timestamptz not null default now()
)""",
    # That an erasure happened, never who: a time and counts.
    """create table if not exists restricted.erasure_log (
    erased_at timestamptz not null,
    people integer not null,
    rows_deleted bigint not null,
    rows_deidentified bigint not null
)""",
    """create table if not exists restricted.retention_runs (
    ran_at timestamptz not null,
    as_of timestamptz not null,
    rows_deleted bigint not null,
    rows_deidentified bigint not null,
    details jsonb not null
)""",
    """create table if not exists restricted.privacy_suite_runs (
    ran_at timestamptz not null,
    success boolean not null,
    marts integer not null,
    checks integer not null,
    failures jsonb not null
)""",
)
