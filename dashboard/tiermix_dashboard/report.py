"""The monthly one-page report: which month, the period it covers, and the tier-mix table it shows.
Pure (no Streamlit, no I/O): the page (views/report.py) reads through the cache and lays out.

A month is a UTC calendar month; the current one runs up to now ("month so far"). Its comparison is the
same number of days at the start of the month before, so "Dec 1-5" is set against "Nov 1-5", not
against a whole November.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

import pandas as pd

from tiermix_dashboard.charts import ordered_keys
from tiermix_dashboard.filters import CUSTOM, Filters, ceil_minute

# what the report shows of each ranked route (rightsizing.OPPORTUNITY_COLUMNS has them all)
OPPORTUNITY_COLUMNS = ("route", "top_direct_share", "monthly_savings_low_usd", "monthly_savings_usd",
                       "monthly_savings_high_usd", "confidence")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    month: date  # the first day of the month
    start: datetime
    end: datetime  # exclusive: the month's end, or now for the month in progress
    complete: bool

    @property
    def title(self) -> str:
        return f"{self.month:%B %Y}"

    @property
    def span_text(self) -> str:
        last = self.end - timedelta(microseconds=1)
        if self.complete:
            return f"The whole month ({self.start:%b} 1 to {last:%b} {last.day})"
        return f"Month so far ({self.start:%b} 1 to {last:%b} {last.day}, {last:%H:%M} UTC)"


def months(now: datetime, count: int = 12) -> list[date]:
    """The first days of this month and the ``count - 1`` before it, newest first."""
    first = now.astimezone(timezone.utc).date().replace(day=1)
    found = []
    for _ in range(count):
        found.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return found


def period(month: date, now: datetime) -> ReportPeriod:
    start = datetime(month.year, month.month, 1, tzinfo=timezone.utc)
    following = (start + timedelta(days=32)).replace(day=1)
    now = now.astimezone(timezone.utc)
    end = min(following, ceil_minute(now))
    return ReportPeriod(month, start, end, complete=end == following)


def scoped(filters: Filters, start: datetime, end: datetime) -> Filters:
    """The page's tenant / route / environment over the report's own dates."""
    return replace(filters, start=start, end=end, preset=CUSTOM)


def comparison(report: ReportPeriod) -> tuple[datetime, datetime]:
    """The same stretch of the month before: its first day up to as many days (and hours) in."""
    start = (report.start - timedelta(days=1)).replace(day=1)
    length = min(report.end - report.start, report.start - start)
    return start, start + length


def tier_table(mix: pd.DataFrame, tier_list: list[str]) -> pd.DataFrame:
    """One row per tier over the period: calls, share of calls, spend, share of spend, cheapest first."""
    columns = ["tier", "calls", "share_calls", "cost_usd", "share_cost"]
    if mix.empty:
        return pd.DataFrame(columns=columns)
    totals = mix.groupby("key")[["calls", "cost_usd"]].sum()
    totals = totals.reindex(ordered_keys(list(totals.index), tier_list)).rename_axis("tier").reset_index()
    for measure, share in (("calls", "share_calls"), ("cost_usd", "share_cost")):
        whole = totals[measure].sum()
        totals[share] = totals[measure] / whole if whole else None
    return totals[columns]
