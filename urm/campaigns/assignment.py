"""Which arm a user falls in: a pure function of the campaign's seed and the user_key.

No random state and no database: the same campaign, seed and user always give the same arm, so a
re-run for the same period gives the same groups, and anyone holding the assignment record can
check it. The hash is SHA-256 of "SEED|USER_KEY", read as a number in [0, 1); below the control
share is control, the rest treated.
"""

from __future__ import annotations

import hashlib

TREATED, CONTROL = "treated", "control"


def assignment_draw(seed: str, user_key: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the user."""
    digest = hashlib.sha256(f"{seed}|{user_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def arm_of(seed: str, user_key: str, control_share: float) -> str:
    """`control` for about `control_share` of users, `treated` for the rest."""
    return CONTROL if assignment_draw(seed, user_key) < control_share else TREATED
