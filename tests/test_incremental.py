"""Incremental builds give the marts of a full rebuild: day by day, a late file, a grown log, a
build with nothing new, and after retention de-identified rows the models had taken in.

Small EZproxy logs go through the real loader; dbt builds only the e-resource chain."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from ingest.campus.tables import CAMPUS_PEOPLE
from ingest.pseudonym import Pseudonymiser
from ingest.run import ingest_files
from urm.platform.dbt import run_dbt
from urm.privacy.config import RetentionConfig, TableRetention
from urm.privacy.retention import apply_retention

from .conftest import TEST_KEY, empty_landing
from .test_dbt_core import RawWriter

pytestmark = pytest.mark.integration

pseudonym = Pseudonymiser(TEST_KEY).pseudonym

INCREMENTAL = (
    "intermediate.int_eresource_requests_classified",
    "intermediate.int_eresource_requests_sessionised",
    "intermediate.int_eresource_sessions",
    "intermediate.int_identifiers_monthly_ezproxy",
)
DOWNSTREAM = ("marts.fct_eresource_sessions", "marts.eresource_reconciliation_monthly")
CHAIN = [name.split(".")[1] for name in INCREMENTAL + DOWNSTREAM]
LOG_FORMAT = '%h %{ezproxy-session}i %u %t "%r" %s %b'
SD = "http://www.sciencedirect.com/science/article/pii/S"
CNKI = "https://kns.cnki.net/kcms2/article/abstract?x="


def line(user: str, at: str, url: str, ip: str = "10.1.2.3", status: int = 200) -> str:
    return f'{ip} sess {user} [{at} +0800] "GET {url} HTTP/1.1" {status} 100\n'


DAY_1 = [
    line("alice", "01/Mar/2024:09:00:00", SD + "1"),
    line("alice", "01/Mar/2024:09:20:00", SD + "2"),
    line("alice", "01/Mar/2024:10:30:00", SD + "3"),  # 70 minutes later: a second session
    line("alice", "01/Mar/2024:10:31:00", CNKI + "1"),
    line("bob", "01/Mar/2024:22:00:00", "http://example.org/", ip="8.8.8.8"),
    line("-", "01/Mar/2024:22:01:00", "http://example.org/", ip="8.8.8.8"),
]
DAY_2 = [
    line("alice", "02/Mar/2024:09:00:00", SD + "4"),
    line("carol", "02/Mar/2024:09:05:00", CNKI + "2", status=403),
    line("alice", "02/Mar/2024:09:25:00", SD + "5"),
]
# loaded after day 2, with times of day 1: they join alice's two ScienceDirect sessions into one,
# move the start of her CNKI session earlier, and start bob's session before it began
LATE = [
    line("alice", "01/Mar/2024:09:45:00", SD + "6"),
    line("alice", "01/Mar/2024:10:10:00", SD + "7"),
    line("alice", "01/Mar/2024:10:05:00", CNKI + "3"),
    line("bob", "01/Mar/2024:21:40:00", "http://example.org/a.css", ip="8.8.8.8"),
]
# day 2's log grows: the session of the morning goes on, a new one in the evening, and a last line
# still being written (no newline: the next load reads it again whole and replaces its row)
GROWN = [
    line("alice", "02/Mar/2024:09:50:00", SD + "8"),
    line("alice", "02/Mar/2024:20:00:00", SD + "9"),
]
PARTIAL = line("carol", "02/Mar/2024:21:00:00", CNKI + "4")


def ingest(url: str, path: Path) -> None:
    ingest_files(
        url,
        "ezproxy",
        "ezproxy-log",
        [path],
        key=TEST_KEY,
        max_reject_share=0.5,
        options={"log_format": LOG_FORMAT},
    )


def dbt(work: Path, *args: str, gap: int = 30) -> str:
    result = run_dbt(
        *args,
        "--vars",
        json.dumps({"library_timezone": "Asia/Shanghai", "eresource_session_gap_minutes": gap}),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    )
    assert "Completed successfully" in result.stdout, result.stdout[-3000:]
    return result.stdout


def build(work: Path, *extra: str, gap: int = 30) -> str:
    return dbt(work, "run", "--select", *CHAIN, *extra, gap=gap)


def contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the chain, in a stable order."""
    found = {}
    with psycopg.connect(url) as conn:
        conn.execute("set time zone 'UTC'")
        for table in INCREMENTAL + DOWNSTREAM:
            rows = conn.execute(f"select * from {table}").fetchall()
            found[table] = sorted(rows, key=lambda row: tuple("" if v is None else str(v) for v in row))
    return found


def assert_equals_full_rebuild(url: str, work: Path, gap: int = 30) -> dict[str, list[tuple]]:
    incremental = contents(url)
    build(work, "--full-refresh", gap=gap)
    full = contents(url)
    for table in INCREMENTAL + DOWNSTREAM:
        assert incremental[table] == full[table], table
    return full


def sessions(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        conn.execute("set time zone 'Asia/Shanghai'")
        return conn.execute(
            "select login_key, platform, started_at::time::text, ended_at::time::text, requests, "
            "static_requests, denied_requests from intermediate.int_eresource_sessions "
            "order by int_eresource_sessions.started_at, platform"
        ).fetchall()


@pytest.fixture(scope="module")
def work(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("incremental")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        empty_landing(conn)  # the chain's tables of another module's build are rebuilt, not extended
        # every chain starts afresh (the demo's builds leave records of their batches behind)
        if conn.execute("select to_regclass('intermediate.incremental_batches')").fetchone()[0]:
            conn.execute("delete from intermediate.incremental_batches")
        RawWriter(conn).load(
            CAMPUS_PEOPLE,
            [
                {
                    "snapshot_date": date(2024, 2, 1),
                    "person_key": "person-alice",
                    "login_key": pseudonym("login", "alice"),
                    "person_type": "student",
                    "consent_profiling": True,
                    "consent_ranking": False,
                }
            ],
            loaded_at="2024-02-01T00:00:00",
            file="roster.json",
        )
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_incremental_builds_equal_a_full_rebuild(warehouse_url: str, work: Path) -> None:
    alice, bob = pseudonym("login", "alice"), pseudonym("login", "bob")
    logs = work / "logs-in"
    logs.mkdir()
    (logs / "day1.log").write_text("".join(DAY_1))
    ingest(warehouse_url, logs / "day1.log")
    dbt(work, "build", "--select", "+fct_eresource_sessions", "+eresource_reconciliation_monthly")

    (logs / "day2.log").write_text("".join(DAY_2))
    ingest(warehouse_url, logs / "day2.log")
    build(work)

    (logs / "late.log").write_text("".join(LATE))
    ingest(warehouse_url, logs / "late.log")
    build(work)
    assert sessions(warehouse_url)[:3] == [
        (alice, "ScienceDirect", "09:00:00", "10:30:00", 5, 0, 0),
        (alice, "CNKI", "10:05:00", "10:31:00", 2, 0, 0),
        (bob, "Other", "21:40:00", "22:00:00", 1, 1, 0),
    ]
    assert_equals_full_rebuild(warehouse_url, work)

    (logs / "day2.log").write_text("".join(DAY_2 + GROWN) + PARTIAL.rstrip("\n"))
    ingest(warehouse_url, logs / "day2.log")
    build(work)
    (logs / "day2.log").write_text("".join(DAY_2 + GROWN) + PARTIAL)
    ingest(warehouse_url, logs / "day2.log")  # the last line again, whole: rows_replaced
    build(work)
    build(work)  # nothing new
    with psycopg.connect(warehouse_url) as conn:
        taken = conn.execute(
            "select model, count(*) from intermediate.incremental_batches where chain = 'ezproxy' "
            "group by model order by model"
        ).fetchall()
        batches = conn.execute(
            "select count(*) from raw.load_log where target_table = 'ezproxy_requests'"
        ).fetchone()[0]
    assert taken == [(model.split(".")[1], batches) for model in INCREMENTAL]
    assert_equals_full_rebuild(warehouse_url, work)


def test_a_changed_session_gap_rebuilds_the_sessions(warehouse_url: str, work: Path) -> None:
    """The sessions depend on var eresource_session_gap_minutes: a build with another gap is a
    full rebuild of the sessionised requests and what follows, not a mix of two gaps."""
    before = sessions(warehouse_url)
    output = build(work, gap=5)
    assert len(sessions(warehouse_url)) > len(before)
    # the logins per month read the classified requests, beside the sessions: not rebuilt
    logins = [
        line for line in output.splitlines() if "int_identifiers_monthly_ezproxy" in line and " OK " in line
    ]
    assert logins and "INSERT 0 0" in logins[0], logins
    with psycopg.connect(warehouse_url) as conn:
        kept = conn.execute(
            "select count(*) from intermediate.incremental_batches "
            "where model = 'int_identifiers_monthly_ezproxy'"
        ).fetchone()[0]
    assert kept > 0  # and its records are kept, whichever thread ran first
    assert_equals_full_rebuild(warehouse_url, work, gap=5)


def test_retention_makes_the_next_build_a_full_rebuild(warehouse_url: str, work: Path) -> None:
    """Day 1's requests lose their login: the next build forgets their sessions, as a full
    rebuild does, and no incremental table keeps a login the landing table no longer has."""
    bob = pseudonym("login", "bob")
    config = RetentionConfig(
        default_days=100_000,
        tables={
            "ezproxy_requests": TableRetention("ezproxy_requests", 1, ("requested_at",), ("client_network",))
        },
    )
    result = apply_retention(warehouse_url, datetime(2024, 3, 2, 20, tzinfo=UTC), config)
    assert {t.table: t.deidentified for t in result.tables}["ezproxy_requests"] > 0
    with psycopg.connect(warehouse_url) as conn:
        forgotten = "select count(*) from intermediate.incremental_batches where chain = 'ezproxy'"
        assert conn.execute(forgotten).fetchone()[0] == 0
    build(work)
    with psycopg.connect(warehouse_url) as conn:
        for table in INCREMENTAL:
            kept = conn.execute(
                f"select count(*) from {table} as t where t.login_key is not null and not exists "
                "(select 1 from raw.ezproxy_requests as r where r.login_key = t.login_key)"
            ).fetchone()[0]
            assert kept == 0, table
        assert (
            conn.execute(
                "select count(*) from intermediate.int_eresource_requests_sessionised as s "
                "join staging.stg_ezproxy__requests as r using (request_id) where r.login_key is null"
            ).fetchone()[0]
            == 0
        )
    assert all(row[0] != bob for row in sessions(warehouse_url))
    assert sessions(warehouse_url)  # day 2 stays
    assert_equals_full_rebuild(warehouse_url, work)


def test_chain_tables_emptied_by_a_crash_are_rebuilt(warehouse_url: str, work: Path) -> None:
    """The chain's tables are unlogged (no WAL for rows that the landing tables can give again):
    PostgreSQL empties them when it recovers from a crash, and the next build, finding records but
    no rows, rebuilds them instead of taking in only the batches it has not recorded."""
    before = contents(warehouse_url)
    assert before[INCREMENTAL[0]]
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        persistence = conn.execute(
            "select relpersistence from pg_class where oid = any(%s::regclass[])", [list(INCREMENTAL)]
        ).fetchall()
        assert persistence == [("u",)] * len(INCREMENTAL)
        conn.execute("truncate " + ", ".join(INCREMENTAL))  # what crash recovery does to them
    build(work)
    assert contents(warehouse_url) == before


def test_a_build_after_the_landing_tables_were_emptied_starts_again(warehouse_url: str, work: Path) -> None:
    """Rows with no record (another test's leftovers, a restored landing schema) are not kept."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("truncate raw.ezproxy_requests, raw.load_log")
    build(work)
    assert contents(warehouse_url)[INCREMENTAL[0]] == []
    assert sessions(warehouse_url) == []


def test_privacy_steps_forget_only_the_chains_a_changed_landing_table_feeds(warehouse_url: str) -> None:
    """A daily retention run that changed no row the e-resource chain reads keeps it incremental."""
    from urm.privacy.incremental import forget_incremental_state

    with psycopg.connect(warehouse_url) as conn:
        conn.execute(
            "create table if not exists intermediate.incremental_batches (chain text not null, "
            "step integer not null, model text not null, upstream text not null, batch_id uuid not null, "
            "recorded_at timestamptz not null default now(), primary key (model, batch_id))"
        )
        conn.execute("delete from intermediate.incremental_batches where chain in ('a', 'b')")
        conn.execute(
            "insert into intermediate.incremental_batches (chain, step, model, upstream, batch_id) values "
            "('a', 1, 'a1', 'ezproxy_requests', gen_random_uuid()), ('a', 2, 'a2', 'a1', gen_random_uuid()), "
            "('b', 1, 'b1', 'gate_passages', gen_random_uuid())"
        )
        assert forget_incremental_state(conn, ["koha_statistics"]) == 0
        assert forget_incremental_state(conn, ["ezproxy_requests", "campus_people"]) == 2
        left = conn.execute(
            "select model from intermediate.incremental_batches where chain in ('a', 'b')"
        ).fetchall()
        assert left == [("b1",)]
        conn.rollback()


# The gate chain: swipes written as the loader writes them (a batch and a load-log row per file).
GATE_INCREMENTAL = (
    "intermediate.int_gate_passages_deduplicated",
    "intermediate.int_visits_paired_from_gate_events",
)
GATE_DOWNSTREAM = ("marts.fct_visits", "marts.fct_site_hourly")
GATE_CHAIN = [name.split(".")[1] for name in GATE_INCREMENTAL + GATE_DOWNSTREAM]


def swipe(card: str | None, at: str, direction: str, result: str = "granted", gate: str = "") -> dict:
    return {
        "card_key": pseudonym("card", card) if card else None,
        "gate": gate or ("MAIN-G1" if direction == "in" else "MAIN-G3"),
        "direction": direction,
        "result": result,
        "passed_at": datetime.fromisoformat(at + "+08:00"),
    }


GATE_DAY_1 = [
    swipe("c1", "2024-03-04T09:00:00", "in"),
    swipe("c1", "2024-03-04T11:00:00", "out"),
    swipe("c1", "2024-03-04T14:00:00", "in"),  # no exit yet: closed at 22:00
    swipe("c2", "2024-03-04T10:00:00", "in"),
    swipe("c2", "2024-03-04T10:00:30", "in"),  # a double swipe
    swipe("c2", "2024-03-04T12:00:00", "out"),
    swipe("c3", "2024-03-04T15:00:00", "out"),  # an exit without an entry
    swipe(None, "2024-03-04T16:00:00", "in", result="denied"),
    swipe("c4", "2024-03-04T16:00:00", "in", gate="XX-9"),  # a gate the seed does not know
]
GATE_DAY_2 = [
    swipe("c1", "2024-03-05T09:00:00", "in"),
    swipe("c1", "2024-03-05T10:00:00", "out"),
    swipe("c2", "2024-03-05T21:30:00", "in"),
    swipe("c2", "2024-03-05T21:30:00", "in"),  # the same second twice in one file: both kept
]
# loaded after day 2, with times of day 1: c1's open entry gets its exit, c3's lone exit pairs with
# an entry a minute later (clock skew), c2's visit splits in two, and c1's morning entry comes again
GATE_LATE = [
    swipe("c1", "2024-03-04T15:30:00", "out"),
    swipe("c1", "2024-03-04T14:00:20", "in"),  # a double swipe of the open entry
    swipe("c3", "2024-03-04T15:01:00", "in"),
    swipe("c2", "2024-03-04T11:00:00", "out"),
    swipe("c1", "2024-03-04T09:00:00", "in"),  # an overlapping export
    swipe("c2", "2024-03-05T21:30:00", "in"),
]


def gate_build(work: Path, *extra: str, max_visit: int = 12) -> str:
    variables = {"library_timezone": "Asia/Shanghai", "gate_max_visit_hours": max_visit}
    result = run_dbt(
        "run",
        "--select",
        *GATE_CHAIN,
        *extra,
        "--vars",
        json.dumps(variables),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    )
    assert "Completed successfully" in result.stdout, result.stdout[-3000:]
    return result.stdout


def gate_contents(url: str) -> dict[str, list[tuple]]:
    found = {}
    with psycopg.connect(url) as conn:
        conn.execute("set time zone 'UTC'")
        for table in GATE_INCREMENTAL + GATE_DOWNSTREAM:
            rows = conn.execute(f"select * from {table}").fetchall()
            found[table] = sorted(rows, key=lambda row: tuple("" if v is None else str(v) for v in row))
    return found


def assert_gate_equals_full_rebuild(url: str, work: Path, max_visit: int = 12) -> None:
    incremental = gate_contents(url)
    gate_build(work, "--full-refresh", max_visit=max_visit)
    full = gate_contents(url)
    for table in GATE_INCREMENTAL + GATE_DOWNSTREAM:
        assert incremental[table] == full[table], table


def visits(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        conn.execute("set time zone 'Asia/Shanghai'")
        return conn.execute(
            "select card_key, entered_at::text, exit_recorded_at::text, left_at::text, exit_imputed, "
            "entry_missing, clock_skew from intermediate.int_visits_paired_from_gate_events "
            "order by card_key, least(entered_at, exit_recorded_at)"
        ).fetchall()


def gate_records(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select model, count(*) from intermediate.incremental_batches where chain = 'gate' "
            "group by model order by model"
        ).fetchall()


def first_gate_records(url: str) -> list[tuple]:
    """When each step of the gate chain recorded day 1's batch: a rebuild records it again."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select model, min(recorded_at) from intermediate.incremental_batches where chain = 'gate' "
            "group by model order by model"
        ).fetchall()


def load_swipes(url: str, rows: list[dict], file: str) -> None:
    from ingest.gate.tables import GATE_PASSAGES

    with psycopg.connect(url, autocommit=True) as conn:
        RawWriter(conn).load(GATE_PASSAGES, rows, loaded_at="2024-03-06T00:00:00", file=file)


def test_incremental_gate_builds_equal_a_full_rebuild(warehouse_url: str, work: Path) -> None:
    c1, c2, c3 = (pseudonym("card", card) for card in ("c1", "c2", "c3"))
    load_swipes(warehouse_url, GATE_DAY_1, "swipes-2024-03-04.csv")
    dbt(work, "build", "--select", "+fct_visits", "+fct_site_hourly")
    first_recorded = first_gate_records(warehouse_url)
    load_swipes(warehouse_url, GATE_DAY_2, "swipes-2024-03-05.csv")
    gate_build(work)
    load_swipes(warehouse_url, GATE_LATE, "late.csv")
    gate_build(work)
    day = "2024-03-04 "
    assert [
        v for v in visits(warehouse_url) if v[0] in (c1, c3) and (v[1] or v[2]).startswith(day)
    ] == sorted(
        [
            (c1, day + "09:00:00+08", day + "11:00:00+08", day + "11:00:00+08", False, False, False),
            (c1, day + "14:00:00+08", day + "15:30:00+08", day + "15:30:00+08", False, False, False),
            (c3, day + "15:01:00+08", day + "15:00:00+08", day + "15:01:00+08", False, False, True),
        ],
        key=lambda v: (v[0], min(v[1], v[2])),
    )
    assert [v[1:3] for v in visits(warehouse_url) if v[0] == c2 and (v[1] or v[2]).startswith(day)] == [
        (day + "10:00:00+08", day + "11:00:00+08"),
        (None, day + "12:00:00+08"),
    ]
    assert first_gate_records(warehouse_url) == first_recorded  # day 2 and the late file: no rebuild
    assert_gate_equals_full_rebuild(warehouse_url, work)

    first_recorded = first_gate_records(warehouse_url)
    load_swipes(warehouse_url, GATE_LATE, "late-again.csv")  # an export that repeats a whole file
    gate_build(work)
    gate_build(work)  # nothing new
    with psycopg.connect(warehouse_url) as conn:
        batches = conn.execute(
            "select count(*) from raw.load_log where target_table = 'gate_passages'"
        ).fetchone()[0]
    # the repeated export keeps no row of its own (the earlier copies win or tie): step 1 leaves
    # it unrecorded, or records it when its uuid sorts first; step 2 follows step 1
    records = dict(gate_records(warehouse_url))
    assert records["int_gate_passages_deduplicated"] in (batches - 1, batches)
    assert records["int_visits_paired_from_gate_events"] == records["int_gate_passages_deduplicated"]
    assert first_gate_records(warehouse_url) == first_recorded  # every build took in, none rebuilt
    assert_gate_equals_full_rebuild(warehouse_url, work)


def test_changed_gate_pairing_rules_and_retention_rebuild_the_visits(warehouse_url: str, work: Path) -> None:
    """The pairing rules are the visits' fingerprint; a retention run that de-identified swipes
    forgets the gate chain's records (and only those), so the next build is a full rebuild."""
    before = visits(warehouse_url)
    gate_build(work, max_visit=1)
    assert visits(warehouse_url) != before  # c1's 14:00 entry no longer pairs with the 15:30 exit
    assert_gate_equals_full_rebuild(warehouse_url, work, max_visit=1)

    with psycopg.connect(warehouse_url) as conn:
        others = conn.execute("select count(*) from intermediate.incremental_batches where chain <> 'gate'")
        other_records = others.fetchone()[0]
    config = RetentionConfig(
        default_days=100_000, tables={"gate_passages": TableRetention("gate_passages", 1, ("passed_at",))}
    )
    result = apply_retention(warehouse_url, datetime(2024, 3, 5, 12, tzinfo=UTC), config)
    assert {t.table: t.deidentified for t in result.tables}["gate_passages"] > 0  # day 1's swipes
    assert gate_records(warehouse_url) == []
    with psycopg.connect(warehouse_url) as conn:
        others = conn.execute("select count(*) from intermediate.incremental_batches where chain <> 'gate'")
        assert others.fetchone()[0] == other_records
    gate_build(work, max_visit=1)
    kept = visits(warehouse_url)
    assert kept and all(v[1] is None or v[1] >= "2024-03-05" for v in kept)
    with psycopg.connect(warehouse_url) as conn:
        for table in GATE_INCREMENTAL:
            stale = conn.execute(
                f"select count(*) from {table} as t where t.card_key is not null and not exists "
                "(select 1 from raw.gate_passages as r where r.card_key = t.card_key)"
            ).fetchone()[0]
            assert stale == 0, table
    assert_gate_equals_full_rebuild(warehouse_url, work, max_visit=1)
