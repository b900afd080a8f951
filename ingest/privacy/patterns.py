"""What a person identifier looks like in text, for masking (quarantine) and for detection.

Masking is deliberately broader than detection: quarantine text is masked whenever something
*might* be an identifier (any 8-19 digit run, any 18-character resident-ID shape), while the
privacy suite on marts only fails on values that really are one (a resident ID with a valid check
digit, a mobile number, the roster's own number formats), so that it does not cry wolf.

Every pattern is bounded by non-alphanumerics on both sides, so that it never matches inside a
32-character hexadecimal pseudonym.
"""

from __future__ import annotations

import re

_L = r"(?<![0-9A-Za-z])"  # left boundary
_R = r"(?![0-9A-Za-z])"  # right boundary

# Parts are bounded (a local part has at most 64 characters) so that a long run of letters without
# an "@" costs linear time, not quadratic: quarantined lines may be hostile.
EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
URL_USERINFO = re.compile(r"(?<=://)[^/@\s\"']+@")
# A query string: anything after "?" that carries a key=value (search terms, tokens, e-mails).
QUERY_STRING = re.compile(r"\?[^\s\"'<>]{0,256}?=[^\s\"'<>]*")
RESIDENT_ID = re.compile(_L + r"\d{17}[\dXx]" + _R)
MOBILE = re.compile(_L + r"(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}" + _R)
LANDLINE = re.compile(_L + r"0\d{2,3}-\d{7,8}" + _R)
LONG_NUMBER = re.compile(_L + r"\d{8,19}" + _R)  # card numbers, borrower numbers, QQ ids...
# Campus numbers: one or two letters then 7 to 12 digits (S2023000123, T2010001, E2015012).
CAMPUS_NUMBER = re.compile(_L + r"[A-Za-z]{1,2}\d{7,12}" + _R)
IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?(?!\d)(?!\.\d)")
IPV6_CANDIDATE = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
# Named values: login=jdoe, "card_number": "2112345678", borrowernumber: 42 ...
NAMED_FIELD_NAMES = (
    r"login|user(?:_?name|_?id)?|uid|borrower(?:_?number)?|patron(?:_?id)?|card(?:_?(?:number|no))?"
    r"|barcode|person_?id|student_?(?:no|number|id)|staff_?(?:no|number|id)|e-?mail|phone|mobile|tel"
    r"|name|national_?id|id_?(?:number|card|no)|passport"
)
NAMED_FIELD = re.compile(
    r"(?i)(?P<q>[\"']?)\b(?P<name>" + NAMED_FIELD_NAMES + r")(?P=q)(?P<sep>\s*[=:]\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.){0,1000}\"|'[^']{0,1000}'|[^\s,;&\"'}\]]+)"
)

RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK = "10X98765432"
# A real resident ID: region, birth date (1800-2099), sequence, check character.
RESIDENT_ID_STRICT = re.compile(
    _L + r"([1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx])" + _R
)


def resident_id_is_valid(text: str) -> bool:
    """True when `text` is an 18-character PRC resident ID number whose check character
    (ISO 7064 MOD 11-2) is right."""
    if len(text) != 18 or not text[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(text[:17], RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11] == text[17].upper()
