"""The reports, drawn from small hand-made marts: every chart of the insights report and of a
college's report is checked in headless Chromium (it drew, or says "no data yet" because its mart
is not built), small groups never appear, and the college report also comes as a PDF."""

from __future__ import annotations

import random
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from urm.reports.build import chromium, chromium_args, write_report

pytestmark = pytest.mark.integration

SCHEMA = "report_test_marts"
GROUPS = ("freshman", "lower_undergraduate", "upper_undergraduate", "graduating", "postgraduate", "faculty")


@pytest.fixture(scope="module")
def marts(warehouse_url: str) -> str:
    """300 people in three colleges, 3 staff in the college ART (too few to be shown),
    their loans and e-resource sessions; no lifecycle or gate mart (those charts say so)."""
    rng = random.Random(5)
    people = []
    for n in range(300):
        college = ("SCI", "LAW", "ART")[n % 3]
        group = GROUPS[(n // 3) % len(GROUPS)]
        people.append((f"u{n}", group, college, {"SCI": "Science", "LAW": "Law", "ART": "Arts"}[college]))
    people += [(f"s{n}", "staff", "ART", "Arts") for n in range(3)]  # 3 staff: never shown
    start = datetime(2025, 9, 1, 8, tzinfo=UTC)
    loans, sessions = [], []
    for key, _, _, _ in people:
        for i in range(rng.randint(0, 6)):
            at = start + timedelta(days=rng.randint(0, 90), hours=rng.randint(0, 10))
            loans.append((f"{key}-{i}", key, rng.choice("BDIKO"), at, at.date()))
        for i in range(rng.randint(0, 3)):
            at = start + timedelta(days=rng.randint(0, 90))
            sessions.append((f"{key}-s{i}", key, rng.choice(["CNKI", "JSTOR", "Wiley"]), at))
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.execute(f"create schema {SCHEMA}")
        conn.execute(
            f"create table {SCHEMA}.dim_user (user_key text, user_group text, college_code text, "
            "college_name text)"
        )
        conn.execute(
            f"""create table {SCHEMA}.fct_loans (loan_key text, user_key text, subject_class text,
            loaned_at timestamptz, loan_date date)"""
        )
        conn.execute(
            f"""create table {SCHEMA}.fct_eresource_sessions (session_id text, user_key text, platform text,
            started_at timestamptz)"""
        )
        with conn.cursor() as cur:
            cur.executemany(f"insert into {SCHEMA}.dim_user values (%s, %s, %s, %s)", people)
            cur.executemany(f"insert into {SCHEMA}.fct_loans values (%s, %s, %s, %s, %s)", loans)
            cur.executemany(f"insert into {SCHEMA}.fct_eresource_sessions values (%s, %s, %s, %s)", sessions)
    return SCHEMA


def _browser() -> str:
    browser = chromium()
    if browser is None:
        pytest.skip(
            "Chromium is not installed (/usr/bin/chromium): `make chromium` or apt-get install chromium"
        )
    return browser


def _drawn(html: Path) -> dict[str, int]:
    """Open the page in headless Chromium and read the tally its check script writes on <html>."""
    result = subprocess.run(
        [*chromium_args(_browser()), "--virtual-time-budget=5000", "--dump-dom", html.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    tag = re.search(r"<html[^>]*>", result.stdout)
    assert tag, result.stdout[:500]
    return {m[0]: int(m[1]) for m in re.findall(r'data-(charts(?:-drawn|-nodata)?)="(\d+)"', tag.group(0))}


def test_the_insights_report_draws_every_chart(marts: str, warehouse_url: str, tmp_path: Path) -> None:
    [html] = write_report(tmp_path, url=warehouse_url, schema=marts)
    page = html.read_text()
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no CDN, no link
    assert "https://" not in page
    for key in ("segments", "penetration", "loan_hours", "subjects", "eresources"):
        assert f'data-chart="{key}"' in page and f'class="chart nodata" data-chart="{key}"' not in page
    for key in ("lifecycle_funnel", "lifecycle_flows", "occupancy"):
        assert f'class="chart nodata" data-chart="{key}"' in page  # their marts are not built here
    tally = _drawn(html)
    assert tally == {"charts": 5, "charts-drawn": 5, "charts-nodata": 3}


def test_a_college_report_hides_small_groups_and_comes_as_pdf(
    marts: str, warehouse_url: str, tmp_path: Path
) -> None:
    _browser()
    html, pdf = write_report(tmp_path, college="ART", url=warehouse_url, schema=marts)
    page = html.read_text()
    assert "Learning behaviour: Arts" in page
    assert "Staff" in page and "fewer than 10 people: not shown" in page  # 3 ART staff
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5000
    tally = _drawn(html)
    assert tally["charts"] == tally["charts-drawn"] == 5 and tally["charts-nodata"] == 1


def test_an_unknown_college_is_a_clear_error(marts: str, warehouse_url: str, tmp_path: Path) -> None:
    from ingest.errors import InvalidOption

    with pytest.raises(InvalidOption, match="known codes: ART, LAW, SCI"):
        write_report(tmp_path, college="XYZ", url=warehouse_url, schema=marts)
    assert not (tmp_path / "index.html").exists()


NULL_SCHEMA = "report_null_marts"
EMPTY_SCHEMA = "report_empty_marts"
MART_TABLES = {
    "dim_user": "user_key text, user_type text, user_group text, college_code text, college_name text",
    "fct_loans": "loan_key text, user_key text, subject_class text, loaned_at timestamptz, loan_date date",
    "fct_eresource_sessions": "session_id text, user_key text, platform text, started_at timestamptz",
    "fct_visits": "visit_key text, user_key text, entered_at timestamptz",
    "user_lifecycle_monthly": "user_key text, month date, stage text, previous_stage text",
}


def _create_marts(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute(f"create schema {schema}")
    for table, columns in MART_TABLES.items():
        conn.execute(f"create table {schema}.{table} ({columns})")


@pytest.fixture(scope="module")
def null_marts(warehouse_url: str) -> str:
    """Every mart the reports read, with NULLs where a merged mart can hold them (a visit without
    its entry swipe, a loan without a subject or a date, a person without a group or a college,
    a group outside the report's vocabulary), and fct_eresource_sessions built but empty."""
    rng = random.Random(7)
    people = [(f"u{n}", "student", GROUPS[n % 3], "SCI", "Science") for n in range(60)]
    people += [
        ("nogroup", "student", None, "SCI", "Science"),
        ("nocollege", "staff", "staff", None, None),
        ("visitor", None, "visiting_scholar", "SCI", "Science"),
    ]
    start = datetime(2025, 9, 1, 8, tzinfo=UTC)
    loans, visits, stages = [], [], []
    for n, (key, *_rest) in enumerate(people):
        for i in range(3):
            at = start + timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 10))
            loans.append((f"{key}-{i}", key, rng.choice(["B", "D", None]), at, at.date()))
            visits.append((f"{key}-v{i}", key, None if i == 0 else at))
        for month in ("2025-09-01", "2025-10-01"):
            stages.append((key, month, (None, "active", "new", "lapsed")[n % 4], None))
    loans += [("orphan", None, "B", None, None), ("undated", "u1", "B", start, None)]
    visits += [("exit-only", None, None), ("no-one", "nobody", start)]
    stages += [("u2", None, "active", None)]
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _create_marts(conn, NULL_SCHEMA)
        with conn.cursor() as cur:
            cur.executemany(f"insert into {NULL_SCHEMA}.dim_user values (%s, %s, %s, %s, %s)", people)
            cur.executemany(f"insert into {NULL_SCHEMA}.fct_loans values (%s, %s, %s, %s, %s)", loans)
            cur.executemany(f"insert into {NULL_SCHEMA}.fct_visits values (%s, %s, %s)", visits)
            cur.executemany(
                f"insert into {NULL_SCHEMA}.user_lifecycle_monthly values (%s, %s, %s, %s)", stages
            )
        _create_marts(conn, EMPTY_SCHEMA)
    return NULL_SCHEMA


def _figures(page: str) -> dict[str, str]:
    """Each chart's key and what it shows: 'drawn' (an SVG with marks) or 'nodata' (a note)."""
    found = {}
    for figure in re.findall(r"<figure .*?</figure>", page, re.S):
        key = re.search(r'data-chart="([a-z_]+)"', figure).group(1)  # type: ignore[union-attr]
        if 'class="chart nodata"' in figure:
            assert "No data yet." in figure
            found[key] = "nodata"
        else:
            assert re.search(r'<svg[^>]*>.*class="mark', figure, re.S), f"{key} drew no mark"
            found[key] = "drawn"
    return found


def test_reports_draw_every_chart_over_nulls_and_an_empty_mart(
    null_marts: str, warehouse_url: str, tmp_path: Path
) -> None:
    [html] = write_report(tmp_path / "library", url=warehouse_url, schema=null_marts)
    figures = _figures(html.read_text())
    assert figures == {
        "segments": "drawn",
        "lifecycle_funnel": "drawn",
        "lifecycle_flows": "drawn",
        "penetration": "drawn",
        "occupancy": "drawn",
        "loan_hours": "drawn",
        "subjects": "drawn",
        "eresources": "nodata",  # built, no row
    }
    page = html.read_text()
    assert "Visiting scholar" in page  # a group the report does not know is still shown
    assert "rows in fct_eresource_sessions" in page
    [college] = write_report(
        tmp_path / "college", college="SCI", url=warehouse_url, schema=null_marts, pdf=False
    )
    assert set(_figures(college.read_text()).values()) == {"drawn", "nodata"}
    assert _figures(college.read_text())["weekly"] == "drawn"
    tally = _drawn(html)
    assert tally == {"charts": 7, "charts-drawn": 7, "charts-nodata": 1}


def test_reports_over_empty_marts_say_no_data_and_never_crash(
    null_marts: str, warehouse_url: str, tmp_path: Path
) -> None:
    [html] = write_report(tmp_path, url=warehouse_url, schema=EMPTY_SCHEMA)
    figures = _figures(html.read_text())
    assert len(figures) == 8 and set(figures.values()) == {"nodata"}
    from ingest.errors import InvalidOption

    with pytest.raises(InvalidOption, match="known codes: none"):
        write_report(tmp_path / "college", college="SCI", url=warehouse_url, schema=EMPTY_SCHEMA)


def test_the_library_occupancy_heatmap_reads_the_gates_hourly_occupancy(warehouse_url: str) -> None:
    """The insights report's heatmap shows people inside (fct_site_hourly, summed over sites and
    averaged over the weeks); a college's report, which occupancy cannot split, shows its visits."""
    from urm.reports.build import Marts, occupancy

    schema = "report_occupancy_marts"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {schema} cascade")
        conn.execute(f"create schema {schema}")
        conn.execute(
            f"create table {schema}.fct_site_hourly (site_code text, hour_start timestamptz, "
            "weekday integer, hour_of_day integer, estimated_occupancy integer)"
        )
        rows = [
            ("MAIN", "2025-09-01 10:00+08", 1, 10, 30),  # Monday 10:00, two sites: 30 + 10
            ("MED", "2025-09-01 10:00+08", 1, 10, 10),
            ("MAIN", "2025-09-08 10:00+08", 1, 10, 50),  # the next Monday: (40 + 50) / 2 = 45
            ("MAIN", "2025-09-02 09:00+08", 2, 9, 5),
            ("MAIN", "2025-09-02 11:00+08", 2, 11, None),
        ]
        conn.cursor().executemany(f"insert into {schema}.fct_site_hourly values (%s, %s, %s, %s, %s)", rows)
        try:
            panel = occupancy(Marts(conn, schema), 10, None)
        finally:
            conn.execute(f"drop schema {schema} cascade")
    assert panel.missing is None and panel.chart
    assert "Mon 10:00 (about 45 people)" in panel.sentence
    assert "Tue · 09: 5" in panel.chart and "Wed · 09: 0" in panel.chart
