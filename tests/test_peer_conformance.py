"""Conformance with peer projects (../shared/samples/peer, see its README.md): every input there
loads with the figures its origin project asserts, or is refused with a clear, specific message.

COUNTER: pycounter, celus and celus-nigiri count one record per item x attributes x metric x
month, zeros included, as raw.counter_usage does. EZproxy: ezPAARSE's expected parses give, for
each line it accepted, the fields our parser must agree on (instant, login, client, URL, status,
size). The Evergreen fixture is covered by tests/test_evergreen.py; gate files by the gates work.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from ingest.counter import json_report, tsv
from ingest.counter.exceptions import CounterNoUsage, CounterReportError
from ingest.counter.tables import COLUMN_NAMES
from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT
from ingest.ezproxy.parser import client_network, parse_ezproxy_log
from ingest.ezproxy.tables import EZPROXY_REQUESTS
from ingest.model import ParseContext, Rejected
from ingest.pseudonym import Pseudonymiser
from ingest.run import ingest_files
from tests.conftest import TEST_KEY
from tests.helpers import context, split

PEER = "peer"
pseudonym = Pseudonymiser(TEST_KEY).pseudonym


def records(path: Path) -> list[dict[str, Any]]:
    """Every record of a COUNTER report, as counter_usage rows (nothing may be quarantined)."""
    parse = tsv.parse if path.suffix in (".tsv", ".csv") else json_report.parse
    good, bad = split(parse(path, context()))
    assert bad == [], bad[:3]
    return [dict(zip(COLUMN_NAMES, values, strict=True)) for _, values in good]


def months(rows: list[dict[str, Any]]) -> list[date]:
    return sorted({r["month"] for r in rows})


# ---------------------------------------------------------------- COUNTER: pycounter


def test_pycounter_sushi_reports(samples: Path) -> None:
    folder = samples / PEER / "counter" / "pycounter"
    simple = records(folder / "sushi_simple.json")
    first = simple[0]
    assert (first["report_id"], first["release"], first["customer_id"]) == ("TR_J1", "5", "exampleLibrary")
    assert (first["metric_type"], first["month"], first["count"]) == (
        "Total_Item_Requests",
        date(2019, 1, 1),
        14,
    )
    assert first["doi"] == "some.fake.doi"
    assert records(folder / "sushi_book.json")[0]["count"] == 22
    with pytest.raises(CounterReportError) as refused:
        records(folder / "not_authorized.json")
    assert [e.code for e in refused.value.exceptions] == [2000]
    assert "Requestor Not Authorized to Access Service" in str(refused.value)


def test_pycounter_tabular_reports(samples: Path) -> None:
    folder = samples / PEER / "counter" / "pycounter"
    tr_j1 = records(folder / "tr_j1.tsv")
    assert {(r["report_id"], r["release"]) for r in tr_j1} == {("TR_J1", "5")}
    assert len({(r["item_name"], r["metric_type"]) for r in tr_j1}) == 4  # 2 journals x 2 metrics
    assert {r["institution_name"] for r in tr_j1} == {"Sample University"}
    assert {(r["period_begin"], r["period_end"]) for r in tr_j1} == {(date(2017, 1, 1), date(2017, 6, 30))}
    # tr_j2 quotes cells that hold a tab: read as one cell each
    first = records(folder / "tr_j2.tsv")[0]
    assert (first["month"], first["metric_type"], first["count"]) == (date(2017, 1, 1), "Limit_Exceeded", 3)


# ---------------------------------------------------------------- COUNTER: celus-nigiri


@pytest.mark.parametrize(
    ("name", "count", "first", "last", "span"),
    [
        ("COUNTER_R5_Report_Examples_PR.csv", 42, 10, None, (date(2017, 1, 1), date(2017, 6, 1))),
        ("COUNTER_R5_Report_Examples_TR.csv", 24, 100, None, (date(2017, 1, 1), date(2017, 6, 1))),
        ("COUNTER_R5_Report_Examples_DR.csv", 30, 1, None, (date(2017, 1, 1), date(2017, 6, 1))),
        ("counter5_table_dr.csv", 121, 42, 1, None),
        ("counter5_table_dr.tsv", 121, 42, 1, None),
        ("TR-tabs.tsv", None, None, None, None),
        ("IR_M1-commas.csv", None, None, None, None),
    ],
)
def test_nigiri_tabular_reports(
    samples: Path, name: str, count: int | None, first: int | None, last: int | None, span: tuple | None
) -> None:
    rows = records(samples / PEER / "counter" / "celus_nigiri" / "counter5" / name)
    assert rows
    if count is not None:
        assert len(rows) == count
    if first is not None:
        assert rows[0]["count"] == first
    if last is not None:
        assert rows[-1]["count"] == last
    if span is not None:
        assert (months(rows)[0], months(rows)[-1]) == span and len(months(rows)) == 6


def test_nigiri_json_reports(samples: Path) -> None:
    folder = samples / PEER / "counter" / "celus_nigiri" / "counter5"
    wrapped = records(folder / "extra_body_wrap.json")
    assert len(wrapped) == 30 and months(wrapped) == [date(2019, 11, 1)]
    per_title = Counter(r["item_name"] for r in wrapped)
    assert sorted(per_title.values()) == sorted([1, 5, 5, 2, 6, 5, 6])
    no_performance = records(folder / "no_performance.json")
    assert len(no_performance) == 4 and {r["yop"] for r in no_performance} == {2020}
    assert len(records(folder / "counter5_ir.json")) == 24
    assert records(folder / "bloomsbery-parent.IR_M1.json")
    for wrong in ("DR_wrong_date_all.json", "DR_wrong_date_some.json", "DR_wrong_date_none.json"):
        assert len(records(folder / wrong)) == 51, wrong  # no date filter: every record
    # nigiri's strict reader raises on DR items carrying title ids after 7 records; read leniently,
    # all 8 land, each named by its Database
    extra = records(folder / "dr-extra-ids.json")
    assert len(extra) == 8 and all(r["item_name"].startswith("Database") for r in extra)
    r51 = samples / PEER / "counter" / "celus_nigiri" / "counter51"
    for name in ("DR_sample_r51_wrong_months_all.json", "DR_sample_r51_wrong_months_some.json"):
        assert len(records(r51 / name)) == 1824, name


@pytest.mark.parametrize(
    ("name", "codes", "says"),
    [
        ("counter5/extra_body_wrap-exception.json", [3030], "No Usage Available"),
        ("counter5/extra_body_wrap-exception2.json", [1001], "1001"),
        ("counter51/naked_error_3000.json", [3000], "Report Not Supported"),
        ("counter51/naked_error_lowercase.json", [1001], "1001"),
        ("counter51/naked_errors.json", [1011, 3060], "Queued"),
        ("counter51/stringified_error.json", [2090], "2090"),
        ("counter5/data_simple.json", [], "expected Report_Header and Report_Items"),
        ("counter5/counter5_tr_test1.json", [], "no Report_ID"),
        ("counter5/reports.json", [], "not a COUNTER report"),
        ("counter51/reports_r51.json", [], "not a COUNTER report"),
        ("counter5/counter5_table_mismatched_rt.csv", [], "mislabelled"),
    ],
)
def test_nigiri_exceptions_and_non_reports_are_refused_clearly(
    samples: Path, name: str, codes: list[int], says: str
) -> None:
    with pytest.raises(CounterReportError) as refused:
        records(samples / PEER / "counter" / "celus_nigiri" / name)
    message = str(refused.value)
    assert name.split("/")[-1] in message and says in message and "\n" not in message
    assert [e.code for e in refused.value.exceptions] == codes
    if 3030 in codes:
        assert isinstance(refused.value, CounterNoUsage)


# ---------------------------------------------------------------- COUNTER: celus


def test_celus_reports(samples: Path) -> None:
    folder = samples / PEER / "counter" / "celus"
    assert len(records(folder / "counter5_table_pr.csv")) == 252  # 21 rows x 12 months
    assert len({r["metric_type"] for r in records(folder / "C5_PR_test.json")}) == 7
    proquest = records(folder / "5_TR_ProQuestEbookCentral.json")
    assert {(r["institution_name"], r["created_by"]) for r in proquest} == {
        ("Hidden", "ProQuest Ebook Central")
    }
    for name, code in (
        ("partial_data2.json", 3210),
        ("partial_data3.json", 3040),
        ("some_data_3062.json", 3062),
    ):
        header, _ = json_report.read_report(folder / name, context())
        assert code in [e.code for e in header.exceptions], name  # kept with the data, as warnings
        assert records(folder / name), name
    nature = records(folder / "counter5_tr_nature.json")
    assert {r["item_name"] for r in nature} >= {"Nature"}  # merging titles is the marts' business


@pytest.mark.integration
def test_a_csv_counter_report_loads_with_its_figures(
    conn: psycopg.Connection, warehouse_url: str, samples: Path
) -> None:
    path = samples / PEER / "counter" / "celus" / "counter5_table_pr.csv"
    [result] = ingest_files(warehouse_url, "counter", "counter-csv", [path], key=TEST_KEY, max_reject_share=0)
    assert (result.rows_loaded, result.rows_quarantined) == (252, 0)
    total = conn.execute("select sum(count) from raw.counter_usage").fetchone()[0]
    with open(path, newline="", encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    header = table[13]
    assert total == sum(int(row[header.index("Reporting_Period_Total")]) for row in table[14:] if row)


# ---------------------------------------------------------------- EZproxy: ezPAARSE


def ez_rows(path: Path, log_format: str = DEFAULT_LOG_FORMAT) -> list[tuple[int, dict[str, Any]]]:
    ctx = ParseContext(pseudonymiser=Pseudonymiser(TEST_KEY), options={"log_format": log_format})
    items = list(parse_ezproxy_log(path, ctx))
    assert not [i for i in items if isinstance(i, Rejected)], path
    return [(line, dict(zip(EZPROXY_REQUESTS.column_names, values, strict=True))) for line, values in items]


def agrees(row: dict[str, Any], peer: dict[str, Any], *, host_is_clear: bool = True) -> bool:
    url = urlsplit(peer["url"])
    return (
        row["requested_at"] == datetime.fromisoformat(peer["datetime"])
        and row["login_key"] == pseudonym("login", peer.get("login"))
        and (not host_is_clear or row["client_network"] == client_network(peer["host"]))
        and row["site_host"] == url.hostname
        and row["url_path"] == url.path
        and row["http_status"] == int(peer["status"])
        and row["response_bytes"] == (int(peer["size"]) if peer.get("size") not in (None, "") else None)
    )


def test_every_consultation_ezpaarse_accepted_on_the_sciencedirect_day_is_parsed_alike(samples: Path) -> None:
    rows = [r for _, r in ez_rows(samples / "ezproxy" / "ezpaarse" / "sd.2012-11-30.300.log")]
    expected = json.loads(
        (samples / PEER / "ezproxy" / "ezpaarse" / "sd.2012-11-30.300.result.json").read_text()
    )
    assert len(expected) == 22
    for peer in expected:
        assert any(agrees(row, peer) for row in rows), peer


def test_the_gzip_log_gives_ezpaarses_one_consultation(samples: Path) -> None:
    folder = samples / PEER / "ezproxy" / "ezpaarse"
    rows = ez_rows(folder / "sd.2013-01-15.log.gz")
    assert len(rows) == 23
    assert Counter(r["http_status"] for _, r in rows) == {200: 8, 301: 2, 302: 3, 906: 10}
    with open(folder / "sd.2013-01-15.result.csv", newline="") as handle:
        [peer] = list(csv.DictReader(handle, delimiter=";"))
    assert peer["login"] not in ("", None)  # the peer published it hashed: compare the rest
    matches = [
        r
        for _, r in rows
        if agrees(r, {**peer, "login": None}, host_is_clear=False)
        or (
            r["requested_at"] == datetime.fromisoformat(peer["datetime"])
            and r["url_path"] == urlsplit(peer["url"]).path
        )
    ]
    assert len(matches) == 1 and (matches[0]["http_status"], matches[0]["response_bytes"]) == (200, 200927)


def test_the_apache_reverse_proxy_log_gives_ezpaarses_parse(samples: Path) -> None:
    folder = samples / PEER / "ezproxy" / "ezpaarse" / "multiformat"
    [(_, row)] = ez_rows(folder / "test.apache.log", '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"')
    [peer] = json.loads((folder / "test.apache.result.json").read_text())
    assert agrees(row, peer, host_is_clear=False)  # the peer published the host as an md5


@pytest.mark.parametrize(
    ("name", "log_format", "lines"),
    [
        ("customformat.log", '%u %{col1}i %t "%r" %{col2}i', 1),
        ("duplicate-ecs.log", DEFAULT_LOG_FORMAT, 2),
        ("unordered-ecs.log", DEFAULT_LOG_FORMAT, 2),
        ("filtered-ecs.log", DEFAULT_LOG_FORMAT, 2),
        ("robot-ec.log", DEFAULT_LOG_FORMAT, 1),
        ("ignored-domain.log", DEFAULT_LOG_FORMAT, 1),
        ("unknown-domain.log", DEFAULT_LOG_FORMAT, 1),
        ("unqualified-ec.log", DEFAULT_LOG_FORMAT, 1),
        ("multi-platforms.log", DEFAULT_LOG_FORMAT, 3),
        ("sd.duplicates-manyclick.log", '%h %u %{session}i %t "%r" %s', 7),
        ("sd.duplicates-manyclick2.log", '%h %u %{session}i %t "%r" %s', 2),
    ],
)
def test_every_well_formed_peer_line_loads_with_its_fields(
    samples: Path, name: str, log_format: str, lines: int
) -> None:
    """ezPAARSE then filters consultations (robots, double clicks, statuses, platforms); this
    platform keeps every request and classifies it in the marts, so every line lands, each with
    the fields written on it."""
    folder = samples / PEER / "ezproxy" / "ezpaarse"
    rows = ez_rows(folder / name, log_format)
    assert len(rows) == lines
    result = folder / name.replace(".log", ".result.json")
    if result.exists():  # the consultation ezPAARSE kept after removing double clicks
        for peer in json.loads(result.read_text()):
            stamp = datetime.fromisoformat(peer["datetime"]) if "datetime" in peer else None
            assert stamp is None or any(r["requested_at"] == stamp for _, r in rows), peer
    if name == "customformat.log":
        [(_, row)] = rows
        assert row["login_key"] == pseudonym("login", "chucknorris") and row["client_network"] is None
        assert (row["site_host"], row["url_path"]) == (
            "www.sciencedirect.com",
            "/science/article/pii/S0967064508000301",
        )
    if name == "filtered-ecs.log":
        assert [r["http_status"] for _, r in rows] == [200, 301]  # kept; the marts class a 301
