"""Redaction of direct identifiers in free text (survey comments, quarantined lines).

`redact(text)` replaces e-mail addresses, resident identity card numbers, phone numbers and
student / staff numbers with a bracketed token naming what was there (`[EMAIL]`, `[ID_NUMBER]`,
`[PHONE]`, `[PERSON_NUMBER]`), so that the text stays readable for the person who acts on the
comment while nobody can contact or look up its author from it.

It errs on the side of removing: a long run of digits that might be a student, staff or QQ number
goes, and so may an order number or a date written as 20250915. Words are never touched. The
patterns work inside Chinese text, where there are no spaces between an identifier and the words
around it, nor between a number and a word run into it by a typo (`\\b` does not help: CJK
characters count as word characters), so every pattern is fenced by "no digit on either side".

Kept out of any source package so that every source, the quarantine and the privacy checks can
use the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"

# Bounded parts (a local part has at most 64 characters): linear time on a long run of letters.
EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]{1,64}\s?[@＠]\s?[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}"
)
# Resident identity card: 18 characters (6-digit region, birth date, sequence, check digit or X);
# the older 15-digit form. The birth date is not checked: a typo'd number is still a number.
ID_NUMBER = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:[1-9]\d{5}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx]|[1-9]\d{14})"
    + _NOT_DIGIT_AFTER
)
# Mainland mobiles (optionally +86 / 0086, with spaces or dashes as people write them), landlines
# with an area code (010-12345678, (0571) 8888 8888), and other international numbers (+44 ...).
PHONE = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:"
    + r"(?:(?:\+|00)\s?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d{4}){2}"
    + r"|\(?0\d{2,3}\)?[\s\-]?\d{3,4}[\s\-]?\d{4}"
    + r"|\+\d{1,3}[\s\-]?\d(?:[\s\-]?\d){6,13}"
    + r")"
    + _NOT_DIGIT_AFTER
)
# Student and staff numbers: up to three letters then 6 to 12 digits (S2025000123, 2021110123,
# T2010001). QQ numbers fall in the same net.
PERSON_NUMBER = re.compile(_NOT_DIGIT_BEFORE + r"[A-Za-z]{0,3}\d{6,12}" + _NOT_DIGIT_AFTER)

# In this order: an e-mail address may hold a student number, an identity card number holds
# what looks like a phone number.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("[EMAIL]", EMAIL),
    ("[ID_NUMBER]", ID_NUMBER),
    ("[PHONE]", PHONE),
    ("[PERSON_NUMBER]", PERSON_NUMBER),
)
TOKENS = tuple(token for token, _ in RULES)


def redact(text: str, *, extra: Iterable[tuple[str, re.Pattern[str]]] = ()) -> str:
    """`text` with every e-mail address, ID number, phone number and student / staff number
    replaced by its token. `extra` adds (token, pattern) rules applied after the built-in ones
    (an institution's own identifier shape)."""
    for token, pattern in (*RULES, *extra):
        if pattern is EMAIL and "@" not in text and "＠" not in text:
            continue  # the common case, and a long line costs nothing
        text = pattern.sub(token, text)
    return text


def find_identifiers(text: str) -> list[str]:
    """The substrings `redact` would remove, for tests and privacy checks (never print them)."""
    found: list[str] = []
    for _token, pattern in RULES:
        found.extend(match.group(0) for match in pattern.finditer(text))
        text = pattern.sub(" ", text)
    return found
