"""Shared by the privacy tests: real-looking roster people, their source files, and a search of
every table of every schema for what must not be there."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from ingest.circulation.koha import STATISTICS_COLUMNS
from ingest.privacy.patterns import RESIDENT_ID_CHECK, RESIDENT_ID_WEIGHTS
from ingest.pseudonym import Pseudonymiser
from tests.helpers import write


def resident_id(body: str) -> str:
    """A resident ID number with a valid check character (body: 17 digits)."""
    total = sum(int(d) * w for d, w in zip(body, RESIDENT_ID_WEIGHTS, strict=True))
    return body + RESIDENT_ID_CHECK[total % 11]


@dataclass(frozen=True)
class Person:
    person_id: str
    card: str
    login: str
    borrowernumber: str
    folio_id: str
    name: str
    email: str
    phone: str
    national_id: str
    person_type: str = "student"
    profiling: bool = True
    ranking: bool = False

    @property
    def clear(self) -> list[str]:
        """Every identifier of the person as a source writes it."""
        return [
            self.person_id,
            self.card,
            self.login,
            self.borrowernumber,
            self.folio_id,
            self.name,
            self.email,
            self.phone,
            self.national_id,
        ]

    def pseudonyms(self, key: bytes) -> list[str]:
        pseudonym = Pseudonymiser(key).pseudonym
        found = [
            pseudonym("person", self.person_id),
            pseudonym("card", self.card),
            pseudonym("login", self.login),
            pseudonym("patron", self.borrowernumber),
            pseudonym("patron", self.folio_id),
        ]
        return [p for p in found if p]

    def record(self, **changes: object) -> dict:
        record = {
            "person_id": self.person_id,
            "person_type": self.person_type,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "national_id": self.national_id,
            "college": {"code": "CS", "name": "计算机学院"},
            "major": {"code": "0809", "name": "软件工程"},
            "class": "CS2023-1",
            "degree_level": "bachelor",
            "entry_year": 2023,
            "expected_graduation_year": 2027,
            "enrollment_status": "enrolled",
            "library": {
                "card_number": self.card,
                "login": self.login,
                "koha_borrowernumber": self.borrowernumber,
                "folio_user_id": self.folio_id,
            },
            "consent": {"profiling": self.profiling, "ranking": self.ranking},
        }
        record.update(changes)
        return record


ZHANG = Person(
    person_id="S2023000123",
    card="2112345678",
    login="s2023000123",
    borrowernumber="4711",
    folio_id="0b8a3c2e-1111-4222-8333-444455556666",
    name="张三丰",
    email="s2023000123@stu.example.edu.cn",
    phone="13812345678",
    national_id=resident_id("11010120050101123"),
)
LI = Person(
    person_id="S2022000456",
    card="2187654321",
    login="s2022000456",
    borrowernumber="8152",
    folio_id="9c1d2e3f-aaaa-4bbb-8ccc-ddddeeeeffff",
    name="李四光",
    email="s2022000456@stu.example.edu.cn",
    phone="13998765432",
    national_id=resident_id("32010220040202456"),
)
WANG = Person(
    person_id="T2010001",
    card="2100000077",
    login="t2010001",
    borrowernumber="9931",
    folio_id="1f2e3d4c-0000-4111-8222-333344445555",
    name="王五",
    email="t2010001@example.edu.cn",
    phone="13700001111",
    national_id=resident_id("44030519800303789"),
    person_type="faculty",
)


def roster_page(path: Path, people: list[dict], snapshot: date) -> Path:
    page = {
        "page": 1,
        "page_size": 500,
        "total": len(people),
        "snapshot_date": snapshot.isoformat(),
        "data": people,
    }
    return write(path, json.dumps(page, ensure_ascii=False, indent=1))


def koha_file(path: Path, events: list[tuple[datetime, str, str, str]]) -> Path:
    """Koha statistics CSV: (local time, type, itemnumber, borrowernumber) per event."""
    lines = [",".join(STATISTICS_COLUMNS)]
    for when, event_type, item, borrower in events:
        lines.append(
            f"{when:%Y-%m-%d %H:%M:%S},MAIN,0,{event_type},,{item},BK,STACKS,{borrower},,UG,intranet"
        )
    return write(path, "\n".join(lines) + "\n")


def ezproxy_line(when: datetime, login: str, address: str = "172.28.4.47", status: str = "200") -> str:
    return (
        f'{address} - {login} [{when:%d/%b/%Y:%H:%M:%S} +0800] "GET http://www.jstor.org/stable/123'
        f'?q=x&mail={login}@example.org HTTP/1.1" {status} 1234'
    )


def holds(text: str, identifier: str) -> bool:
    """`identifier` appears in `text` as a whole token (not inside a longer word or number)."""
    return re.search(r"(?<![0-9A-Za-z])" + re.escape(identifier) + r"(?![0-9A-Za-z])", text, re.I) is not None


def search_everywhere(
    conn: psycopg.Connection, needles: list[str], schemas: list[str] | None = None
) -> list[str]:
    """Where any needle appears (as a token) in any column of any table of the warehouse:
    'schema.table: needle' for each hit."""
    rows = conn.execute(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        "and table_schema not in ('pg_catalog', 'information_schema') and table_schema not like 'pg\\_%%' "
        "order by 1, 2"
    ).fetchall()
    hits = []
    for schema, table in rows:
        if schemas is not None and schema not in schemas:
            continue
        relation = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        for (text,) in conn.execute(sql.SQL("select row_to_json(t)::text from {} as t").format(relation)):
            for needle in needles:
                if holds(text, needle) or (not needle.isascii() and needle in text):
                    hits.append(f"{schema}.{table}: {needle}")
    return sorted(set(hits))
