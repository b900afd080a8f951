"""The real SUSHI client against the local R5.1 server, loads into PostgreSQL, idempotency,
re-harvest with corrected figures, recorded warnings, and the COUNTER marts."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import psycopg
import pytest
from urm_demo.sushi_server import SushiServer
from urm_demo.synth.counter import corrected, synthetic_counter_usage

from ingest.counter.exceptions import CounterReportError
from ingest.counter.sushi import (
    SushiClient,
    SushiCredentials,
    SushiError,
    SushiNoUsage,
    harvest,
)
from ingest.run import fetch_and_ingest, ingest_files
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration

CREDENTIALS = SushiCredentials("urm-demo", "urm-harvester", "urm-demo-key")
JAN, MAR = date(2025, 1, 1), date(2025, 3, 1)
USAGE = synthetic_counter_usage(JAN, MAR, platforms=["JSTOR", "CNKI"])


def expected(records, report: str, platform: str, metric: str, month: date) -> int:
    return sum(
        r.count
        for r in records
        if (r.report_id, r.platform, r.metric_type, r.month) == (report, platform, metric, month)
    )


def counter_total(conn: psycopg.Connection, report: str, platform: str, metric: str, month: date) -> int:
    row = conn.execute(
        "select coalesce(sum(count), 0) from raw.counter_usage where report_id = %s and "
        "platform = %s and metric_type = %s and month = %s",
        (report, platform, metric, month),
    ).fetchone()
    return int(row[0])


def load(url: str, server: SushiServer, landing: Path, platform: str = "JSTOR", end: date = MAR):
    os.environ.update(
        {
            "URM_TEST_SUSHI_CUSTOMER_ID": CREDENTIALS.customer_id,
            "URM_TEST_SUSHI_REQUESTOR_ID": str(CREDENTIALS.requestor_id),
            "URM_TEST_SUSHI_API_KEY": str(CREDENTIALS.api_key),
        }
    )
    options = {
        "platform": platform,
        "report": ["tr", "pr", "dr", "ir"],
        "begin": f"{JAN:%Y-%m}",
        "end": f"{end:%Y-%m}",
        "credentials_prefix": "URM_TEST_SUSHI_",
    }
    return fetch_and_ingest(
        url,
        "counter",
        "sushi",
        server.base_url,
        landing=landing,
        key=TEST_KEY,
        max_reject_share=0.0,
        options=options,
    )


def test_harvest_loads_every_report_and_twice_changes_nothing(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    with SushiServer(USAGE) as server:
        first = load(warehouse_url, server, tmp_path)
        assert [r.rows_loaded > 0 for r in first] == [True] * 4
        assert not any(r.warnings for r in first)
        snapshot = conn.execute("select count(*), sum(count) from raw.counter_usage").fetchone()
        second = load(warehouse_url, server, tmp_path)
    assert all(r.skipped for r in second)
    assert conn.execute("select count(*), sum(count) from raw.counter_usage").fetchone() == snapshot
    for report in ("TR", "PR", "DR", "IR"):
        assert counter_total(conn, report, "JSTOR", "Total_Item_Requests", MAR) == expected(
            USAGE, report, "JSTOR", "Total_Item_Requests", MAR
        )
    assert conn.execute("select distinct release, customer_id from raw.counter_usage").fetchall() == [
        ("5.1", "urm-demo")
    ]
    assert server.requests[0] == "/r51/status"


def test_reharvest_with_corrected_figures_replaces_the_month(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    with SushiServer(USAGE) as server:
        load(warehouse_url, server, tmp_path / "first")
        server.usage = corrected(USAGE, MAR, 2.0)
        results = load(warehouse_url, server, tmp_path / "second")
    assert all(r.replaced_rows > 0 for r in results)
    for month, factor in ((JAN, 1), (MAR, 2)):
        want = expected(USAGE, "TR", "JSTOR", "Total_Item_Requests", month)
        got = counter_total(conn, "TR", "JSTOR", "Total_Item_Requests", month)
        assert got == sum(
            int(r.count * factor)
            for r in USAGE
            if (r.report_id, r.platform, r.metric_type, r.month)
            == ("TR", "JSTOR", "Total_Item_Requests", month)
        ), (month, want, got)
    # another platform's harvest of the same months leaves these figures alone
    before = counter_total(conn, "TR", "JSTOR", "Total_Item_Requests", MAR)
    with SushiServer(USAGE) as server:
        load(warehouse_url, server, tmp_path / "cnki", platform="CNKI")
    assert counter_total(conn, "TR", "JSTOR", "Total_Item_Requests", MAR) == before
    assert counter_total(conn, "TR", "CNKI", "Total_Item_Requests", MAR) == expected(
        USAGE, "TR", "CNKI", "Total_Item_Requests", MAR
    )


def test_harvest_with_warnings_keeps_data_and_records_them(
    conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    # the server has processed January and February only: March comes back as 3031
    with SushiServer(USAGE, last_available_month=date(2025, 2, 1)) as server:
        results = load(warehouse_url, server, tmp_path)
    assert all("3031" in r.warnings[0] for r in results)
    newest = conn.execute("select max(month) from raw.counter_usage").fetchone()[0]
    assert newest == date(2025, 2, 1)
    recorded = conn.execute(
        "select distinct report_id, code, explanation like '%%partial data%%' "
        "from raw.counter_exceptions order by 1"
    ).fetchall()
    assert recorded == [("DR", 3031, True), ("IR", 3031, True), ("PR", 3031, True), ("TR", 3031, True)]
    batches = conn.execute(
        "select count(distinct batch_id) from raw.counter_exceptions "
        "where batch_id in (select batch_id from raw.load_log)"
    ).fetchone()
    assert batches[0] == 4


@pytest.mark.parametrize(
    ("credentials", "code", "words"),
    [
        (SushiCredentials("someone-else", "urm-harvester", "urm-demo-key"), 2010, "customer id"),
        (SushiCredentials("urm-demo", "stranger", "urm-demo-key"), 2000, "requestor id"),
        (SushiCredentials("urm-demo", "urm-harvester", "wrong"), 2020, "API key"),
    ],
)
def test_invalid_credentials_end_in_a_specific_error(
    tmp_path: Path, credentials: SushiCredentials, code: int, words: str
) -> None:
    with SushiServer(USAGE) as server, pytest.raises(SushiError) as caught:
        harvest(
            server.base_url,
            platform="JSTOR",
            reports=["tr"],
            begin=JAN,
            end=MAR,
            credentials=credentials,
            landing_dir=tmp_path,
        )
    assert caught.value.code == code and caught.value.invalid_credentials
    assert words in str(caught.value) and "wrong" not in str(caught.value)


def test_future_month_and_bad_dates(tmp_path: Path) -> None:
    with SushiServer(USAGE) as server:
        with pytest.raises(SushiNoUsage) as no_usage:
            harvest(
                server.base_url,
                platform="JSTOR",
                reports=["pr"],
                begin=date(2030, 1, 1),
                end=date(2030, 1, 1),
                credentials=CREDENTIALS,
                landing_dir=tmp_path,
            )
        client = SushiClient(server.base_url, CREDENTIALS)
        with pytest.raises(SushiError) as bad_dates:
            client.fetch("reports/pr", {"begin_date": "2025-13", "end_date": "2025-01"})
    assert no_usage.value.code == 3030 and "no data for the period" in str(no_usage.value)
    assert bad_dates.value.code == 3020 and bad_dates.value.http_status == 400


def test_busy_server_is_retried_with_backoff(tmp_path: Path) -> None:
    waits: list[float] = []
    with SushiServer(USAGE) as server:
        answer = server.answer
        calls = {"n": 0}

        def busy_twice(path, params):
            calls["n"] += 1
            if calls["n"] <= 2:
                return 503, {"Code": 1010, "Message": "Service Busy"}
            return answer(path, params)

        server.answer = busy_twice  # type: ignore[method-assign]
        client = SushiClient(server.base_url, CREDENTIALS, backoff_seconds=0.5, sleep=waits.append)
        reports = harvest(
            server.base_url,
            platform="JSTOR",
            reports=["pr"],
            begin=JAN,
            end=MAR,
            credentials=CREDENTIALS,
            landing_dir=tmp_path,
            client=client,
        )
    assert waits == [0.5, 1.0] and len(reports) == 1


def test_credentials_from_environment() -> None:
    env = {"URM_SUSHI_CUSTOMER_ID": "c1", "URM_SUSHI_API_KEY": "k"}
    creds = SushiCredentials.from_env(environ=env)
    assert (creds.customer_id, creds.requestor_id, creds.api_key) == ("c1", None, "k")
    assert "k" not in repr(creds).replace("api_key", "")
    with pytest.raises(SushiError, match="URM_SUSHI_CUSTOMER_ID"):
        SushiCredentials.from_env(environ={})


def test_sample_files_load_with_exceptions_and_failures_roll_back(
    conn: psycopg.Connection, warehouse_url: str, samples: Path
) -> None:
    edge = samples / "counter/celus_edge_cases"
    results = ingest_files(
        warehouse_url,
        "counter",
        "counter-json",
        [edge / "partial_data1.json", edge / "no_data_3062.json"],
        key=TEST_KEY,
        max_reject_share=0.0,
    )
    assert [r.rows_loaded for r in results] == [12, 0]
    codes = conn.execute(
        "select code from raw.counter_exceptions order by source_file, source_line"
    ).fetchall()
    assert codes == [(3062,), (3210,), (3040,)]
    with pytest.raises(CounterReportError, match="1030"):
        ingest_files(
            warehouse_url,
            "counter",
            "counter-json",
            [edge / "invalid-customer.json"],
            key=TEST_KEY,
            max_reject_share=0.0,
        )
    assert conn.execute("select count(*) from raw.load_log").fetchone()[0] == 2


def test_counter_marts(conn: psycopg.Connection, warehouse_url: str, tmp_path: Path, samples: Path) -> None:
    from urm.platform.dbt import run_dbt

    with SushiServer(USAGE) as server:
        load(warehouse_url, server, tmp_path)
    ingest_files(
        warehouse_url,
        "counter",
        "counter-tsv",
        [samples / "counter/r5.1/TR_sample_r51.tsv"],
        key=TEST_KEY,
        max_reject_share=0.0,
    )
    run_dbt("build", "--select", "+fct_counter_usage_monthly", "+eresource_reconciliation_monthly")
    got = conn.execute(
        "select count from marts.fct_counter_usage_monthly where report_id = 'PR' and "
        "platform = 'JSTOR' and metric_type = 'Total_Item_Requests' and month = %s",
        (MAR,),
    ).fetchone()
    assert got == (expected(USAGE, "PR", "JSTOR", "Total_Item_Requests", MAR),)
    # summing over the attributes neither loses nor doubles a use
    by_metric = "select metric_type, sum(count) from {} group by 1 order by 1"
    assert (
        conn.execute(by_metric.format("marts.fct_counter_usage_monthly")).fetchall()
        == conn.execute(by_metric.format("raw.counter_usage")).fetchall()
    )
    row = conn.execute(
        "select counter_total_item_requests from marts.eresource_reconciliation_monthly "
        "where platform = 'JSTOR' and month = %s",
        (MAR,),
    ).fetchone()
    assert row == (expected(USAGE, "PR", "JSTOR", "Total_Item_Requests", MAR),)
