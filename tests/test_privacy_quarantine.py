"""Rule 1, quarantine without identifiers: a rejected row of any format keeps no identifier of
its input in clear, in its raw text or its reason.

Tried by attacking it: every registered format (formats added later included: the test iterates
the registry) is given rejected lines built from real-looking roster identifiers in each shape a
source can write them (a delimited line under its header, a JSON record, a log line under its
LogFormat, a line no parser can read); and real bad files of every shipped source go through the
loader into quarantine.rejected_rows, which is then searched.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.loader import load_file
from ingest.model import Format, ParseContext, Rejected
from ingest.privacy.quarantine import identifier_kind, mask_identifiers, redact_rejected
from ingest.pseudonym import Pseudonymiser
from ingest.registry import formats, get_format
from tests.conftest import TEST_KEY
from tests.helpers import write
from tests.privacy_helpers import LI, ZHANG, ezproxy_line, holds, koha_file, roster_page

VALUE_OF_KIND = {
    "person": ZHANG.person_id,
    "card": ZHANG.card,
    "login": ZHANG.login,
    "patron": ZHANG.borrowernumber,
    "network": "172.28.4.47",
    None: ZHANG.email,
}
# Anything a line might carry about a person, in the forms sources write them.
JUNK = (
    f"?? {ZHANG.person_id} {ZHANG.card} {ZHANG.email} {ZHANG.phone} +86 139-9876-5432 {ZHANG.national_id} "
    f"172.28.4.47 2001:db8:85a3:1:2:8a2e:370:7334 {LI.person_id} T2010001 login={ZHANG.login} "
    f'"borrowernumber": "{ZHANG.borrowernumber}" card_number:{LI.card} 010-62751234'
)
JUNK_IDENTIFIERS = [
    ZHANG.person_id,
    ZHANG.card,
    ZHANG.email,
    ZHANG.phone,
    "139-9876-5432",
    ZHANG.national_id,
    "172.28.4.47",
    "2001:db8:85a3:1:2:8a2e:370:7334",
    LI.person_id,
    "T2010001",
    ZHANG.login,
    ZHANG.borrowernumber,
    LI.card,
    "010-62751234",
]


def _ctx(fmt: Format, **options: object) -> ParseContext:
    defaults = {o.name: o.default for o in fmt.options if o.default is not None}
    return ParseContext(Pseudonymiser(TEST_KEY), {**defaults, **options})


def _value(field: str) -> str:
    return VALUE_OF_KIND.get(identifier_kind(field), ZHANG.email)


def _leaks(text: str, identifiers: list[str]) -> list[str]:
    return [i for i in identifiers if holds(text, i)]


ALL_FORMATS = sorted(formats().items())


@pytest.mark.parametrize(("key", "fmt"), ALL_FORMATS, ids=[f"{s}/{n}" for (s, n), _ in ALL_FORMATS])
def test_every_format_masks_a_line_no_parser_can_read(key: tuple[str, str], fmt: Format) -> None:
    """Rule 1: an unreadable line keeps only masked identifier-looking tokens (any format)."""
    rejected = redact_rejected(fmt, Rejected(7, "(line)", f"cannot read {ZHANG.email}", JUNK), _ctx(fmt))
    assert _leaks(rejected.raw, JUNK_IDENTIFIERS) == []
    assert ZHANG.email not in rejected.reason
    assert "172.28.4.0/24" in rejected.raw  # the network stays: enough to tell campus from home


@pytest.mark.parametrize(("key", "fmt"), ALL_FORMATS, ids=[f"{s}/{n}" for (s, n), _ in ALL_FORMATS])
def test_every_format_redacts_its_declared_identifier_fields(
    key: tuple[str, str], fmt: Format, tmp_path: Path
) -> None:
    """Rule 1: the identifier fields a format declares are pseudonymised or removed, whether the
    row is a delimited line under its header (also with a field too many or too few), a JSON
    record (also one cut short), or a log line under its LogFormat."""
    names = [f for f in fmt.identifier_fields if not f.startswith("%")]
    directives = [f for f in fmt.identifier_fields if f.startswith("%")]
    if not fmt.identifier_fields:
        pytest.skip(f"{fmt.name} declares no identifier field")
    ctx = _ctx(fmt)
    if names:
        values = {name: _value(name) for name in names}
        header = ["when", *names, "note"]
        path = write(tmp_path / "export.csv", ",".join(header) + "\n")
        row = ["2025-09-02 10:15:00", *values.values(), "fine"]
        for line in (row, [*row[:2], "stray", *row[2:]], row[:1] + row[2:]):
            rejected = redact_rejected(fmt, Rejected(2, "when", "bad", ",".join(line)), ctx, path)
            assert _leaks(rejected.raw, list(values.values())) == [], (line, rejected.raw)
        # a field that is no identifier of this format is kept as it was
        plain = "record_no" if "id" in fmt.identifier_fields else "id"
        nested = {plain: "r1", **values, "library": dict(values), "note": f"call {ZHANG.phone}"}
        rejected = redact_rejected(fmt, Rejected(3, "id", "bad", json.dumps(nested)), ctx, None)
        assert _leaks(rejected.raw, [*values.values(), ZHANG.phone]) == [], rejected.raw
        cut_short = json.dumps(nested)[:-4]  # parsers keep at most 2,000 characters of a record
        leaked = _leaks(
            redact_rejected(fmt, Rejected(3, "id", "bad", cut_short), ctx, None).raw, [*values.values()]
        )
        assert leaked == [], cut_short
        kept = json.loads(rejected.raw)
        assert kept[plain] == "r1"
        for name in names:  # pseudonymised (the same pseudonym the row would have landed with) or gone
            kind = identifier_kind(name)
            if name in kept and kind not in (None, "network"):
                assert kept[name] == ctx.pseudonymiser.pseudonym(kind, values[name])
    if directives:
        if fmt.option("log_format") is None:
            pytest.fail(f"{fmt.name} declares LogFormat fields but takes no log_format option")
        codes = " ".join(d for d in directives if d not in ("%h", "%u"))
        log_format = f'%h %l %u %t "%r" %s %b {codes}'.strip()
        ctx = _ctx(fmt, log_format=log_format)
        when = datetime(2025, 9, 2, 10, 15)
        session = " SESSION0123abc" * (len(directives) - 2)
        for line in (
            ezproxy_line(when, ZHANG.login, status="abc") + session,  # fits the format but one field
            ezproxy_line(when, ZHANG.login).replace("Sep", "Sepx") + session,  # fits up to the time
        ):
            rejected = redact_rejected(fmt, Rejected(4, "status", "bad", line), ctx)
            assert _leaks(rejected.raw, [ZHANG.login, "172.28.4.47", "SESSION0123abc"]) == [], rejected.raw
            assert "?q=" not in rejected.raw  # query strings may carry search terms and e-mails
            assert ctx.pseudonymiser.pseudonym("login", ZHANG.login) in rejected.raw


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.text(alphabet=st.characters(whitelist_categories=("L", "Zs", "P")), max_size=12),
    digits=st.integers(min_value=10**9, max_value=10**12 - 1),
    year=st.integers(min_value=2000, max_value=2030),
    sequence=st.integers(min_value=0, max_value=999_999),
    mobile=st.integers(min_value=0, max_value=10**9 - 1),
)
def test_masking_removes_roster_shaped_numbers_wherever_they_sit(
    prefix: str, digits: int, year: int, sequence: int, mobile: int
) -> None:
    """Rule 1 (property): student numbers, card numbers and mobile numbers are masked in any
    surrounding text."""
    student = f"S{year}{sequence:06d}"
    card = str(digits)
    phone = f"13{mobile:09d}"
    masked = mask_identifiers(f"{prefix} {student},{card};{phone} {prefix}")
    assert _leaks(masked, [student, card, phone]) == []


def test_masking_keeps_what_is_not_an_identifier() -> None:
    """Rule 1 stays useful for repair: dates, times, short numbers and pseudonyms are kept."""
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym("person", ZHANG.person_id)
    assert pseudonym is not None
    text = f"2025-09-02 10:15:00,MAIN,0,issue,,1001,BK,STACKS,{pseudonym},HTTP/1.1 200 "
    text += "[02/Sep/2025:10:15:00 +0800]"
    assert mask_identifiers(text) == text


def _quarantined(conn: psycopg.Connection) -> list[str]:
    return [
        f"{raw} | {reason}"
        for raw, reason in conn.execute("select coalesce(raw_text, ''), reason from quarantine.rejected_rows")
    ]


@pytest.mark.integration
def test_real_bad_files_of_every_source_leave_no_identifier_in_quarantine(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Rule 1, through the loader: bad rows of Koha, FOLIO, campus and EZproxy files, built from
    real-looking roster identifiers, land in quarantine with none of those identifiers."""
    when = datetime(2025, 9, 2, 10, 15)
    koha = koha_file(
        tmp_path / "statistics.csv",
        [(when, "issue", "1001", ZHANG.borrowernumber)] * 8
        + [(when, "borrow", "1002", ZHANG.borrowernumber)],
    )
    with open(koha, "a", encoding="utf-8") as handle:  # a stray quote and a stray delimiter
        handle.write(
            f'2025-09-02 10:16:00,MAIN,0,issue,,1003,BK,"STACKS,{ZHANG.borrowernumber},,UG,intranet\n'
        )
        handle.write(f"2025-09-02 10:17:00,MAIN,0,issue,,1004,BK,STA,CKS,{LI.borrowernumber},,UG,intranet\n")
    folio = write(
        tmp_path / "loans.json",
        json.dumps(
            {
                "loans": [
                    {
                        "id": "l1",
                        "userId": ZHANG.folio_id,
                        "itemId": "i1",
                        "action": "checkedout",
                        "loanDate": "2025-09-02T10:00:00Z",
                    },
                    {
                        "id": "l2",
                        "userId": LI.folio_id,
                        "proxyUserId": ZHANG.folio_id,
                        "itemId": "i2",
                        "action": "checkedout",
                        "loanDate": "2025-09-02T10:00:00Z",
                    },
                    {
                        "id": "l3",
                        "userId": ZHANG.folio_id,
                        "itemId": "i3",
                        "action": "checkedout",
                        "loanDate": "yesterday",
                    },
                ]
            }
        ),
    )
    campus = roster_page(
        tmp_path / "people-0001.json",
        [ZHANG.record(), ZHANG.record(person_id="S2023000999"), LI.record(person_type="alien")],
        datetime(2025, 9, 1).date(),
    )
    ezproxy = write(
        tmp_path / "ezproxy.log",
        "\n".join(
            [ezproxy_line(when, ZHANG.login)] * 6
            + [
                ezproxy_line(when, ZHANG.login, status="2x0"),
                ezproxy_line(when, LI.email, address="10.20.30.40").replace("Sep", "Sepx"),
                f"garbage {ZHANG.email} {ZHANG.card} {LI.person_id}",
            ]
        )
        + "\n",
    )
    for (source, name), path in (
        (("circulation", "koha-csv"), koha),
        (("circulation", "folio-json"), folio),
        (("campus", "campus-json"), campus),
        (("ezproxy", "ezproxy-log"), ezproxy),
    ):
        fmt = get_format(source, name)
        load_file(conn, fmt, path, _ctx(fmt), max_reject_share=0.6)
    quarantined = _quarantined(conn)
    assert len(quarantined) >= 8
    everyone = [*ZHANG.clear, *LI.clear, "172.28.4.47", "10.20.30.40", "S2023000999"]
    leaks = [(row, _leaks(row, everyone)) for row in quarantined if _leaks(row, everyone)]
    assert leaks == []
    assert any(Pseudonymiser(TEST_KEY).pseudonym("patron", ZHANG.folio_id) in row for row in quarantined)
