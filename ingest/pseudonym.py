"""Keyed pseudonyms for person identifiers.

Each identifier is replaced, before it lands, by HMAC-SHA256(key, kind + ":" + normalised value),
hex, truncated to 32 characters (128 bits). The kind keeps a card barcode and a student number
that happen to share digits apart; the same identifier always maps to the same pseudonym under one
key, so sources join on pseudonyms. Without the key a pseudonym cannot be reversed or recomputed.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

KINDS = ("person", "card", "login", "patron")


def normalise(value: str) -> str:
    return value.strip().lower()


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self._key = key
        # Log files repeat the same few thousand users millions of times: cache per instance.
        self.pseudonym = lru_cache(maxsize=262_144)(self._compute)

    def _compute(self, kind: str, value: str | None) -> str | None:
        if value is None:
            return None
        value = normalise(value)
        if not value or value == "-":
            return None
        if kind not in KINDS:
            raise ValueError(f"unknown identifier kind {kind!r}; expected one of {KINDS}")
        # surrogatepass: a lone surrogate (a JSON "\ud800") still gets its own stable pseudonym
        message = f"{kind}:{value}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]
