"""A budget's standing: spend so far in its period, burn rate, the period-end forecast, the run-out day.

Spend is every priced call in the budget's scope (its tenant and/or route, every environment: replays'
``shadow`` calls are money spent too) from the hourly rollup; unpriced calls cannot be added and are
counted beside the figure. The forecast is ``forecast.py``'s model, always labelled an estimate with
its interval. ``spent_ratio`` and ``forecast_ratio`` are what the alert metrics ``budget_spent_ratio``
and ``budget_forecast_ratio`` read (docs/budgets.md).
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# bound parameter.
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tiermix_server.meta.budgets import BudgetRow
from tiermix_server.metrics.forecast import HISTORY_DAYS, Forecast, forecast_period_end

BURN_DAYS = 7  # the burn rate is the mean of the last seven complete days


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget: BudgetRow
    period_start: date
    period_end: date  # exclusive
    spent_usd: float
    unpriced_calls: int
    spent_ratio: float
    burn_rate_usd_per_day: float | None  # None without a complete day of history
    forecast: Forecast | None
    forecast_ratio: float | None
    runs_out_on: date | None  # the day the forecast (point) reaches the budget; spent: the day it did
    exceeded_on: date | None  # the day spend passed the budget, when it has
    note: str
    spent_by_day: tuple[tuple[date, float], ...] = ()  # the period's days so far (today: until now)

    def to_json(self) -> dict[str, Any]:
        f = self.forecast
        return {
            "budget": self.budget.to_json(),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "spent_usd": self.spent_usd,
            "unpriced_calls": self.unpriced_calls,
            "spent_ratio": self.spent_ratio,
            "burn_rate_usd_per_day": self.burn_rate_usd_per_day,
            "forecast": None
            if f is None
            else {
                "estimate": True,
                "point_usd": f.point,
                "low_usd": f.low,
                "high_usd": f.high,
                "level": 0.95,
                "history_days": f.history_days,
                "weekday_effects": f.weekday_effects,
                "trend_usd_per_day": f.trend_per_day,
            },
            "forecast_ratio": self.forecast_ratio,
            "forecast_ratio_high": None if f is None else f.high / self.budget.amount_usd,
            "runs_out_on": self.runs_out_on.isoformat() if self.runs_out_on else None,
            "exceeded_on": self.exceeded_on.isoformat() if self.exceeded_on else None,
            "note": self.note,
            "spent_by_day": [{"day": d.isoformat(), "usd": v} for d, v in self.spent_by_day],
            "forecast_by_day": [] if f is None else [{"day": d.isoformat(), "usd": v} for d, v in f.daily],
        }


def period_of(budget: BudgetRow, today: date) -> tuple[date, date]:
    if budget.period == "custom" and budget.starts_on and budget.ends_on:
        return budget.starts_on, budget.ends_on
    start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def daily_spend(
    client: Any, budgets: Sequence[BudgetRow], start: date, end: date
) -> dict[int, dict[date, Any]]:
    """Per budget id: {day: (USD, unpriced calls)} over [start, end), in one query for all budgets."""
    if not budgets:
        return {}
    params: dict[str, Any] = {"start": start, "end": end}
    conditions = []
    for i, b in enumerate(budgets):
        parts = []
        if b.tenant is not None:
            params[f"t{i}"] = b.tenant
            parts.append(f"tenant = {{t{i}:String}}")
        if b.route is not None:
            params[f"r{i}"] = b.route
            parts.append(f"route = {{r{i}:String}}")
        conditions.append(" AND ".join(parts) or "1")
    selects = ", ".join(f"sumIf(cost_usd, {c}), sumIf(unpriced, {c})" for c in conditions)
    sql = (
        f"SELECT toDate(bucket) AS day, {selects} FROM llm_calls_1h "
        "WHERE bucket >= toDateTime({start:Date}, 'UTC') AND bucket < toDateTime({end:Date}, 'UTC') "
        f"AND ({' OR '.join(f'({c})' for c in conditions)}) GROUP BY day ORDER BY day"
    )
    out: dict[int, dict[date, Any]] = {b.id: {} for b in budgets}
    for row in client.query(sql, parameters=params).result_rows:
        for i, b in enumerate(budgets):
            out[b.id][row[0]] = (float(row[1 + 2 * i] or 0.0), int(row[2 + 2 * i] or 0))
    return out


def budget_statuses(
    client: Any, budgets: Sequence[BudgetRow], now: datetime | None = None
) -> list[BudgetStatus]:
    now = now or datetime.now(timezone.utc)
    today = now.date()
    elapsed = (now - datetime(today.year, today.month, today.day, tzinfo=timezone.utc)) / timedelta(days=1)
    periods = {b.id: period_of(b, today) for b in budgets}
    first = min([p[0] for p in periods.values()] + [today - timedelta(days=HISTORY_DAYS)], default=today)
    last = max([min(p[1], today + timedelta(days=1)) for p in periods.values()], default=today)
    spend = daily_spend(client, budgets, first, max(last, today + timedelta(days=1)))
    return [_status(b, periods[b.id], spend[b.id], today, elapsed) for b in budgets]


def _status(
    budget: BudgetRow, period: tuple[date, date], days: dict[date, Any], today: date, elapsed: float
) -> BudgetStatus:
    start, end = period
    in_period = sorted((d, v) for d, v in days.items() if start <= d < end and d <= today)
    spent = sum(v[0] for _, v in in_period)
    unpriced = sum(v[1] for _, v in in_period)
    history = [(d, v[0]) for d, v in days.items() if d < today]
    burn_days = [v for _, v in sorted(history)[-BURN_DAYS:]]
    burn = sum(burn_days) / len(burn_days) if burn_days else None
    notes = []
    forecast: Forecast | None = None
    if today < start:
        notes.append(f"the period starts on {start.isoformat()}")
    elif today >= end:
        forecast = Forecast(spent, spent, spent, len(in_period), False, 0.0, ())
        notes.append("the period is over: the figure is final")
    else:
        forecast = forecast_period_end(history, spent, today, elapsed, end)
        if forecast is None:
            notes.append("no spend history yet: no forecast")
        elif forecast.history_days < 7:
            notes.append(f"forecast from {forecast.history_days} day(s) of history only: a wide interval")
    if unpriced:
        notes.append(f"{unpriced:,} unpriced call(s) are not in the spend (tiermix prices list)")
    amount = budget.amount_usd
    exceeded_on = None
    running = 0.0
    for d, v in in_period:
        running += v[0]
        if running > amount and exceeded_on is None:
            exceeded_on = d
    runs_out = exceeded_on
    if runs_out is None and forecast is not None and forecast.daily:
        running = spent
        for d, v in forecast.daily:
            running += v
            if running > amount:
                runs_out = d
                break
    return BudgetStatus(
        budget=budget,
        period_start=start,
        period_end=end,
        spent_usd=spent,
        unpriced_calls=unpriced,
        spent_ratio=spent / amount,
        burn_rate_usd_per_day=burn,
        forecast=forecast,
        forecast_ratio=None if forecast is None else forecast.point / amount,
        runs_out_on=runs_out,
        exceeded_on=exceeded_on,
        note="; ".join(notes),
        spent_by_day=tuple((d, v[0]) for d, v in in_period),
    )
