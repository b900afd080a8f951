"""Rows that PostgreSQL cannot store as they are, turned into quarantine entries.

A text value with a NUL byte (or a lone surrogate from a JSON `\\ud800` escape) cannot be written
to a PostgreSQL text column: COPY refuses it, and with it the whole file. The loader and its
parallel workers catch that row by row and quarantine the row instead, and everything the
quarantine keeps passes through `storable` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingest.model import RawTable, Rejected

RAW_LIMIT = 2000  # characters of a row kept in the quarantine


def storable(text: str) -> str:
    """`text` as PostgreSQL can store it: NUL written as the four characters \\x00, and a lone
    surrogate as its \\udxxx escape."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def row_text(values: Sequence[Any]) -> str:
    """A parsed row as tab-separated text (identifiers in it are already pseudonyms)."""
    return storable("\t".join("" if v is None else str(v) for v in values))[:RAW_LIMIT]


def _unstorable_column(table: RawTable, values: Sequence[Any]) -> str:
    for name, value in zip(table.column_names, values, strict=False):
        if isinstance(value, str) and storable(value) != value:
            return name
    return "(row)"


def unwritable(table: RawTable, line: int, values: Sequence[Any], error: Exception) -> Rejected:
    """The quarantine entry of a row that could not be written as COPY text."""
    column = _unstorable_column(table, values)
    if isinstance(error, UnicodeEncodeError):
        reason = "holds text that is not valid Unicode (a lone surrogate); the row cannot be stored"
    elif "NUL" in str(error):
        reason = "contains a NUL (0x00) byte, which PostgreSQL text cannot hold; the file may be corrupt here"
    else:
        reason = f"cannot be stored: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
    return Rejected(line, column, reason, row_text(values), redacted=True)  # values as they would land
