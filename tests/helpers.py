"""Small helpers shared by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.model import ParseContext, Rejected
from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY


def context(**options: Any) -> ParseContext:
    return ParseContext(pseudonymiser=Pseudonymiser(TEST_KEY), options=options)


def split(items: Any) -> tuple[list[tuple[int, tuple[Any, ...]]], list[Rejected]]:
    good, bad = [], []
    for item in items:
        (bad if isinstance(item, Rejected) else good).append(item)
    return good, bad


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
