"""Where things are and how to reach them, read from the environment once per process.

Every setting has a default that works on a fresh clone (embedded PostgreSQL under `.urm/`);
production overrides them with `URM_*` variables, never with files in git.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import InvalidOption

# The checkout (or the image's /opt/urm): where dbt_project/ and dags/ are. An installed package
# run from elsewhere names it with URM_PROJECT_DIR.
PROJECT_ROOT = Path(os.environ.get("URM_PROJECT_DIR") or Path(__file__).resolve().parents[2])
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DAGS_DIR = PROJECT_ROOT / "dags"


def urm_home() -> Path:
    """The run-time folder (warehouse data, Airflow metadata, landing files, keys)."""
    home = Path(os.environ.get("URM_HOME", PROJECT_ROOT / ".urm")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


@dataclass(frozen=True)
class LoadSettings:
    # Quarantine is the guard for bad rows; the threshold catches a wholesale mismatch (wrong
    # format, wrong LogFormat, wrong encoding), which rejects most of a file. Hence a loose default.
    max_reject_share: float

    @classmethod
    def from_env(cls) -> LoadSettings:
        raw = os.environ.get("URM_MAX_REJECT_SHARE", "0.25")
        try:
            share = float(raw)
        except ValueError:
            raise InvalidOption(
                f"URM_MAX_REJECT_SHARE={raw!r} is not a number: give a share between 0 and 1, e.g. 0.05"
            ) from None
        return cls(max_reject_share=share)


def pseudonym_key(*, announce: bool = True) -> bytes:
    """The HMAC key for pseudonyms: `URM_PSEUDONYM_KEY`, or a key kept under `.urm/`.

    The local key is created once and reused so that pseudonyms stay stable across runs;
    production must set URM_PSEUDONYM_KEY from its secret store.
    """
    value = os.environ.get("URM_PSEUDONYM_KEY")
    if value:
        if len(value) < 16:
            raise InvalidOption(
                "URM_PSEUDONYM_KEY is too short: use at least 16 characters (32+ random bytes is better)"
            )
        return value.encode()
    path = urm_home() / "pseudonym.key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
        if announce:
            print(
                f"URM_PSEUDONYM_KEY is not set: created a local key in {path} "
                "(set URM_PSEUDONYM_KEY in production)",
                file=sys.stderr,
            )
    return path.read_text().strip().encode()
