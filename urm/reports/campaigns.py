"""The campaigns page of `urm report`: each outreach campaign's uptake, treated against control.

It reads marts.campaign_results only (suppression is the mart's: a suppressed campaign shows why,
not its figures) and draws the difference in the goal's rate with its 95% confidence interval.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from urm.reports.build import CSS, Marts

GOAL_LABELS = {
    "became_active": "used the library",
    "first_loan": "borrowed for the first time",
    "first_eresource_session": "opened an e-resource for the first time",
    "training_attended": "attended a training",
}
COLUMNS = (
    "campaign",
    "period_start",
    "period_end",
    "goal_metric",
    "treated_users",
    "control_users",
    "treated_rate",
    "control_rate",
    "rate_difference",
    "ci_lower",
    "ci_upper",
    "suppressed",
)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1%}"


def interval_chart(row: dict[str, Any], width: int = 360, height: int = 46) -> str:
    """The difference and its interval on a scale from -50 to +50 percentage points; 0 marked."""
    lo, hi, mid = float(row["ci_lower"]), float(row["ci_upper"]), float(row["rate_difference"])
    span = max(0.5, abs(lo), abs(hi))

    def x(value: float) -> float:
        return round(20 + (value + span) / (2 * span) * (width - 40), 1)

    label = f"difference {mid:+.1%}, 95% interval {lo:+.1%} to {hi:+.1%}"
    return (
        f'<svg role="img" aria-label="{escape(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(label)}</title>'
        f'<line x1="{x(0)}" y1="4" x2="{x(0)}" y2="{height - 14}" stroke="#999" stroke-dasharray="3 2"/>'
        f'<line class="mark" x1="{x(lo)}" y1="18" x2="{x(hi)}" y2="18" stroke="#2a6f97" stroke-width="3"/>'
        f'<circle class="mark" cx="{x(mid)}" cy="18" r="5" fill="#2a6f97"/>'
        f'<text x="{x(0)}" y="{height - 2}" font-size="10" text-anchor="middle">0</text>'
        f'<text x="{x(lo)}" y="38" font-size="10" text-anchor="middle">{lo:+.0%}</text>'
        f'<text x="{x(hi)}" y="38" font-size="10" text-anchor="middle">{hi:+.0%}</text></svg>'
    )


def _sentence(row: dict[str, Any]) -> str:
    goal = GOAL_LABELS.get(row["goal_metric"], row["goal_metric"])
    if row["suppressed"]:
        why = "a group of fewer than k people" if row["suppressed"] == "arm_below_k" else "a small count"
        return f"Figures withheld: {why} would be shown."
    verdict = (
        "the campaign moved people"
        if float(row["ci_lower"]) > 0
        else "no effect can be told from chance"
        if float(row["ci_upper"]) >= 0
        else "the treated group did worse"
    )
    return (
        f"{_pct(row['treated_rate'])} of the {row['treated_users']:,} people reached {goal}, against "
        f"{_pct(row['control_rate'])} of the {row['control_users']:,} held out: {verdict}."
    )


def campaigns_page(m: Marts, k: int) -> str:
    if not m.has("campaign_results", *COLUMNS):
        body = (
            '<p class="howto"><strong>No data yet.</strong> This page appears once the warehouse has '
            "campaign_results (run a campaign: <code>urm campaign run NAME</code>, then build).</p>"
        )
    else:
        names = ", ".join(COLUMNS)
        rows = [
            dict(zip(COLUMNS, r, strict=True))
            for r in m.rows(f"select {names} from {{s}}.campaign_results order by period_start, campaign")
        ]
        figures = []
        for row in rows:
            chart = "" if row["suppressed"] else interval_chart(row)
            figures.append(
                f'<figure class="chart" data-chart="campaign"><h2>{escape(row["campaign"])}</h2>'
                f'<p class="lede">{row["period_start"]} to {row["period_end"]} · goal: '
                f"{escape(GOAL_LABELS.get(row['goal_metric'], row['goal_metric']))}. "
                f"{escape(_sentence(row))}</p>{chart}</figure>"
            )
        body = "\n".join(figures) or '<p class="howto">No campaign has run yet.</p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Outreach campaigns</title><style>{CSS}</style></head>
<body><header><h1>Outreach campaigns</h1><p>Did each campaign move anyone? Treated against a
random control group.</p></header>
<main><p class="howto">How to read this page: each campaign held out a random share of its
segment as a control group. The dot is the difference between the share of treated and control
people who reached the campaign's goal in its period; the bar its 95% confidence interval. A bar
that crosses 0 means the difference could be chance. Groups of fewer than {k} people are never
shown.</p>
{body}</main>
<footer>library-urm · generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from marts.campaign_results</footer>
</body></html>
"""


def write_campaigns_page(out: Path, *, url: str | None = None, schema: str = "marts") -> Path:
    from ingest.run import connect
    from urm.exports.export import k_anonymity
    from urm.platform.warehouse import warehouse_url

    with connect(url or warehouse_url()) as conn:
        conn.read_only = True
        page = campaigns_page(Marts(conn, schema), k_anonymity())
    out.mkdir(parents=True, exist_ok=True)
    path = out / "campaigns.html"
    path.write_text(page, encoding="utf-8")
    return path
