"""Records of a JSON document with the line each starts on, so that errors can name a line.

Campus API pages and FOLIO exports are pages of a few hundred to a few thousand records: one page
is read at a time (memory bounded by the page, not by the data set), and the records of its array
are decoded one by one with their position, instead of `json.load` which loses positions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ingest.errors import FileRefused

_decoder = json.JSONDecoder()
_space = re.compile(r"[\s,]*")


class JsonFileError(FileRefused):
    """The file is not JSON at all, or has no record array where one was expected."""


def _line_at(text: str, offset: int, cache: dict[str, int]) -> int:
    # Count newlines incrementally: records come in order, so this stays linear in the file size.
    start, line = cache["offset"], cache["line"]
    line += text.count("\n", start, offset)
    cache["offset"], cache["line"] = offset, line
    return line


def iter_records(
    path: Path, array_keys: Sequence[str]
) -> Iterator[tuple[int, Any] | tuple[int, json.JSONDecodeError]]:
    """Yield (line, record) for each element of the first array found under one of `array_keys`
    (or of a top-level array, or the single top-level object). A record that fails to decode is
    yielded as (line, JSONDecodeError) and the rest of the array is given up (JSON has no resync)."""
    # JSON is UTF-8: a byte that is not becomes U+FFFD in its value, and the rest still loads.
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if not stripped:
        raise JsonFileError(f"{path}: the file is empty; expected a JSON object or array")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        document = None
        first_error: json.JSONDecodeError | None = err
    else:
        first_error = None

    array_start = None
    if stripped.startswith("["):
        array_start = text.index("[")
    elif isinstance(document, dict):
        for key in array_keys:
            if isinstance(document.get(key), list):
                match = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
                if match:
                    array_start = match.end() - 1
                    break
        if array_start is None:
            yield 1 + text.count("\n", 0, len(text) - len(stripped)), document
            return
    elif first_error is None:
        raise JsonFileError(f"{path}: a JSON {type(document).__name__}, not an object or array of records")
    elif first_error is not None and not stripped.startswith("{"):
        raise JsonFileError(
            f"{path}: line {first_error.lineno}: not JSON ({first_error.msg}); expected a JSON "
            "object or array"
        )
    elif first_error is not None:
        match = None
        for key in array_keys:
            match = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
            if match:
                array_start = match.end() - 1
                break
        if array_start is None:
            yield first_error.lineno, first_error
            return

    assert array_start is not None
    cache = {"offset": 0, "line": 1}
    position = array_start + 1
    while True:
        position = _space.match(text, position).end()  # type: ignore[union-attr]  # [\s,]* always matches
        if position >= len(text) or text[position] == "]":
            return
        line = _line_at(text, position, cache)
        try:
            record, position = _decoder.raw_decode(text, position)
        except json.JSONDecodeError as err:
            yield line, err
            return
        yield line, record


def page_header(path: Path) -> dict[str, Any]:
    """The top-level fields of a page other than its record array (e.g. snapshot_date)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8-sig", errors="replace"))
    except json.JSONDecodeError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {k: v for k, v in document.items() if not isinstance(v, list)}
