"""The month-end forecast's interval covers the true month-end on synthetic spend with known truth.

Each scenario draws daily spend from a known process (noise included) for 56 days before a 30-day month
and through it; the forecast is made on day 5, 15 and 25 of the month from what was known then, and
compared with the month's real total. Across 100 seeds per scenario and forecast day the 95% interval
must cover the truth at least 90% of the time (the issue's bar), and must not be uselessly wide.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from tiermix_server.metrics.forecast import forecast_period_end, t_quantile

MONTH_START = date(2026, 6, 1)
MONTH_END = date(2026, 7, 1)
SEEDS = 100

Spend = Callable[[int, date, random.Random], float]  # (day index from the start of history, day, rng)


def flat(i: int, day: date, rng: random.Random) -> float:
    return max(0.0, rng.gauss(100.0, 15.0))


def trend(i: int, day: date, rng: random.Random) -> float:
    return max(0.0, rng.gauss(40.0 + 1.2 * i, 10.0))  # growing ~1.2 USD a day, every day


def weekday(i: int, day: date, rng: random.Random) -> float:
    base = 20.0 if day.weekday() >= 5 else 120.0  # a business workload: quiet weekends
    return max(0.0, rng.gauss(base, base * 0.12))


def spike(i: int, day: date, rng: random.Random) -> float:
    value = max(0.0, rng.gauss(100.0, 12.0))
    return value * 8 if day == MONTH_START - timedelta(days=3) else value  # a one-day incident, 8x


def series(process: Spend, seed: int) -> list[tuple[date, float]]:
    rng = random.Random(seed)
    first = MONTH_START - timedelta(days=56)
    days = (MONTH_END - first).days
    return [(first + timedelta(days=i), process(i, first + timedelta(days=i), rng)) for i in range(days)]


@pytest.mark.parametrize("process", [flat, trend, weekday, spike], ids=lambda p: p.__name__)
@pytest.mark.parametrize("on_day", [5, 15, 25])
def test_the_interval_covers_the_true_month_end_in_at_least_90_percent_of_seeds(
    process: Spend, on_day: int
) -> None:
    today = MONTH_START + timedelta(days=on_day - 1)
    covered, widths = 0, []
    for seed in range(SEEDS):
        days = series(process, seed)
        truth = sum(v for d, v in days if MONTH_START <= d < MONTH_END)
        elapsed = 0.5  # noon: half of today's spend is known
        today_value = next(v for d, v in days if d == today)
        spent = sum(v for d, v in days if MONTH_START <= d < today) + today_value * elapsed
        history = [(d, v) for d, v in days if d < today]
        found = forecast_period_end(history, spent, today, elapsed, MONTH_END)
        assert found is not None
        assert found.low <= found.point <= found.high
        # today's remainder is forecast, not known: the truth adds what today still spent
        covered += found.low <= truth <= found.high
        widths.append((found.high - found.low) / truth)
    assert covered / SEEDS >= 0.90, (process.__name__, on_day, covered)
    assert sorted(widths)[SEEDS // 2] < 0.5, "an interval this wide says nothing"


def test_weekday_effects_and_the_trend_are_found_where_they_are() -> None:
    today = MONTH_START + timedelta(days=9)
    days = series(weekday, 1)
    found = forecast_period_end([(d, v) for d, v in days if d < today], 0.0, today, 0.0, MONTH_END)
    assert found is not None and found.weekday_effects
    by_day = dict(found.daily)
    saturday = next(d for d in by_day if d.weekday() == 5)
    monday = next(d for d in by_day if d.weekday() == 0)
    assert by_day[monday] > 4 * by_day[saturday]
    days = series(trend, 1)
    found = forecast_period_end([(d, v) for d, v in days if d < today], 0.0, today, 0.0, MONTH_END)
    assert found is not None and 0.8 < found.trend_per_day < 1.6


def test_little_history_gives_a_wide_honest_interval_and_none_gives_no_forecast() -> None:
    today = MONTH_START + timedelta(days=1)
    # four days of spend; the first, when spend first appeared, is taken as partial and left out
    four_days = [(MONTH_START - timedelta(days=k), 100.0 + 10 * k) for k in (0, 1, 2, 3)]
    found = forecast_period_end(four_days, 100.0, today, 0.0, MONTH_END)
    assert found is not None and found.history_days == 3 and not found.weekday_effects
    assert found.trend_per_day == 0.0
    assert (found.high - found.low) / found.point > 0.2
    assert found.low >= 100.0, "never below what is already spent"
    assert forecast_period_end([], 0.0, today, 0.0, MONTH_END) is None
    over = forecast_period_end(four_days, 500.0, MONTH_END, 0.0, MONTH_END)
    assert over is not None and over.point == over.low == over.high == 500.0


def test_t_quantiles() -> None:
    for dof, expected in [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (60, 2.000)]:
        assert t_quantile(0.975, dof) == pytest.approx(expected, abs=3e-3)
