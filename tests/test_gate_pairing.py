"""Visit pairing, property-based: generated swipes go into the test warehouse and through the SQL
dbt compiled for int_visits_paired_from_gate_events (its inputs swapped for temporary tables), and
the visits must keep the pairing's promises: dwell never negative, a card's visits at a site never
overlap, each granted swipe used at most once (exactly once unless it is a double swipe), every
unpaired swipe flagged, denied swipes never used; and they must be the visits a plain walk through
each card's swipes gives (tests/gate_reference.py)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
import psycopg
import pytest
from hypothesis import given, settings
from psycopg.rows import dict_row

from tests.gate_reference import Site, Swipe, Visit, collapsed_swipes, pair_visits
from urm.platform.dbt import run_dbt

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Asia/Shanghai")
SITES = {
    "R": Site(time(8), time(22), False),
    "H": Site(time(0), time(0), True),
}
# gaps between swipes around every threshold of the rules (seconds)
STEPS = [0, 5, 30, 59, 60, 61, 90, 119, 120, 121, 600, 3600, 5 * 3600, 11 * 3600, 13 * 3600, 86400]


class Compiled(tuple):
    """(connection, compiled query); shown briefly when hypothesis reports a failing example."""

    def __repr__(self) -> str:
        return "<compiled int_visits_paired_from_gate_events>"


@pytest.fixture(scope="module")
def pairing(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    work: Path = tmp_path_factory.mktemp("gate_pairing")
    run_dbt(
        "compile",
        "--select",
        "int_visits_paired_from_gate_events",
        "--full-refresh",  # the whole pairing, not the incremental step of a warehouse that has the table
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    )
    compiled = next(
        (work / "target" / "compiled").rglob("int_visits_paired_from_gate_events.sql")
    ).read_text()
    query = re.sub(r'"[^"]+"\."intermediate"\."int_gate_passages_deduplicated"', "pg_temp.passages", compiled)
    query = re.sub(r'"[^"]+"\."staging"\."gate_sites"', "pg_temp.sites", query)
    assert "pg_temp.passages" in query and "pg_temp.sites" in query
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(
            "create temporary table passages (passage_key text, card_key text, gate_id text, site_code text, "
            "direction text, result text, passed_at timestamptz)"
        )
        conn.execute(
            "create temporary table sites (site_code text, opens_at time, closes_at time, open_24h boolean)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into sites values (%s, %s, %s, %s)",
                [(code, s.opens_at, s.closes_at, s.open_24h) for code, s in SITES.items()],
            )
        yield Compiled((conn, query))


def visits_from_sql(conn: psycopg.Connection, query: str, swipes: list[Swipe]) -> list[dict]:
    conn.execute("truncate passages")
    if swipes:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into passages values (%s, %s, 'g', %s, %s, %s, %s)",
                [(s.key, s.card, s.site, s.direction, s.result, s.at) for s in swipes],
            )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"select * from ({query}) as visits").fetchall()


swipe_lists = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c1", "c1", "c2"]),
        st.sampled_from(["R", "R", "H"]),
        st.sampled_from(["in", "out"]),
        st.sampled_from(["granted"] * 5 + ["denied"]),
        st.sampled_from(STEPS),
    ),
    max_size=24,
)


@settings(max_examples=100, deadline=None)
@given(generated=swipe_lists, start_hour=st.sampled_from([6, 9, 20, 23]))
def test_pairing_keeps_its_promises(pairing: tuple, generated: list[tuple], start_hour: int) -> None:
    conn, query = pairing
    clock = datetime(2025, 9, 3, start_hour, tzinfo=ZONE)
    swipes = []
    for number, (card, site, direction, result, step) in enumerate(generated):
        clock += timedelta(seconds=step)
        swipes.append(Swipe(f"p{number:02d}", card, site, direction, result, clock))
    rows = visits_from_sql(conn, query, swipes)

    granted = {s.key for s in swipes if s.result == "granted"}
    used = Counter(k for r in rows for k in (r["entry_passage_key"], r["exit_passage_key"]) if k)
    assert all(n == 1 for n in used.values()), "a swipe used twice"
    assert set(used) <= granted, "a denied swipe in a visit"
    assert set(used) == granted - collapsed_swipes(swipes, SITES), "a swipe left out of every visit"

    by_card_site = defaultdict(list)
    for row in rows:
        assert row["left_at"] is not None
        if row["entry_passage_key"] is None:
            assert row["entry_missing"] and row["entered_at"] is None and row["dwell_minutes"] is None
        else:
            assert not row["entry_missing"] and row["dwell_minutes"] >= 0
            assert row["left_at"] >= row["entered_at"]
        assert (row["exit_passage_key"] is None) == row["exit_imputed"]
        by_card_site[(row["card_key"], row["site_code"])].append(row)
    for visits in by_card_site.values():
        spans = sorted((v["entered_at"], v["left_at"]) for v in visits if v["entered_at"] is not None)
        for (_, left), (entered, _) in zip(spans, spans[1:], strict=False):
            assert entered >= left, "two visits of one card at one site overlap"
        for orphan in (v for v in visits if v["entered_at"] is None):
            assert not any(a < orphan["left_at"] < b for a, b in spans), "an exit inside a visit"

    expected = pair_visits(swipes, SITES, ZONE)
    actual = [
        Visit(
            r["card_key"], r["site_code"], r["entry_passage_key"], r["exit_passage_key"], r["entered_at"],
            r["left_at"], r["exit_imputed"], r["entry_missing"], r["clock_skew"],
        )
        for r in rows
    ]  # fmt: skip
    assert sorted(actual, key=repr) == sorted(expected, key=repr)


def test_overnight_visit_pairs_only_in_the_24_hour_room(pairing: tuple) -> None:
    conn, query = pairing
    night = datetime(2025, 9, 3, 23, tzinfo=ZONE)
    swipes = [
        Swipe("a", "c1", "H", "in", "granted", night),
        Swipe("b", "c1", "H", "out", "granted", night + timedelta(hours=3)),
        Swipe("c", "c2", "R", "in", "granted", night - timedelta(hours=2)),
        Swipe("d", "c2", "R", "out", "granted", night + timedelta(hours=10)),  # after 08:00 reopening
    ]
    rows = {r["entry_passage_key"] or r["exit_passage_key"]: r for r in visits_from_sql(conn, query, swipes)}
    assert rows["a"]["exit_passage_key"] == "b" and rows["a"]["dwell_minutes"] == 180
    assert rows["c"]["exit_imputed"] and rows["c"]["left_at"] == datetime(2025, 9, 3, 22, tzinfo=ZONE)
    assert rows["d"]["entry_missing"]
