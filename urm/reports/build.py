"""The insights report (`urm report --out DIR`) and a college's learning-behaviour report
(`urm report --college CODE --out DIR`): one self-contained HTML file each (inline SVG charts, no
network needed to view it), plus a PDF of the college report printed by headless Chromium.

Every chart reads the marts only, and no chart shows a group of fewer than k people (dbt var
k_anonymity): such cells are hatched and labelled, with complementary suppression. A chart whose
mart is not built yet shows a "no data yet" panel that names the mart.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import psycopg
import yaml  # type: ignore[import-untyped]

from ingest.errors import InvalidOption
from urm.exports.contract import Aggregate
from urm.exports.export import k_anonymity
from urm.exports.suppression import suppress
from urm.platform.settings import DBT_PROJECT_DIR
from urm.reports import svg

GROUPS = (
    "freshman",
    "lower_undergraduate",
    "upper_undergraduate",
    "graduating",
    "postgraduate",
    "faculty",
    "staff",
)
GROUP_LABELS = {
    "freshman": "First-year students",
    "lower_undergraduate": "Second-year students",
    "upper_undergraduate": "Upper-year students",
    "graduating": "Graduating students",
    "postgraduate": "Postgraduates",
    "faculty": "Faculty",
    "staff": "Staff",
}
STAGES = ("potential", "new", "active", "loyal", "at_risk", "lapsed", "reactivated")
STAGE_LABELS = {
    "potential": "Potential (never used)",
    "new": "New",
    "active": "Active",
    "loyal": "Loyal",
    "at_risk": "At risk",
    "lapsed": "Lapsed",
    "reactivated": "Came back",
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Marts that other parts of the platform build; their charts show "no data yet" until they exist.
LIFECYCLE_MART = "user_lifecycle_monthly"
OCCUPANCY_MARTS = ("library_occupancy_hourly", "occupancy_hourly", "fct_visits")


@dataclass
class Panel:
    key: str
    title: str
    sentence: str
    chart: str | None = None  # inline SVG; None: a "no data yet" panel
    missing: str | None = None


def library_timezone() -> str:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return str(project.get("vars", {}).get("library_timezone", "UTC"))


class Marts:
    """Read-only access to the marts of one schema."""

    def __init__(self, conn: psycopg.Connection, schema: str = "marts") -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise InvalidOption(f"schema {schema!r} is not a plain name")
        self.conn, self.schema = conn, schema
        rows = conn.execute(
            "select table_name, column_name from information_schema.columns where table_schema = %s",
            (schema,),
        ).fetchall()
        self.tables: dict[str, set[str]] = {}
        for table, column in rows:
            self.tables.setdefault(table, set()).add(column)

    def has(self, table: str, *columns: str) -> bool:
        return table in self.tables and set(columns) <= self.tables[table]

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.execute(query.replace("{s}", self.schema), params).fetchall()  # type: ignore[arg-type]


def _hide(rows: list[dict], dims: tuple[str, ...], k: int) -> list[dict]:
    """Suppress cells of fewer than k people (`cell_users`), complementary suppression included;
    a hidden cell's `value` is None too."""
    spec = Aggregate(group_by=dims, measures={"cell_users": "", "value": ""}, population="cell_users")
    return suppress(rows, spec, k).rows


def _group_label(group: str) -> str:
    return GROUP_LABELS.get(group, str(group).replace("_", " ").capitalize())


def _empty(key: str, title: str, mart: str) -> Panel:
    """A mart that exists but has no row for this chart: a note instead of an empty chart."""
    return Panel(key, title, "", missing=f"rows in {mart}")


def _ordered_groups(present: Any) -> list[str]:
    """The known groups in their order, then any other value the mart holds."""
    return [g for g in GROUPS if g in present] + sorted(str(g) for g in present if g not in GROUPS)


def _college_filter(college: str | None, alias: str = "u") -> tuple[str, list[Any]]:
    return (f" and {alias}.college_code = %s", [college]) if college else ("", [])


# -- panels --------------------------------------------------------------------------------------
def segment_sizes(m: Marts, k: int, college: str | None) -> Panel:
    title = "Who our users are"
    if not m.has("dim_user", "user_group"):
        return Panel("segments", title, "", missing="dim_user")
    where, params = _college_filter(college)
    data = m.rows(
        f"select user_group, count(*) from {{s}}.dim_user u where user_group is not null{where} group by 1",
        params,
    )
    if not data:
        return _empty("segments", title, "dim_user")
    rows = [{"g": g, "cell_users": n, "value": n} for g, n in data]
    shown = {r["g"]: r["value"] for r in _hide(rows, ("g",), k)}
    items = [(_group_label(g), shown[g]) for g in _ordered_groups(shown)]
    largest = max(((n, g) for g, n in shown.items() if n is not None), default=None)
    sentence = (
        f"People on the current campus roster, by group. The largest group is "
        f"{_group_label(largest[1]).lower()} ({largest[0]:,} people)."
        if largest
        else "People on the current campus roster, by group."
    )
    return Panel("segments", title, sentence, svg.bars(items, label=title, k=k))


def penetration(m: Marts, k: int, college: str | None) -> Panel:
    title = "How many in each group borrow from the library"
    if not (m.has("dim_user", "user_group") and m.has("fct_loans", "user_key")):
        return Panel("penetration", title, "", missing="dim_user and fct_loans")
    where, params = _college_filter(college)
    data = m.rows(
        f"""select u.user_group, count(*) as group_users,
            count(*) filter (where exists (select 1 from {{s}}.fct_loans l where l.user_key = u.user_key))
        from {{s}}.dim_user u where u.user_group is not null{where} group by 1""",
        params,
    )
    if not data:
        return _empty("penetration", title, "dim_user")
    rows = [{"g": g, "cell_users": b, "value": (b / n if n else 0.0), "n": n} for g, n, b in data]
    small_groups = {g for g, n, _ in data if n < k}
    shown = {r["g"]: (None if r["g"] in small_groups else r["value"]) for r in _hide(rows, ("g",), k)}
    items = [(_group_label(g), shown[g]) for g in _ordered_groups(shown)]
    visible = [(v, g) for g, v in shown.items() if v is not None]
    sentence = "Share of each group who borrowed at least one item in the period covered."
    if visible:
        top, low = max(visible), min(visible)
        sentence += (
            f" {_group_label(top[1])} borrow most often ({top[0]:.0%}); "
            f"{_group_label(low[1]).lower()} least ({low[0]:.0%})."
        )
    return Panel(
        "penetration", title, sentence, svg.bars(items, label=title, k=k, fmt=svg.percent, max_value=1)
    )


def lifecycle(m: Marts, k: int, college: str | None) -> list[Panel]:
    funnel_title = "Where users are in their relationship with the library"
    flow_title = "How users moved between stages from last month to this month"
    cols = m.tables.get(LIFECYCLE_MART, set())
    stage = next((c for c in ("lifecycle_stage", "stage") if c in cols), None)
    month = next((c for c in ("month", "activity_month", "month_start") if c in cols), None)
    if not (stage and month and "user_key" in cols):
        return [
            Panel("lifecycle_funnel", funnel_title, "", missing=LIFECYCLE_MART),
            Panel("lifecycle_flows", flow_title, "", missing=LIFECYCLE_MART),
        ]
    where, params = _college_filter(college)
    join = f" join {{s}}.dim_user u on u.user_key = lc.user_key{where}" if college else ""
    data = m.rows(
        f"""select lc.{stage}, count(*) from {{s}}.{LIFECYCLE_MART} lc{join}
        where lc.{month} = (select max({month}) from {{s}}.{LIFECYCLE_MART}) and lc.{stage} is not null
        group by 1""",
        params,
    )
    if not data:
        return [
            _empty("lifecycle_funnel", funnel_title, LIFECYCLE_MART),
            _empty("lifecycle_flows", flow_title, LIFECYCLE_MART),
        ]
    rows = [{"s": s, "cell_users": n, "value": n} for s, n in data]
    shown = {r["s"]: r["value"] for r in _hide(rows, ("s",), k)}
    stages = [s for s in STAGES if s in shown] + sorted(str(s) for s in shown if s not in STAGES)
    items = [(STAGE_LABELS.get(s, s), shown[s]) for s in stages]
    funnel = Panel(
        "lifecycle_funnel",
        funnel_title,
        "Users by lifecycle stage in the latest month: from potential users who have never borrowed, "
        "through new and active, to loyal readers, and those at risk of drifting away.",
        svg.bars(items, label=funnel_title, k=k),
    )
    flows_data = m.rows(
        f"""with months as (select distinct {month} as m from {{s}}.{LIFECYCLE_MART} order by 1 desc limit 2),
        now as (select lc.user_key, lc.{stage} as s from {{s}}.{LIFECYCLE_MART} lc{join}
                where lc.{month} = (select max(m) from months)),
        before as (select user_key, {stage} as s from {{s}}.{LIFECYCLE_MART}
                where {month} = (select min(m) from months) and (select count(*) from months) = 2)
        select before.s, now.s, count(*) from now join before using (user_key)
        where before.s is not null and now.s is not null group by 1, 2""",
        params,
    )
    if not flows_data:
        return [funnel, Panel("lifecycle_flows", flow_title, "", missing=f"two months of {LIFECYCLE_MART}")]
    cells = _hide([{"a": a, "b": b, "cell_users": n, "value": n} for a, b, n in flows_data], ("a", "b"), k)
    values = {(STAGE_LABELS.get(c["a"], c["a"]), STAGE_LABELS.get(c["b"], c["b"])): c["value"] for c in cells}
    seen = {s for a, b, _ in flows_data for s in (a, b)}
    labels = [STAGE_LABELS.get(s, s) for s in [*STAGES, *sorted(str(s) for s in seen if s not in STAGES)]]
    flows = Panel(
        "lifecycle_flows",
        flow_title,
        "Each row is a stage last month, each column the stage this month: the diagonal is users who "
        "stayed where they were; cells off it are people moving towards or away from the library.",
        svg.heatmap(labels, labels, values, label=flow_title, k=k),
    )
    return [funnel, flows]


def occupancy(m: Marts, k: int, college: str | None) -> Panel:
    if college is None and m.has("fct_site_hourly", "weekday", "hour_of_day", "estimated_occupancy"):
        return _occupancy_heatmap(m)
    title = "When the library is busy (entrance gate visits by hour)"
    mart = next((t for t in OCCUPANCY_MARTS if m.has(t, "user_key", "entered_at")), None)
    if mart is None:
        return Panel("occupancy", title, "", missing=" or ".join(OCCUPANCY_MARTS[-1:]) + " (gate visits)")
    return _hour_heatmap(
        m, k, college, "occupancy", title, mart, "entered_at", "Visits through the entrance gates", "visits"
    )


def _occupancy_heatmap(m: Marts) -> Panel:
    """How many people are in the library, on average, in each hour of the week: the gates' hourly
    occupancy summed over the sites (a headcount of nobody in particular: not suppressed)."""
    title = "When the library is busy (people inside, average by weekday and hour)"
    data = m.rows(
        """select weekday, hour_of_day, avg(people)::float from (
            select hour_start, weekday, hour_of_day, sum(estimated_occupancy) as people
            from {s}.fct_site_hourly
            where weekday is not null and hour_of_day is not null and estimated_occupancy is not null
            group by 1, 2, 3) as hours
        group by 1, 2"""
    )
    if not data:
        return _empty("occupancy", title, "fct_site_hourly")
    hours = list(range(min(h for _, h, _ in data), max(h for _, h, _ in data) + 1))
    values: dict[tuple[str, str], svg.Number] = {(day, f"{h:02d}"): 0.0 for day in WEEKDAYS for h in hours}
    values.update({(WEEKDAYS[d - 1], f"{h:02d}"): round(v, 1) for d, h, v in data})
    d, h, v = max(data, key=lambda row: row[2])
    sentence = (
        "People inside the library (all sites) in each hour of the week, on average, from the "
        f"entrance gates. The busiest hour is {WEEKDAYS[d - 1]} {h:02d}:00 (about {v:,.0f} people)."
    )
    chart = svg.heatmap(
        list(WEEKDAYS), [f"{h:02d}" for h in hours], values, label=title, k=0, show_values=False
    )
    return Panel("occupancy", title, sentence, chart)


def loans_by_hour(m: Marts, k: int, college: str | None) -> Panel:
    title = "When people borrow (loans by weekday and hour)"
    if not m.has("fct_loans", "loaned_at", "user_key"):
        return Panel("loan_hours", title, "", missing="fct_loans")
    return _hour_heatmap(m, k, college, "loan_hours", title, "fct_loans", "loaned_at", "Loans", "loans")


def _hour_heatmap(
    m: Marts, k: int, college: str | None, key: str, title: str, mart: str, column: str, what: str, unit: str
) -> Panel:
    where, params = _college_filter(college)
    zone = library_timezone()
    data = m.rows(
        f"""select extract(isodow from t.{column} at time zone %s)::int,
            extract(hour from t.{column} at time zone %s)::int, count(*), count(distinct t.user_key)
        from {{s}}.{mart} t join {{s}}.dim_user u on u.user_key = t.user_key
        where t.{column} is not null{where} group by 1, 2""",
        [zone, zone, *params],
    )
    if not data:
        return _empty(key, title, mart)
    cells = _hide([{"d": d, "h": h, "cell_users": u, "value": n} for d, h, n, u in data], ("d", "h"), k)
    hours = list(range(min(h for _, h, _, _ in data), max(h for _, h, _, _ in data) + 1))
    values = {(WEEKDAYS[c["d"] - 1], f"{c['h']:02d}"): c["value"] for c in cells}
    busiest = max(((c["value"], c["d"], c["h"]) for c in cells if c["value"] is not None), default=None)
    sentence = f"{what} in each hour of the week, in the library's time zone ({zone})."
    if busiest:
        sentence += (
            f" The busiest hour is {WEEKDAYS[busiest[1] - 1]} {busiest[2]:02d}:00 ({busiest[0]:,} {unit})."
        )
    chart = svg.heatmap(
        list(WEEKDAYS), [f"{h:02d}" for h in hours], values, label=title, k=k, show_values=False
    )
    return Panel(key, title, sentence, chart)


def subjects_by_group(m: Marts, k: int, college: str | None) -> Panel:
    title = "What each group reads (share of the group's loans by subject)"
    if not (m.has("fct_loans", "subject_class") and m.has("dim_user", "user_group")):
        return Panel("subjects", title, "", missing="fct_loans and dim_user")
    where, params = _college_filter(college)
    data = m.rows(
        f"""select u.user_group, l.subject_class, count(*), count(distinct l.user_key)
        from {{s}}.fct_loans l join {{s}}.dim_user u on u.user_key = l.user_key
        where l.subject_class is not null and u.user_group is not null{where} group by 1, 2""",
        params,
    )
    if not data:
        return _empty("subjects", title, "fct_loans with a subject class")
    totals: dict[str, int] = {}
    for g, _, n, _ in data:
        totals[g] = totals.get(g, 0) + n
    cells = _hide(
        [{"g": g, "c": c, "cell_users": u, "value": n / totals[g]} for g, c, n, u in data], ("g", "c"), k
    )
    classes = sorted({c for _, c, _, _ in data})
    groups = _ordered_groups(totals)
    values = {(_group_label(c["g"]), c["c"]): c["value"] for c in cells}
    overall: dict[str, int] = {}
    for _, c, n, _ in data:
        overall[c] = overall.get(c, 0) + n
    top = max(overall, key=lambda c: overall[c])
    sentence = (
        "Each row adds up to the group's loans; columns are Chinese Library Classification classes "
        f"(letters). Class {top} is borrowed most overall."
    )
    chart = svg.heatmap([_group_label(g) for g in groups], classes, values, label=title, k=k, fmt=svg.percent)
    return Panel("subjects", title, sentence, chart)


def eresources_by_college(m: Marts, k: int, college: str | None) -> Panel:
    if college:
        title = "Which e-resource platforms the college uses (people who used each)"
        dim, label_sql = "platform", "s.platform"
    else:
        title = "E-resource use by college (people who used e-resources)"
        dim, label_sql = "college", "coalesce(u.college_name, u.college_code)"
    if not (m.has("fct_eresource_sessions", "user_key") and m.has("dim_user", "college_code")):
        return Panel("eresources", title, "", missing="fct_eresource_sessions")
    where, params = _college_filter(college)
    data = m.rows(
        f"""select {label_sql}, count(distinct s.user_key), count(*)
        from {{s}}.fct_eresource_sessions s join {{s}}.dim_user u on u.user_key = s.user_key
        where {label_sql} is not null{where} group by 1 order by 2 desc limit 15""",
        params,
    )
    if not data:
        return _empty("eresources", title, "fct_eresource_sessions")
    cells = _hide([{"x": x, "cell_users": u, "value": u} for x, u, _ in data], ("x",), k)
    items = [(c["x"], c["value"]) for c in cells]
    sessions = sum(n for _, _, n in data)
    sentence = (
        f"People who opened an e-resource through the library's proxy, by {dim}; "
        f"{sessions:,} sessions in all. The first bar is the most used."
    )
    return Panel("eresources", title, sentence, svg.bars(items, label=title, k=k))


def loans_by_week(m: Marts, k: int, college: str | None) -> Panel:
    title = "Borrowing through the term (loans per week)"
    if not m.has("fct_loans", "loan_date"):
        return Panel("weekly", title, "", missing="fct_loans")
    where, params = _college_filter(college)
    data = m.rows(
        f"""select date_trunc('week', l.loan_date)::date, count(*), count(distinct l.user_key)
        from {{s}}.fct_loans l join {{s}}.dim_user u on u.user_key = l.user_key
        where l.loan_date is not null{where} group by 1 order by 1""",
        params,
    )
    if not data:
        return _empty("weekly", title, "fct_loans")
    cells = _hide([{"w": w.isoformat(), "cell_users": u, "value": n} for w, n, u in data], ("w",), k)
    items = [(c["w"][5:], c["value"]) for c in cells]
    return Panel(
        "weekly",
        title,
        "Loans started each week (weeks begin on Monday); quiet weeks are often exams or holidays.",
        svg.columns(items, label=title, k=k),
    )


# -- the page ------------------------------------------------------------------------------------
CSS = """
body{margin:0;background:#f7f8fa;color:#1f2933;
  font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
header{background:#1d3557;color:#fff;padding:28px 40px}
header h1{margin:0 0 6px;font-size:26px} header p{margin:0;opacity:.85}
main{max-width:860px;margin:0 auto;padding:20px}
.howto{background:#fff;border-left:4px solid #2f6fb0;padding:12px 16px;margin:12px 0 20px}
figure.chart{background:#fff;border:1px solid #e4e7eb;border-radius:6px;margin:0 0 22px;padding:16px 20px;
  page-break-inside:avoid;break-inside:avoid}
figure.chart h2{font-size:18px;margin:0 0 4px} figure.chart p.lede{margin:0 0 12px;color:#3e4c59}
.nodata-panel{border:2px dashed #c5ccd3;border-radius:6px;padding:22px;color:#52606d;text-align:center}
footer{color:#7b8794;font-size:12px;padding:10px 20px 30px;text-align:center}
@media print{body{background:#fff} header{padding:16px 20px} main{padding:0 10px}}
"""
# Counts the charts that drew (an SVG with at least one mark and a size on the page) and writes
# the tally on <html>: what the headless-browser test reads; harmless for readers.
CHECK_JS = """
window.addEventListener('load', function () {
  var figures = document.querySelectorAll('figure.chart'), drawn = 0, nodata = 0;
  figures.forEach(function (f) {
    if (f.classList.contains('nodata')) { nodata++; return; }
    var s = f.querySelector('svg'); if (!s) return;
    var box = s.getBoundingClientRect(), marks = s.querySelectorAll('.mark');
    if (marks.length > 0 && box.width > 0 && box.height > 0 && s.getBBox().width > 0) {
      drawn++; f.setAttribute('data-drawn', 'yes');
    }
  });
  var root = document.documentElement;
  root.setAttribute('data-charts', figures.length - nodata);
  root.setAttribute('data-charts-drawn', drawn);
  root.setAttribute('data-charts-nodata', nodata);
});
"""


def _figure(panel: Panel) -> str:
    if panel.chart is None:
        return (
            f'<figure class="chart nodata" data-chart="{panel.key}"><h2>{escape(panel.title)}</h2>'
            f'<div class="nodata-panel"><strong>No data yet.</strong> This chart appears once the '
            f"warehouse has {escape(panel.missing or 'its data')}.</div></figure>"
        )
    return (
        f'<figure class="chart" data-chart="{panel.key}"><h2>{escape(panel.title)}</h2>'
        f'<p class="lede">{escape(panel.sentence)}</p>{panel.chart}</figure>'
    )


def render_page(title: str, subtitle: str, panels: list[Panel], k: int) -> str:
    figures = "\n".join(_figure(p) for p in panels)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body><header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>
<main><p class="howto">How to read this report: every figure counts people who used the library,
without naming anyone. Groups of fewer than {k} people are never shown (hatched bars and cells),
and a neighbouring small group may be hidden with them so that no one can be worked out by
subtraction. People who opted out of profiling are still counted here, as totals only.</p>
{figures}</main>
<footer>library-urm · generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the warehouse marts</footer>
<script>{CHECK_JS}</script></body></html>
"""


def library_report(m: Marts, k: int) -> str:
    panels = [
        segment_sizes(m, k, None),
        *lifecycle(m, k, None),
        penetration(m, k, None),
        occupancy(m, k, None),
        loans_by_hour(m, k, None),
        subjects_by_group(m, k, None),
        eresources_by_college(m, k, None),
    ]
    return render_page(
        "How our users use the library",
        "Insights report from the library's user data warehouse",
        panels,
        k,
    )


def college_report(m: Marts, k: int, college: str) -> str:
    found = m.rows(
        "select max(coalesce(college_name, college_code)) from {s}.dim_user where college_code = %s",
        [college],
    )
    if not found or found[0][0] is None:
        known = [
            r[0]
            for r in m.rows(
                "select distinct college_code from {s}.dim_user where college_code is not null order by 1"
            )
        ]
        raise InvalidOption(
            f"no college {college!r} on the roster; known codes: {', '.join(known) or 'none'}"
        )
    name = found[0][0]
    panels = [
        segment_sizes(m, k, college),
        penetration(m, k, college),
        loans_by_week(m, k, college),
        subjects_by_group(m, k, college),
        eresources_by_college(m, k, college),
        *lifecycle(m, k, college)[:1],
    ]
    return render_page(
        f"Learning behaviour: {name}",
        f"How the students and staff of {name} ({college}) use the library",
        panels,
        k,
    )


def chromium() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    )


def chromium_args(browser: str) -> list[str]:
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
    ]


def print_pdf(html: Path, pdf: Path) -> Path:
    browser = chromium()
    if browser is None:
        raise InvalidOption(
            "no Chromium to print the PDF with: `make chromium` (Debian package chromium), or pass --no-pdf"
        )
    subprocess.run(
        [*chromium_args(browser), "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return pdf


def write_report(
    out: Path, *, college: str | None = None, pdf: bool = True, url: str | None = None, schema: str = "marts"
) -> list[Path]:
    from ingest.run import connect
    from urm.platform.warehouse import warehouse_url

    k = k_anonymity()
    with connect(url or warehouse_url()) as conn:
        conn.read_only = True
        marts = Marts(conn, schema)
        page = college_report(marts, k, college) if college else library_report(marts, k)
    out.mkdir(parents=True, exist_ok=True)
    html = out / "index.html"
    html.write_text(page, encoding="utf-8")
    written = [html]
    if college and pdf:
        written.append(print_pdf(html, out / "report.pdf"))
    return written
