"""Quarantine without identifiers: what a rejected row may keep of its raw text.

The loader calls `redact_rejected` on every rejected row before it is spooled, whatever the
format, so that no parser has to remember to do it. What is redacted comes from the format's
declaration (`Format.identifier_fields`, the input's field names that hold person identifiers):

- a JSON record: every key named in identifier_fields, at any depth, is pseudonymised (kept as the
  same pseudonym the row would have landed with, so that erasure and retention find it) or
  removed; every other string value is masked;
- a delimited line (the file's first line is a header naming an identifier field): the line is
  split with the header's delimiter and the identifier columns are pseudonymised. When the line
  has more or fewer fields than the header (a stray delimiter or quote), every field that could
  have moved into the identifier's place is removed;
- a log line whose identifier fields are LogFormat directives (`%u`, `%h`, `%{session}i`): the
  line is matched against the format's LogFormat (as far as it fits) and those fields replaced;
  client addresses are cut to their network, as at ingest;
- anything else, and everything after the steps above: `mask_identifiers`, which masks whatever
  looks like an identifier (e-mail addresses, phone numbers, resident ID numbers, card and campus
  numbers, named values such as login=..., query strings) and cuts IP addresses to their network.

What cannot be recognised cannot be masked: a bare login such as `jdoe` in a line that fits no
field of its format stays. The quarantine keeps the file and line, so the line can be read in the
source file by whoever may read it.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.model import Format, ParseContext, Rejected
from ingest.privacy import patterns

REMOVED = "<removed>"
MAX_RAW = 4000


def mask_identifiers(text: str) -> str:
    """`text` with every identifier-looking token masked and IP addresses cut to their network."""
    if not text:
        return text
    text = patterns.URL_USERINFO.sub("<user>@", text)
    text = patterns.QUERY_STRING.sub("?<query>", text)
    text = patterns.NAMED_FIELD.sub(_mask_named, text)
    if "@" in text:
        text = patterns.EMAIL.sub("<email>", text)
    text = patterns.RESIDENT_ID.sub("<id-number>", text)
    text = patterns.MOBILE.sub("<phone>", text)
    text = patterns.LANDLINE.sub("<phone>", text)
    text = patterns.CAMPUS_NUMBER.sub("<number>", text)
    text = patterns.LONG_NUMBER.sub("<number>", text)
    text = patterns.IPV4.sub(_ipv4_network, text)
    return patterns.IPV6_CANDIDATE.sub(_ipv6_network, text)


def redact_rejected(
    fmt: Format, rejected: Rejected, ctx: ParseContext | None, path: Path | str | None = None
) -> Rejected:
    """The rejected row as the quarantine may keep it: no identifier of the input in clear.

    `ctx` supplies the pseudonymiser (without it identifiers are removed instead) and the format's
    options (an EZproxy LogFormat); `path` is the file, whose header names a delimited line's
    columns."""
    raw = (rejected.raw or "")[: 2 * MAX_RAW]  # what is kept is cut anyway; hostile lines are long
    if raw and rejected.redacted:  # the parser's own redaction, or the row as it would land
        raw = mask_identifiers(raw)[:MAX_RAW]
    elif raw:
        raw = _redact_text(fmt, raw, ctx, path)[:MAX_RAW]
    reason = mask_identifiers(rejected.reason)
    if raw == rejected.raw and reason == rejected.reason:
        return rejected
    return Rejected(rejected.line, rejected.field, reason, raw, redacted=True)


# -- what kind of identifier a field holds -----------------------------------------------------


def identifier_kind(field: str) -> str | None:
    """The pseudonym kind of an identifier field, from its name; None when it has none (names,
    e-mail, phone, national ids, session ids: those are removed, never pseudonymised)."""
    name = field.lower().replace("-", "_")
    if name in {"%h", "%a"} or name in {"ip", "ip_address", "client_ip", "client_address", "host"}:
        return "network"
    if name == "%u" or "login" in name or "username" in name:
        return "login"
    if "borrower" in name or "patron" in name or name.endswith(("userid", "user_id")):
        return "patron"
    if "card" in name:
        return "card"
    if name in {"person_id", "personid", "person"} or name.startswith(("student_", "staff_", "employee_")):
        return "person"
    return None


def _replacement(field: str, value: Any, ctx: ParseContext | None) -> Any:
    """What an identifier field's value becomes: its pseudonym, its network, or nothing."""
    if value is None or value == "" or value == "-":
        return value
    kind = identifier_kind(field)
    if kind == "network":
        return _network_of(str(value))
    if kind is not None and ctx is not None and isinstance(value, str | int):
        return ctx.pseudonymiser.pseudonym(kind, str(value)) or REMOVED
    return REMOVED


def _network_of(host: str) -> str:
    from ingest.ezproxy.parser import client_network

    return client_network(host) or "<host>"


# -- the shapes of raw text ---------------------------------------------------------------------


def _redact_text(fmt: Format, raw: str, ctx: ParseContext | None, path: Path | str | None) -> str:
    fields = fmt.identifier_fields
    directives = tuple(f for f in fields if f.startswith("%"))
    names = tuple(f for f in fields if not f.startswith("%"))
    stripped = raw.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            record = json.loads(raw)
        except ValueError:
            pass  # cut short or broken: handled as plain text below
        else:
            return json.dumps(_redact_json(record, {n.lower() for n in names}, ctx), ensure_ascii=False)
    if directives:
        redacted = _redact_log_line(raw, directives, ctx)
        if redacted is not None:
            return redacted
    if names and path is not None:
        header = _header(str(path))
        if header is not None:
            delimiter, columns = header
            wanted = {n.lower() for n in names}
            if wanted & set(columns):
                return _redact_delimited(raw, delimiter, columns, wanted, ctx)
    return mask_identifiers(_redact_named(raw, names, ctx))


def _redact_named(text: str, names: tuple[str, ...], ctx: ParseContext | None) -> str:
    """`name: value`, `"name": "value"`, `name=value` of the declared fields, in any text (a JSON
    record cut short, a key=value log)."""
    if not names:
        return text
    pattern = re.compile(
        r"(?i)(?P<q>[\"']?)(?<![0-9A-Za-z_])(?P<name>" + "|".join(re.escape(n) for n in names) + r")(?P=q)"
        r"(?P<sep>\s*[=:]\s*)(?P<value>\"(?:[^\"\\]|\\.)*\"?|'[^']*'?|[^\s,;&\"'}\]]+)"
    )

    def replace(found: re.Match[str]) -> str:
        value = found.group("value")
        quote = value[0] if value[:1] in {'"', "'"} else ""
        inner = value.strip("\"'")
        replaced = _replacement(found.group("name"), inner, ctx) if inner and inner != "null" else inner
        name = f"{found.group('q')}{found.group('name')}{found.group('q')}"
        return f"{name}{found.group('sep')}{quote}{replaced}{quote}"

    return pattern.sub(replace, text)


def _redact_json(value: Any, names: set[str], ctx: ParseContext | None) -> Any:
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            if str(key).lower() in names:
                replaced = _replacement(str(key), item, ctx)
                if replaced != REMOVED and not isinstance(replaced, dict | list):
                    kept[key] = replaced
                continue
            kept[key] = _redact_json(item, names, ctx)
        return kept
    if isinstance(value, list):
        return [_redact_json(item, names, ctx) for item in value]
    if isinstance(value, str):
        return mask_identifiers(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 8:
        return "<number>"  # a card or phone number written as a JSON number
    return value


def _redact_delimited(
    raw: str, delimiter: str, columns: list[str], wanted: set[str], ctx: ParseContext | None
) -> str:
    try:
        fields = next(csv.reader([raw], delimiter=delimiter), [])
    except csv.Error:  # a lone CR (or a NUL) in an unquoted field: split plainly, fields shifted go
        fields = raw.split(delimiter)
    positions = [i for i, name in enumerate(columns) if name in wanted]
    extra = len(fields) - len(columns)
    for i in positions:
        if extra == 0:
            fields[i] = str(_replacement(columns[i], fields[i], ctx) or "")
            continue
        # Fields were inserted or lost before or after the identifier: it now sits somewhere in
        # i .. i + extra. Without knowing where, every field it may have moved to goes.
        low, high = i + min(0, extra), i + max(0, extra)
        for j in range(max(0, low), min(len(fields) - 1, high) + 1):
            fields[j] = REMOVED
    fields = [f if f == REMOVED else mask_identifiers(f) for f in fields]
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(fields)
    return out.getvalue()


@lru_cache(maxsize=64)
def _header_cached(path: str, size: int, mtime: float) -> tuple[str, list[str]] | None:
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 16)
    except OSError:
        return None
    text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if not text or text.lstrip().startswith(("{", "[")):
        return None
    delimiter = max(("\t", ",", ";", "|"), key=text.count)
    if text.count(delimiter) == 0:
        return None
    columns = [c.strip().strip('"').lower() for c in next(csv.reader([text], delimiter=delimiter))]
    return delimiter, columns


def _header(path: str) -> tuple[str, list[str]] | None:
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _header_cached(path, stat.st_size, stat.st_mtime)


@lru_cache(maxsize=16)
def _log_pattern(log_format: str) -> Any:
    from ingest.ezproxy.logformat import LogPattern

    return LogPattern(log_format)


def _directive_code(directive: str) -> str:
    """'%u' -> 'u', '%{ezproxy-session}i' -> 'i:ezproxy-session' (LogPattern's codes)."""
    found = re.fullmatch(r"%\{([^}]*)\}([iecon])", directive)
    if found:
        return f"{found.group(2)}:{found.group(1).lower()}"
    return directive[1:]


def _redact_log_line(raw: str, directives: tuple[str, ...], ctx: ParseContext | None) -> str | None:
    """Replace the identifier fields of a log line, as far as its LogFormat fits the line: the
    longest run of the format's parts that fits its start, and the longest that fits its end."""
    from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT

    log_format = str((ctx.options.get("log_format") if ctx else None) or DEFAULT_LOG_FORMAT)
    try:
        pattern = _log_pattern(log_format)
    except ValueError:
        return None
    codes = {_directive_code(d): d for d in directives}
    # LogPattern keeps its parts private; reading them here keeps the EZproxy parser free of
    # quarantine concerns.
    pieces: list[tuple[str, Any]] = pattern._pieces
    spans: list[tuple[int, int, str]] = []
    head, head_end, trusted = len(pieces), 0, False
    while head > 0:
        regex = "".join(piece for piece, _ in pieces[:head])
        found = (re.fullmatch if head == len(pieces) else re.match)(regex, raw)
        if found is not None:
            if head == len(pieces) or _anchored(pieces[:head], found):
                spans.extend(_field_spans(pieces[:head], found, codes, ctx, raw))
                head_end, trusted = found.end(), True
            else:
                head = 0  # a few words that happen to fit the first fields: not this format
            break
        head -= 1
    for tail in range(head + 1, len(pieces)):
        found = re.compile("".join(piece for piece, _ in pieces[tail:]) + r"\Z").search(raw, head_end)
        if found is not None:
            if trusted or _anchored(pieces[tail:], found):  # after the format's head, its tail
                spans.extend(_field_spans(pieces[tail:], found, codes, ctx, raw))
                trusted = True
            break
    if not trusted:
        return None
    text = raw
    for start, end, replaced in sorted(spans, reverse=True):
        text = text[:start] + replaced + text[end:]
    return mask_identifiers(text)


def _anchored(pieces: list[tuple[str, Any]], found: re.Match[str]) -> bool:
    """Whether a partial match really is the format, not a few words that fit its first or last
    fields: it holds literal text other than blanks, a bracketed time, or a client address."""
    group = 1
    for piece, field in pieces:
        if field is None and re.sub(r"\\(.)", r"\1", piece).strip():
            return True
        if field is not None and field.code == "t":
            return True
        if field is not None and field.code in {"h", "a"} and found.group(group):
            from ingest.ezproxy.parser import client_network

            if client_network(found.group(group)) is not None:
                return True
        group += re.compile(piece).groups
    return False


def _field_spans(
    pieces: list[tuple[str, Any]],
    found: re.Match[str],
    codes: dict[str, str],
    ctx: ParseContext | None,
    raw: str,
) -> list[tuple[int, int, str]]:
    spans = []
    group = 1
    for piece, field in pieces:
        if field is not None and field.code in codes:
            start, end = found.span(group)
            if start != -1 and end > start:
                value = raw[start:end]
                if field.code in {"h", "a"}:
                    replaced = " ".join(_network_of(v.strip()) for v in value.split(","))
                else:
                    replaced = str(_replacement(codes[field.code], value, ctx))
                spans.append((start, end, replaced))
        group += re.compile(piece).groups
    return spans


# -- masking helpers -----------------------------------------------------------------------------


PSEUDONYM = re.compile(r"(?:[a-z]+:)?[0-9a-f]{32}")  # a pseudonym, perhaps with its kind


def _mask_named(found: re.Match[str]) -> str:
    value = found.group("value")
    quote = value[0] if value[:1] in {'"', "'"} else ""
    if PSEUDONYM.fullmatch(value.strip("\"'")):
        return found.group(0)  # already a pseudonym
    name = f"{found.group('q')}{found.group('name')}{found.group('q')}"
    return f"{name}{found.group('sep')}{quote}<redacted>{quote}"


def _ipv4_network(found: re.Match[str]) -> str:
    octets = [int(found.group(i)) for i in range(1, 5)]
    if any(o > 255 for o in octets):
        return found.group(0)
    prefix = found.group(5)
    if prefix is not None and int(prefix) <= 24:
        return found.group(0)  # already a network no narrower than the quarantine keeps
    return f"{octets[0]}.{octets[1]}.{octets[2]}.0/24"


def _ipv6_network(found: re.Match[str]) -> str:
    text = found.group(0)
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return text
    return str(ipaddress.ip_network(f"{address}/48", strict=False))
