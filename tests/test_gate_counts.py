"""People counters through the warehouse: the real gateCounts and EPL samples are loaded with the
gate formats, dbt builds fct_gate_counts_daily, and its days are compared with figures computed
here (tests/gate_reference.py) and with the figures the origin projects assert."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from ingest.gate.textfile import parse_day
from ingest.run import ingest_files
from tests.conftest import TEST_KEY, empty_landing
from tests.gate_reference import daily_visitors
from urm.platform.dbt import run_dbt

pytestmark = pytest.mark.integration


def _readings(path: Path) -> dict[date, int | None]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    readings = {}
    for day_text, value in rows:
        try:
            readings[parse_day(day_text)] = int(float(value))
        except ValueError:
            readings[parse_day(day_text)] = None
    return readings


def _origin_output(path: Path) -> dict[date, int | None]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {parse_day(r["dates"]): None if r["visitorCount"] == "NA" else int(r["visitorCount"])
                for r in csv.DictReader(handle)}  # fmt: skip


@pytest.fixture(scope="module")
def counts(warehouse_url: str, samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("gate_counts")
    shared = samples / "gate" / "gateCounts" / "sampleGateCount.csv"
    peer = samples / "peer" / "gate"
    # the same readings, as a counter that counts each visitor in and out (other bytes: LF ends)
    bidirectional = work / "sample-bidirectional.csv"
    bidirectional.write_bytes(shared.read_bytes().replace(b"\r\n", b"\n"))
    loads = [
        ("counter-cumulative-csv", [shared], {"counter_max": 999999}),
        ("counter-cumulative-csv", [bidirectional], {"counter_max": 999999, "bidirectional": True}),
        ("counter-cumulative-csv", [peer / "gateCounts/gatecounts_test1_input.csv"], {"counter": "t1"}),
        ("counter-cumulative-csv", [peer / "gateCounts/gatecounts_test2_input.csv"],
         {"counter": "t2", "counter_max": 200000}),
        ("counter-interval-csv", sorted((peer / "epl").glob("*.csv")), {}),
    ]  # fmt: skip
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        empty_landing(conn)
    for format_name, paths, options in loads:
        for result in ingest_files(
            warehouse_url, "gate", format_name, paths, key=TEST_KEY, max_reject_share=0.0, options=options
        ):
            assert result.rows_quarantined == 0, result
    result = run_dbt(
        "build",
        "--select",
        "+fct_gate_counts_daily",
        "gate_sites",
        "--indirect-selection",
        "cautious",
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    )
    assert "Completed successfully" in result.stdout
    with psycopg.connect(warehouse_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select * from marts.fct_gate_counts_daily").fetchall()
    by_counter: dict[str, dict[date, dict]] = {}
    for row in rows:
        by_counter.setdefault(row["counter_id"], {})[row["count_date"]] = row
    yield {"rows": by_counter, "samples": samples}


def _visitors(days: dict[date, dict]) -> dict[date, Decimal | None]:
    return {day: row["visitors"] for day, row in days.items()}


def _close(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for day in a:
        if a[day] is None or b[day] is None:
            assert a[day] is b[day] is None, day
        else:
            assert abs(Decimal(a[day]) - Decimal(b[day])) < Decimal("0.0001"), (day, a[day], b[day])


def test_gatecounts_test1_total_and_days(counts: dict) -> None:
    """gateCounts' test-gateCountsCalculation.R: 1,841,995 visitors in all, 3 on day 5."""
    days = counts["rows"]["t1"]
    peer = counts["samples"] / "peer" / "gate" / "gateCounts"
    assert sum(row["visitors"] for row in days.values()) == 1841995
    assert days[date(2022, 1, 5)]["visitors"] == 3
    expected = daily_visitors(_readings(peer / "gatecounts_test1_input.csv"), counter_max=999999)
    _close(_visitors(days), expected)
    # where the day before had a reading, the origin's own per-day output is the same figure
    origin = _origin_output(peer / "gatecounts_test1_daily_output.csv")
    readings = _readings(peer / "gatecounts_test1_input.csv")
    same = [
        d for d, v in origin.items() if v is not None and readings.get(date.fromordinal(d.toordinal() - 1))
    ]
    assert len(same) > 300
    for day in same:
        assert days[day]["visitors"] == origin[day], day
    assert [d for d, r in days.items() if r["rollover"]] == [date(2022, 7, 3)]
    # gaps (NA, Gate broken) are shared with the next day and flagged estimated
    assert days[date(2022, 1, 21)]["estimated"] and days[date(2022, 1, 22)]["estimated"]


def test_shared_sample_rollover_closed_reading_and_gaps(counts: dict) -> None:
    days = counts["rows"]["sampleGateCount"]
    readings = _readings(counts["samples"] / "gate" / "gateCounts" / "sampleGateCount.csv")
    closed = {date(2021, 9, 12)}  # its reading says "Gate Closed"
    _close(_visitors(days), daily_visitors(readings, counter_max=999999, closed=closed))
    assert sum(row["visitors"] for row in days.values()) == 1842535  # the origin's total, computed by us
    assert days[date(2022, 3, 2)]["visitors"] == 198426 and days[date(2022, 3, 2)]["spike"]
    assert days[date(2022, 3, 3)]["visitors"] == 9776 and days[date(2022, 3, 3)]["rollover"]
    gate_closed = days[date(2021, 9, 12)]
    assert (gate_closed["closed"], gate_closed["visitors"], gate_closed["estimated"]) == (True, 0, False)
    # 11 Sep 9925 -> 14 Sep 9951: 26 visitors shared by the 13th (NA) and the 14th, none on the 12th
    assert days[date(2021, 9, 13)]["visitors"] + days[date(2021, 9, 14)]["visitors"] == 26
    assert days[date(2021, 9, 13)]["estimated"] and days[date(2021, 9, 13)]["span_days"] == 3
    assert min(days) == date(2021, 9, 2)  # the first reading is the baseline


def test_bidirectional_counter_is_halved_after_summing(counts: dict) -> None:
    halved = counts["rows"]["sample-bidirectional"]
    whole = counts["rows"]["sampleGateCount"]
    assert sum(r["visitors"] for r in halved.values()) == Decimal(1842535) / 2
    for day, row in whole.items():
        assert abs(halved[day]["visitors"] * 2 - row["visitors"]) <= Decimal("0.0002"), day  # 4 decimals
    assert halved[date(2021, 9, 3)]["visitors"] == Decimal("3.5")  # 7 passages: not rounded per day


def test_gatecounts_test2_misreadings_are_left_out(counts: dict) -> None:
    days = counts["rows"]["t2"]
    peer = counts["samples"] / "peer" / "gate" / "gateCounts"
    readings = _readings(peer / "gatecounts_test2_input.csv")
    assert sum(r["visitors"] for r in days.values()) == 300618  # as gateCounts (cumulative, computed by us)
    _close(_visitors(days), daily_visitors(readings, counter_max=200000))
    # 06-02 106, 07-02 96 (lowered by 10), 08-02 back above: 96 is a misreading, not a reset
    assert not any(r["reset"] for r in days.values())
    assert days[date(2022, 2, 7)]["estimated"] and days[date(2022, 2, 8)]["estimated"]
    assert days[date(2022, 7, 3)]["rollover"] and days[date(2022, 7, 3)]["visitors"] == 81


def test_epl_failed_poll_is_the_weekday_average(counts: dict) -> None:
    """EPL gatecountaudit.pl: (1536 + 1349 + 1658 + 1390) / 4 = 1483.25 for Thursday 2014-04-24."""
    days = counts["rows"]["WMC"]
    failed = days[date(2014, 4, 24)]
    assert failed["visitors"] == Decimal("1483.25") and failed["estimated"] and failed["span_days"] == 0
    assert days[date(2014, 4, 23)]["visitors"] == 1441 and not days[date(2014, 4, 23)]["estimated"]
    assert len(days) == 29


def test_epl_missing_day_shares_the_next_poll(counts: dict) -> None:
    """EPL Readme 2b: no row for 2016-09-04; the 09-05 total (325) covers two days."""
    days = counts["rows"]["MCN"]
    assert sorted(days) == [date(2016, 9, d) for d in (2, 3, 4, 5, 6)]
    assert days[date(2016, 9, 4)]["visitors"] == days[date(2016, 9, 5)]["visitors"] == Decimal("162.5")
    assert days[date(2016, 9, 4)]["estimated"] and days[date(2016, 9, 5)]["span_days"] == 2
    assert days[date(2016, 9, 6)]["visitors"] == 159


def test_counter_figures_carry_no_identifier(counts: dict) -> None:
    sample = next(iter(next(iter(counts["rows"].values())).values()))
    assert set(sample) == {
        "count_key", "counter_id", "site_code", "counter_kind", "count_date", "visitors", "closed_visitors",
        "weekday_average", "span_days", "estimated", "closed", "spike", "rollover", "reset",
    }  # fmt: skip
    assert json.dumps(sorted(counts["rows"]))  # counters only


def test_gate_models_are_documented() -> None:
    """Every gate model is described, every column too, and every mart column is typed."""
    import yaml

    from urm.platform.settings import DBT_PROJECT_DIR

    root = DBT_PROJECT_DIR / "models"
    for folder in ("staging/gate", "intermediate/gate", "marts/gate"):
        sql_models = {p.stem for p in (root / folder).glob("*.sql")}
        documented = {
            model["name"]: model
            for yml in (root / folder).glob("_*__models.yml")
            for model in yaml.safe_load(yml.read_text())["models"]
        }
        assert sql_models == set(documented), folder
        for name, model in documented.items():
            assert model.get("description"), name
            for column in model.get("columns", []):
                assert column.get("description"), f"{name}.{column['name']}"
                if folder.startswith("marts"):
                    assert column.get("data_type"), f"{name}.{column['name']}"
