"""COUNTER R5 / R5.1 readers against the official samples, the odd responses seen in the wild
(celus_edge_cases) and generated reports."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.counter import json_report, tsv
from ingest.counter.exceptions import CounterNoUsage, CounterReportError
from ingest.counter.tables import COLUMN_NAMES
from tests.helpers import context, split, write

METRIC = COLUMN_NAMES.index("metric_type")
COUNT = COLUMN_NAMES.index("count")
MONTH = COLUMN_NAMES.index("month")


def totals(rows: list[tuple[int, tuple]]) -> Counter:
    found: Counter = Counter()
    for _, values in rows:
        found[values[METRIC]] += values[COUNT]
    return found


def sample_pairs(samples: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for folder in ("r5.0.3", "r5.1"):
        for json_path in sorted((samples / "counter" / folder).glob("*.json")):
            pairs.append((json_path, json_path.with_suffix(".tsv")))
    return pairs


def test_every_official_sample_loads_and_json_agrees_with_tsv(samples: Path) -> None:
    pairs = sample_pairs(samples)
    assert len(pairs) == 32
    for json_path, tsv_path in pairs:
        json_rows, json_bad = split(json_report.parse(json_path, context()))
        tsv_rows, tsv_bad = split(tsv.parse(tsv_path, context()))
        assert not json_bad and not tsv_bad, (json_path, json_bad[:2], tsv_bad[:2])
        assert json_rows, json_path
        assert totals(json_rows) == totals(tsv_rows), json_path
        release = "5.1" if "r5.1" in str(json_path) else "5"
        assert {v[COLUMN_NAMES.index("release")] for _, v in json_rows} == {release}


def test_r51_item_report_nests_items_under_parent(samples: Path) -> None:
    rows, _ = split(json_report.parse(samples / "counter/r5.1/IR_sample_r51.json", context()))
    first = dict(zip(COLUMN_NAMES, rows[0][1], strict=True))
    assert first["item_kind"] == "item"
    assert first["item_name"] == "Item 3" and first["parent_title"] == "Title 1"
    assert first["doi"] == "10.9999/xxxxi03" and first["platform"] == "Platform 1"


def test_tsv_line_numbers_are_the_file_lines(samples: Path) -> None:
    path = samples / "counter/r5.0.3/Sample-TR.tsv"
    rows, _ = split(tsv.parse(path, context()))
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for line_no, values in rows[:20]:
        assert lines[line_no - 1].split("\t")[0] == values[COLUMN_NAMES.index("item_name")]
    assert rows[0][0] == 15  # 12 header rows, a blank row, the column row


# file -> (error class, words the message must hold) for the responses that hold no report
FAILURES = {
    "5_DR_ProQuestEbookCentral_exception.json": (CounterReportError, "1001"),
    "5_TR_ProQuestEbookCentral_exception.json": (CounterNoUsage, "no data for the period"),
    "data_incorrect.json": (CounterReportError, "not a COUNTER report"),
    "error-in-root.json": (CounterReportError, "2090"),
    "invalid-customer.json": (CounterReportError, "Invalid Customer Id"),
    "naked_error.json": (CounterReportError, "harvest again later"),
    "naked_error_3000.json": (CounterReportError, "does not offer this report"),
    "naked_error_lowercase.json": (CounterReportError, "1001"),
    "naked_errors.json": (CounterReportError, "3060"),
    "no_json.txt": (CounterReportError, "not JSON"),
    "severity-missing.json": (CounterReportError, "3010"),
    "severity-number.json": (CounterReportError, "3010"),
    "severity-wrong.json": (CounterReportError, "1011"),
    "stringified_error.json": (CounterReportError, "2090"),
}
# file -> (usage rows, exception codes kept as warnings)
LOADS = {
    "5_TR_with_warning.json": (8, [3032]),
    "code-zero.json": (0, [0]),
    "counter5_tr_test1.json": (16, []),
    "no_data.json": (0, []),
    "no_data_3050.json": (0, [3050]),
    "no_data_3062.json": (0, [3062]),
    "null-in-Item_ID.json": (2, []),
    "partial_data1.json": (12, [3210, 3040]),
    "some_data_3050.json": (8, [3050, 0]),
}


def test_every_edge_case_is_covered(samples: Path) -> None:
    names = {p.name for p in (samples / "counter/celus_edge_cases").iterdir()} - {"LICENSE"}
    assert names == set(FAILURES) | set(LOADS)


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_odd_response_ends_in_a_specific_message(samples: Path, name: str) -> None:
    error_class, words = FAILURES[name]
    path = samples / "counter/celus_edge_cases" / name
    with pytest.raises(error_class) as caught:
        list(json_report.parse(path, context()))
    assert words in str(caught.value)
    assert name in str(caught.value)


@pytest.mark.parametrize("name", sorted(LOADS))
def test_odd_report_loads_with_its_warnings(samples: Path, name: str) -> None:
    expected_rows, expected_codes = LOADS[name]
    path = samples / "counter/celus_edge_cases" / name
    header, _ = json_report.read_report(path, context())
    rows, bad = split(json_report.parse(path, context()))
    assert (len(rows), bad) == (expected_rows, [])
    assert [e.code for e in header.exceptions] == expected_codes


def test_credentials_echoed_by_a_provider_are_redacted(samples: Path) -> None:
    with pytest.raises(CounterReportError) as caught:
        list(json_report.parse(samples / "counter/celus_edge_cases/stringified_error.json", context()))
    assert "99999999-8888" not in str(caught.value) and "requestor_id=***" in str(caught.value)


def test_odd_created_and_lower_case_filters_are_read(samples: Path) -> None:
    header, _ = json_report.read_report(samples / "counter/celus_edge_cases/no_data_3050.json", context())
    assert header.report_id == "TR" and header.period_begin == date(2019, 4, 1)


def test_bad_cells_are_rejected_with_field_and_reason(tmp_path: Path) -> None:
    report = {
        "Report_Header": {
            "Report_ID": "TR",
            "Release": "5.1",
            "Created": "2023-02-15T09:11:12Z",
            "Report_Filters": {"Begin_Date": "2022-01-01", "End_Date": "2022-02-28"},
        },
        "Report_Items": [
            {
                "Title": "T",
                "Platform": "P",
                "Attribute_Performance": [
                    {"YOP": "20x2", "Performance": {"Total_Item_Requests": {"2022-01": 1}}},
                    {
                        "YOP": "2020",
                        "Performance": {"Total_Item_Requests": {"2022-01": -3, "2022-13": 2, "2022-02": 4}},
                    },
                ],
            }
        ],
    }
    path = write(tmp_path / "r.json", json.dumps(report))
    rows, bad = split(json_report.parse(path, context()))
    assert [values[COUNT] for _, values in rows] == [4]
    assert sorted((r.field, r.reason.split(",")[0]) for r in bad) == [
        ("Total_Item_Requests", "expected a count of zero or more"),
        ("Total_Item_Requests", "expected a real date"),
        ("YOP", "expected a year of publication like 2012 (0001 unknown)"),
    ]


MONTHS = [date(2024, m, 1) for m in range(1, 13)]


def _tsv_text(counts: dict[str, list[int]]) -> str:
    header = [
        "Report_Name\tTitle Report",
        "Report_ID\tTR",
        "Release\t5.1",
        "Institution_Name\tU",
        "Institution_ID\tISNI:1",
        "Metric_Types",
        "Report_Filters",
        "Report_Attributes",
        "Exceptions",
        "Reporting_Period\tBegin_Date=2024-01-01; End_Date=2024-12-31",
        "Created\t2025-01-01T00:00:00Z",
        "Created_By\tX",
        "Registry_Record\t",
    ]
    columns = ["Title", "Platform", "Metric_Type", "Reporting_Period_Total", *(f"{m:%b-%Y}" for m in MONTHS)]
    lines = [*(h + "\t\t\t" for h in header), "\t" * 5, "\t".join(columns)]
    for metric, values in counts.items():
        lines.append("\t".join(["T", "P", metric, str(sum(values)), *map(str, values)]) + "\t\t")
    return "\ufeff" + "\r\n".join(lines) + "\r\n"


def _json_text(counts: dict[str, list[int]]) -> str:
    performance = {
        metric: {f"{m:%Y-%m}": v for m, v in zip(MONTHS, values, strict=True) if v}
        for metric, values in counts.items()
    }
    return json.dumps(
        {
            "Report_Header": {
                "Report_ID": "TR",
                "Release": "5.1",
                "Institution_ID": {"ISNI": ["1"]},
                "Report_Filters": {"Begin_Date": "2024-01-01", "End_Date": "2024-12-31"},
            },
            "Report_Items": [
                {"Title": "T", "Platform": "P", "Attribute_Performance": [{"Performance": performance}]}
            ],
        }
    )


@settings(max_examples=40, deadline=None)
@given(
    counts=st.dictionaries(
        st.sampled_from(["Total_Item_Requests", "Unique_Item_Requests", "Searches_Platform"]),
        st.lists(st.integers(min_value=0, max_value=10**9), min_size=12, max_size=12),
        min_size=1,
    )
)
def test_generated_json_and_tsv_give_the_same_monthly_figures(counts, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("gen")
    tsv_rows, tsv_bad = split(tsv.parse(write(folder / "r.tsv", _tsv_text(counts)), context()))
    json_rows, json_bad = split(json_report.parse(write(folder / "r.json", _json_text(counts)), context()))
    assert not tsv_bad and not json_bad

    def figures(rows):
        return {(v[METRIC], v[MONTH], v[COUNT]) for _, v in rows if v[COUNT]}

    assert figures(tsv_rows) == figures(json_rows)
    assert len(tsv_rows) == 12 * len(counts)
    customer = COLUMN_NAMES.index("customer_id")
    assert {v[customer] for _, v in tsv_rows + json_rows} == {"ISNI:1"}


def test_tsv_total_that_disagrees_with_months_is_rejected(tmp_path: Path) -> None:
    text = _tsv_text({"Total_Item_Requests": [1] * 12}).replace("\t12\t1\t", "\t13\t1\t")
    rows, bad = split(tsv.parse(write(tmp_path / "r.tsv", text), context()))
    assert rows == [] and [(b.line, b.field) for b in bad] == [(16, "Reporting_Period_Total")]
