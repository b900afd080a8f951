"""Deterministic synthetic COUNTER R5.1 usage for the platforms of the synthetic university.

The same platform names as the synthetic EZproxy logs, so that proxy use and COUNTER reconcile
per platform and month. Figures are consistent across reports: a platform's PR
Total_Item_Requests is the sum of its titles' TR Total_Item_Requests for the month.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

# platform -> (publisher, data type of its titles, relative size)
PLATFORMS: dict[str, tuple[str, str, float]] = {
    "ScienceDirect": ("Elsevier", "Journal", 3.0),
    "SpringerLink": ("Springer Nature", "Journal", 2.0),
    "Wiley Online Library": ("Wiley", "Journal", 1.5),
    "IEEE Xplore": ("IEEE", "Journal", 1.2),
    "JSTOR": ("ITHAKA", "Journal", 1.0),
    "CNKI": ("China National Knowledge Infrastructure", "Journal", 2.5),
    "Wanfang Data": ("Wanfang Data", "Journal", 1.2),
    "VIP (CQVIP)": ("Chongqing VIP Information", "Journal", 0.8),
    "Nature": ("Springer Nature", "Journal", 0.9),
    "ACS Publications": ("American Chemical Society", "Journal", 0.6),
    "Web of Science": ("Clarivate", "Database", 1.0),
    "Taylor & Francis Online": ("Taylor & Francis", "Journal", 0.7),
}
TITLES_PER_PLATFORM = 4
ITEMS_PER_TITLE = 2


@dataclass(frozen=True)
class UsageRecord:
    """One figure of one report: what a SUSHI server would put in a Performance cell."""

    report_id: str  # TR, DR, PR or IR
    platform: str
    publisher: str
    item_name: str
    parent_title: str | None
    data_type: str
    proprietary_id: str
    online_issn: str | None
    metric_type: str
    month: date
    count: int


def months_between(begin: date, end: date) -> list[date]:
    months, current = [], begin.replace(day=1)
    while current <= end:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def _slug(platform: str) -> str:
    return "".join(ch for ch in platform.upper() if ch.isalnum())[:6]


def _term_factor(month: date) -> float:
    """Less use in the summer and winter breaks, as in a real academic year."""
    return {1: 0.6, 2: 0.5, 7: 0.4, 8: 0.45}.get(month.month, 1.0)


def synthetic_counter_usage(
    begin: date,
    end: date,
    *,
    seed: int = 7,
    scale: float = 1.0,
    platforms: Iterable[str] | None = None,
) -> list[UsageRecord]:
    """Usage of every platform for each month from begin to end; the same arguments give the
    same figures (each platform and month has its own seeded generator)."""
    records: list[UsageRecord] = []
    for platform in platforms or PLATFORMS:
        number = list(PLATFORMS).index(platform)
        publisher, data_type, size = PLATFORMS[platform]
        slug = _slug(platform)
        for month in months_between(begin, end):
            rng = random.Random(f"{seed}:{platform}:{month:%Y-%m}")
            base = size * scale * _term_factor(month)
            platform_requests = platform_unique = platform_investigations = 0
            for t in range(1, TITLES_PER_PLATFORM + 1):
                title = f"{platform} {data_type} {t}"
                issn = f"{1000 + t:04d}-{2000 + number:04d}" if data_type == "Journal" else None
                requests = int(rng.randint(20, 120) * base / t)
                unique = int(requests * rng.uniform(0.55, 0.8))
                investigations = requests + int(requests * rng.uniform(0.3, 0.9))
                platform_requests += requests
                platform_unique += unique
                platform_investigations += investigations
                common: dict[str, Any] = dict(
                    platform=platform, publisher=publisher, data_type=data_type, month=month
                )
                for metric, count in (
                    ("Total_Item_Requests", requests),
                    ("Unique_Item_Requests", unique),
                    ("Total_Item_Investigations", investigations),
                    ("Unique_Title_Requests", max(1, unique // 2)),
                ):
                    records.append(
                        UsageRecord(
                            "TR",
                            item_name=title,
                            parent_title=None,
                            proprietary_id=f"{slug}:T{t}",
                            online_issn=issn,
                            metric_type=metric,
                            count=count,
                            **common,
                        )
                    )
                # IR: the title's requests split over its articles.
                share = requests // ITEMS_PER_TITLE
                for i in range(1, ITEMS_PER_TITLE + 1):
                    count = share if i < ITEMS_PER_TITLE else requests - share * (i - 1)
                    records.append(
                        UsageRecord(
                            "IR",
                            item_name=f"{title} article {i}",
                            parent_title=title,
                            proprietary_id=f"{slug}:T{t}:A{i}",
                            online_issn=None,
                            metric_type="Total_Item_Requests",
                            count=count,
                            **{**common, "data_type": "Article"},
                        )
                    )
            searches = int(platform_investigations * rng.uniform(0.8, 1.6)) + 1
            common = dict(
                platform=platform, publisher=publisher, month=month, online_issn=None, parent_title=None
            )
            for metric, count in (
                ("Total_Item_Requests", platform_requests),
                ("Unique_Item_Requests", platform_unique),
                ("Total_Item_Investigations", platform_investigations),
                ("Searches_Platform", searches),
            ):
                records.append(
                    UsageRecord(
                        "PR",
                        item_name=platform,
                        data_type=data_type,
                        proprietary_id=slug,
                        metric_type=metric,
                        count=count,
                        **common,
                    )
                )
            for metric, count in (("Searches_Regular", searches), ("Total_Item_Requests", platform_requests)):
                records.append(
                    UsageRecord(
                        "DR",
                        item_name=f"{platform} Collection",
                        data_type=data_type,
                        proprietary_id=f"{slug}:DB",
                        metric_type=metric,
                        count=count,
                        **common,
                    )
                )
    return records


def corrected(records: Sequence[UsageRecord], month: date, factor: float) -> list[UsageRecord]:
    """The same usage with one month's figures restated (a provider's correction)."""
    return [replace(r, count=int(r.count * factor)) if r.month == month else r for r in records]
