"""Apache/EZproxy `LogFormat` strings compiled to one regular expression.

EZproxy writes each request as one line shaped by its `LogFormat` directive, Apache style
(`%h %l %u %t "%r" %s %b` by default). A `LogPattern` turns that string into a single compiled
pattern, so that the hot loop over millions of lines is one C-level `re` match per line plus a
few tuple lookups. Parsing is done with the standard library on purpose: one `re` match per line
is fast enough for the throughput goal (see BENCHMARKS.md) and needs no extra dependency.

Supported directives: `%h %a %l %u %t %r %s %>s %b %B %U %m %H %q %v %V %D %T`, `%{name}i`
(request header), `%{name}e` (environment/EZproxy variable), `%{name}c`/`%{name}o` and `%%`;
everything else in the format is literal text. A field written as `-` means "missing".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

DEFAULT_LOG_FORMAT = '%h %l %u %t "%r" %s %b'

# What each directive means, in the words an error message should use.
FIELD_NAMES = {
    "h": "host",
    "a": "client_address",
    "l": "ident",
    "u": "user",
    "t": "time",
    "r": "request",
    "s": "status",
    ">s": "status",
    "b": "size",
    "B": "size",
    "U": "url",
    "m": "method",
    "H": "protocol",
    "q": "query",
    "v": "server_name",
    "V": "server_name",
    "D": "duration",
    "T": "duration",
}

# Patterns per directive. A field is a run of non-blank characters unless the format says more:
# %t is bracketed, a field inside quotes may hold blanks, and a free-text field (%{..}i/e) that
# ends the format takes the rest of the line (headers and EZproxy notes may contain spaces).
TOKEN = r"\S+"
FIELD_PATTERNS = {
    "h": r"\S+(?:, \S+)*",  # may list a chain of addresses: "172.28.4.47, 195.221.0.34"
    "a": r"\S+(?:, \S+)*",
    "t": r"\[([^\]]*)\]",
    "s": r"\d{3}|-",
    ">s": r"\d{3}|-",
    "b": r"\d+|-",
    "B": r"\d+|-",
    "D": r"\d+|-",
    "T": r"\d+|-",
}
QUOTED = r'(?:[^"\\]|\\.)*'  # Apache escapes a quote inside a quoted field as \"
# A URL split by the one regex match per line: (authority)(path); the query is never captured.
# Doing this inside the C regex engine instead of with Python string calls halves parse time.
URL_PARTS = r'(?:[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#\s"\\]*))?(/[^?#\s"\\]*)?'
# "%r": method, URL parts, protocol; anything else quoted (junk requests) falls back whole.
REQUEST = rf'((?:([A-Z]+) {URL_PARTS}[^\s"\\]*(?: HTTP/[0-9.]+)?)|{QUOTED})'
URL = rf"({URL_PARTS}\S*)"
NEVER = "(?:()(?!))?"
# Sub-groups after a field's own group, in order: index names are "<code>:<part>".
SUB_GROUPS = {"r": ("method", "authority", "path"), "U": ("authority", "path")}

DIRECTIVE = re.compile(r"%(?:\{([^}]*)\}([iecon])|(>s|[a-zA-Z%]))")

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


class LogFormatError(ValueError):
    """The LogFormat string itself cannot be used."""


@dataclass(frozen=True)
class Field:
    """One directive of the format: its code (`h`, `t`, `i:ezproxy-groups` ...) and name."""

    code: str
    name: str


class LogPattern:
    """A compiled LogFormat: `match(line)` gives the fields' text by code, or None."""

    def __init__(self, log_format: str) -> None:
        if not log_format or not log_format.strip():
            raise LogFormatError("the LogFormat is empty; the EZproxy default is " + DEFAULT_LOG_FORMAT)
        self.log_format = log_format
        self.fields: list[Field] = []
        # Regex fragments, one per token (literal or directive), kept to explain a mismatch.
        self._pieces: list[tuple[str, Field | None]] = []
        tokens = _tokenise(log_format)
        for position, (kind, value) in enumerate(tokens):
            if kind == "literal":
                self._pieces.append((re.escape(value), None))
                continue
            field = _field(value)
            following = tokens[position + 1][1] if position + 1 < len(tokens) else None
            preceding = tokens[position - 1][1] if position > 0 else None
            self._pieces.append((self._group(field, preceding, following), field))
            self.fields.append(field)
        # A group that never takes part in a match: fields the format lacks point at it, so
        # that one match.group(*numbers) call returns None for them.
        self.regex = re.compile("".join(piece for piece, _ in self._pieces) + NEVER)
        self.absent_group = self.regex.groups
        # Group number (0-based, as in match.groups()) of each code and sub-part; the first
        # occurrence wins: a format may repeat %h (Strasbourg writes it twice).
        self.index: dict[str, int] = {}
        group = 0
        for piece, piece_field in self._pieces:
            if piece_field is not None:
                code = piece_field.code
                self.index.setdefault(code, group)
                for offset, part in enumerate(SUB_GROUPS.get(code, ()), 1):
                    self.index.setdefault(f"{code}:{part}", group + offset)
            group += re.compile(piece).groups

    @staticmethod
    def _group(field: Field, preceding: str | None, following: str | None) -> str:
        if field.code == "t":
            return FIELD_PATTERNS["t"]
        quoted = (preceding or "").endswith('"') and (following or "").startswith('"')
        if quoted:
            return REQUEST if field.code == "r" else f"({QUOTED})"
        if field.code == "U":
            return URL
        if following is None and field.code[:2] in ("i:", "e:", "c:", "o:", "n:"):
            return "(.*)"
        return f"({FIELD_PATTERNS.get(field.code, TOKEN)})"

    def has(self, code: str) -> bool:
        return code in self.index

    def match(self, line: str) -> tuple[str, ...] | None:
        found = self.regex.fullmatch(line)
        return found.groups() if found else None

    def explain_mismatch(self, line: str) -> tuple[str, str]:
        """(field name, reason) for a line that did not match: where the format stopped fitting."""
        matched_upto = 0
        for upto in range(1, len(self._pieces) + 1):
            prefix = "".join(piece for piece, _ in self._pieces[:upto])
            if re.match(prefix, line) is None:
                break
            matched_upto = upto
        if matched_upto == len(self._pieces):
            return "line", (
                f"unexpected text after the last field of the LogFormat {self.log_format!r}; "
                "check that --log-format lists every field EZproxy writes"
            )
        piece, field = self._pieces[matched_upto]
        if field is None:
            literal = re.sub(r"\\(.)", r"\1", piece)  # undo re.escape for the message
            expected = f"the literal text {literal!r}"
            name = "line"
        else:
            expected = f"the {field.name} field ({_describe(field)})"
            name = field.name
        return name, (
            f"does not match the LogFormat {self.log_format!r}: {expected} was expected after "
            f"{matched_upto} of {len(self._pieces)} parts; if the whole file looks like this, "
            "pass the format EZproxy was configured with as --log-format"
        )


def _tokenise(log_format: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    for found in DIRECTIVE.finditer(log_format):
        if found.start() > position:
            tokens.append(("literal", log_format[position : found.start()]))
        name, kind, simple = found.groups()
        if simple == "%":
            tokens.append(("literal", "%"))
        elif simple is not None:
            tokens.append(("directive", simple))
        else:
            tokens.append(("directive", f"{kind}:{name.lower()}"))
        position = found.end()
    if position < len(log_format):
        tail = log_format[position:]
        if "%" in tail:
            raise LogFormatError(
                f"LogFormat {log_format!r}: cannot read the directive at {tail!r}; write "
                "directives as %h, %>s or %{name}i"
            )
        tokens.append(("literal", tail))
    # Merge neighbouring literals (a `%%` between two texts) so the mismatch report stays short.
    merged: list[tuple[str, str]] = []
    for kind, value in tokens:
        if merged and kind == "literal" and merged[-1][0] == "literal":
            merged[-1] = ("literal", merged[-1][1] + value)
        else:
            merged.append((kind, value))
    return merged


def _field(code: str) -> Field:
    if ":" in code:
        kind, name = code.split(":", 1)
        label = {"i": "header", "e": "variable", "c": "cookie", "o": "response_header"}.get(kind, kind)
        return Field(code, f"{label}:{name}")
    if code not in FIELD_NAMES:
        supported = " ".join(f"%{c}" for c in FIELD_NAMES)
        raise LogFormatError(
            f"LogFormat directive %{code} is not supported; supported: {supported} "
            "%{name}i %{name}e %{name}c %{name}o %%"
        )
    return Field(code, FIELD_NAMES[code])


def _describe(field: Field) -> str:
    return {
        "t": "[dd/Mon/yyyy:HH:MM:SS +zzzz]",
        "s": "a 3-digit status or -",
        ">s": "a 3-digit status or -",
        "b": "a byte count or -",
        "B": "a byte count or -",
    }.get(field.code, "text without blanks")


class TimestampError(ValueError):
    pass


_OFFSETS: dict[str, timezone] = {}


def parse_log_time(text: str) -> datetime:
    """`30/Nov/2012:00:14:17 +0100` -> an aware datetime (the instant, with the offset written).

    Hand-sliced instead of strptime: it is about ten times faster and this runs on every line.
    """
    if (
        len(text) != 26
        or text[2] != "/"
        or text[6] != "/"
        or text[11] != ":"
        or text[20] != " "
        or text[21] not in "+-"
    ):
        raise TimestampError(f"{text!r} is not dd/Mon/yyyy:HH:MM:SS +zzzz")
    month = _MONTHS.get(text[3:6])
    if month is None:
        raise TimestampError(f"{text!r}: unknown month {text[3:6]!r} (expected Jan ... Dec)")
    offset_text = text[21:]
    offset = _OFFSETS.get(offset_text)
    if offset is None:
        try:
            hours, minutes = int(offset_text[1:3]), int(offset_text[3:5])
        except ValueError:
            raise TimestampError(f"{text!r}: the offset {offset_text!r} is not +hhmm") from None
        if hours > 23 or minutes > 59:
            raise TimestampError(f"{text!r}: the offset {offset_text!r} is out of range")
        delta = timedelta(hours=hours, minutes=minutes)
        offset = timezone(-delta if offset_text[0] == "-" else delta)
        _OFFSETS[offset_text] = offset
    try:
        return datetime(
            int(text[7:11]),
            month,
            int(text[0:2]),
            int(text[12:14]),
            int(text[15:17]),
            int(text[18:20]),
            tzinfo=offset,
        )
    except ValueError as error:
        raise TimestampError(f"{text!r} is not a valid date and time ({error})") from None
