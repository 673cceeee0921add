"""Period-end spend forecast with an interval, from trailing daily spend with weekday effects.

The model (docs/budgets.md), chosen to be simple enough to explain to a finance reader:

1. **History**: complete UTC days of spend up to yesterday, the last ``HISTORY_DAYS`` (before the
   period too: the first days of a month are forecast from the previous month's days, not from two
   data points), from the day after spend first appears (that first day is usually partial). Today's
   partial spend is known exactly and is added, not forecast.
2. **Weekday effects**: with at least ``WEEKDAY_MIN_DAYS`` of history, each weekday's factor is its mean
   spend over the overall mean (normalised to average 1). The series is divided by its factors
   (weekday-adjusted); the six factors estimated take six degrees of freedom from the interval.
3. **Trend**: an ordinary least-squares line through the adjusted series (a flat line with fewer than
   ``TREND_MIN_DAYS`` days, where a slope is noise). Each remaining day's forecast is the line at that
   day times the day's weekday factor, never below zero.
4. **Interval**: a prediction interval for the *sum* of the remaining days: the line's parameter
   uncertainty (which grows with the horizon) plus one residual variance per remaining day (residuals
   scaled by the weekday factors), with Student-t quantiles on the residual degrees of freedom, so a
   forecast from a handful of days is honestly wide. A one-day spike in the history widens the interval
   through the residuals rather than being extrapolated: the level is a robust fit (residuals beyond
   ``SPIKE_MADS`` median absolute deviations are down-weighted once, Huber-style).

Month-end = spend so far (complete days + today's partial) + the forecast for the rest of today and the
remaining days. With no history at all, there is no forecast (``None``), and the status says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist

HISTORY_DAYS = 56
WEEKDAY_MIN_DAYS = 14
TREND_MIN_DAYS = 10
SPIKE_MADS = 5.0
LEVEL = 0.95  # the interval's nominal coverage


@dataclass(frozen=True, slots=True)
class Forecast:
    point: float  # period-end spend, USD
    low: float
    high: float
    history_days: int  # complete days the model was fitted on
    weekday_effects: bool
    trend_per_day: float  # USD per day per day (0 when no trend was fitted)
    daily: tuple[tuple[date, float], ...]  # the forecast for each remaining day (today: its remainder)


def forecast_period_end(
    history: Sequence[tuple[date, float]],
    spent_so_far: float,
    today: date,
    today_elapsed: float,
    period_end: date,
) -> Forecast | None:
    """``history``: (day, USD) of complete days before ``today`` (any order, gaps = no spend recorded);
    ``spent_so_far``: the period's spend up to now (today's partial included); ``today_elapsed``: the
    fraction of today already past (0..1); ``period_end``: the first day after the period."""
    days = _window(history, today)
    if not days:
        return None
    if today >= period_end:  # the period is over: what was spent is the figure
        return Forecast(spent_so_far, spent_so_far, spent_so_far, len(days), False, 0.0, ())
    factors = _weekday_factors(days) if len(days) >= WEEKDAY_MIN_DAYS else None
    adjusted = [v / (factors[d.weekday()] if factors else 1.0) for d, v in days]
    xs = [(d - today).days for d, _ in days]  # negative: days before today
    slope_fit = len(days) >= TREND_MIN_DAYS
    # Six weekday factors were estimated from the same days: they take their degrees of freedom.
    fit = _robust_line(xs, adjusted, slope_fit, extra_params=6 if factors else 0)
    remaining = [(today + timedelta(days=k), k) for k in range((period_end - today).days)]
    weights = [(1.0 - today_elapsed) if k == 0 else 1.0 for _, k in remaining]
    factor_of = [(factors[d.weekday()] if factors else 1.0) for d, _ in remaining]
    daily = [
        max(0.0, (fit.a + fit.b * k) * f) * w
        for (_, k), f, w in zip(remaining, factor_of, weights, strict=True)
    ]
    point = spent_so_far + sum(daily)
    # Variance of the sum: parameters (a + b k summed with the day weights) plus one residual each.
    scale = [f * w for f, w in zip(factor_of, weights, strict=True)]
    sum_w = sum(scale)
    sum_wk = sum(s * k for s, (_, k) in zip(scale, remaining, strict=True))
    param_var = sum_w**2 * fit.var_a + sum_wk**2 * fit.var_b + 2 * sum_w * sum_wk * fit.cov_ab
    residual_var = fit.sigma2 * sum(s * s for s in scale)
    spread = math.sqrt(max(param_var + residual_var, 0.0))
    t = t_quantile(0.5 + LEVEL / 2, max(fit.dof, 1))
    low = max(spent_so_far, point - t * spread)
    high = point + t * spread
    return Forecast(
        point=point,
        low=low,
        high=high,
        history_days=len(days),
        weekday_effects=factors is not None,
        trend_per_day=fit.b if slope_fit else 0.0,
        daily=tuple((d, v) for (d, _), v in zip(remaining, daily, strict=True)),
    )


def _window(history: Sequence[tuple[date, float]], today: date) -> list[tuple[date, float]]:
    """The last HISTORY_DAYS complete days, from the first day with spend (a tenant that started last
    week has a week of history, not seven weeks of zeros); days without a row are zero."""
    seen = {d: float(v) for d, v in history if d < today and d >= today - timedelta(days=HISTORY_DAYS)}
    if not seen:
        return []
    first = min(d for d, v in seen.items() if v > 0) if any(v > 0 for v in seen.values()) else min(seen)
    if first < today - timedelta(days=1) and first > today - timedelta(days=HISTORY_DAYS):
        first += timedelta(days=1)  # the day spend first appears is usually partial: it is not a day's level
    span = (today - first).days
    return [(first + timedelta(days=i), seen.get(first + timedelta(days=i), 0.0)) for i in range(span)]


def _weekday_factors(days: list[tuple[date, float]]) -> list[float]:
    mean = sum(v for _, v in days) / len(days)
    if mean <= 0:
        return [1.0] * 7
    factors = []
    for weekday in range(7):
        own = [v for d, v in days if d.weekday() == weekday]
        if not own:
            factors.append(1.0)
            continue
        factors.append(max(1e-6, (sum(own) / len(own)) / mean))
    norm = sum(factors) / 7  # keep the factors' mean at 1: the level stays the mean daily spend
    return [f / norm for f in factors]


@dataclass(frozen=True, slots=True)
class _Line:
    a: float  # the level at today (x = 0)
    b: float
    var_a: float
    var_b: float
    cov_ab: float
    sigma2: float
    dof: int


def _robust_line(xs: list[int], ys: list[float], slope: bool, extra_params: int = 0) -> _Line:
    weights = [1.0] * len(ys)  # in the variance: Huber (a spike counts as a day that may recur, once)
    fit_weights = weights  # in the line: a spike day is left out, so it does not tilt the trend
    line = _weighted_line(xs, ys, fit_weights, slope)
    for _ in range(2):
        residuals = [y - (line.a + line.b * x) for x, y in zip(xs, ys, strict=True)]
        mad = _median([abs(r) for r in residuals]) * 1.4826
        if mad <= 0:
            break
        limit = SPIKE_MADS * mad
        weights = [1.0 if abs(r) <= limit else limit / abs(r) for r in residuals]
        fit_weights = [1.0 if abs(r) <= limit else 0.0 for r in residuals]
        line = _weighted_line(xs, ys, fit_weights, slope)
    # The residual variance with the same weights: a spike day counts, as a day that may recur, but not
    # as if every day were one.
    residuals = [y - (line.a + line.b * x) for x, y in zip(xs, ys, strict=True)]
    params = (2 if slope else 1) + extra_params
    dof = len(ys) - params
    weighted = sum(w * r * r for w, r in zip(weights, residuals, strict=True)) * len(ys) / sum(weights)
    sigma2 = weighted / dof if dof > 0 else (line.a * 0.5) ** 2
    n = len(ys)
    if not slope:
        return _Line(line.a, 0.0, sigma2 / n, 0.0, 0.0, sigma2, max(dof, 1))
    mean_x = sum(xs) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    var_b = sigma2 / sxx if sxx > 0 else 0.0
    var_a = sigma2 / n + mean_x**2 * var_b  # the intercept at x = 0 (today)
    cov_ab = -mean_x * var_b
    return _Line(line.a, line.b, var_a, var_b, cov_ab, sigma2, dof)


def _weighted_line(xs: list[int], ys: list[float], ws: list[float], slope: bool) -> _Line:
    total = sum(ws)
    mean_y = sum(w * y for w, y in zip(ws, ys, strict=True)) / total
    if not slope:
        return _Line(mean_y, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    mean_x = sum(w * x for w, x in zip(ws, xs, strict=True)) / total
    sxx = sum(w * (x - mean_x) ** 2 for w, x in zip(ws, xs, strict=True))
    sxy = sum(w * (x - mean_x) * (y - mean_y) for w, x, y in zip(ws, xs, ys, strict=True))
    b = sxy / sxx if sxx > 0 else 0.0
    return _Line(mean_y - b * mean_x, b, 0.0, 0.0, 0.0, 0.0, 0)


def t_quantile(p: float, dof: int) -> float:
    """Student-t quantile: exact for 1 and 2 degrees of freedom, Hill's expansion (within 1e-3) above."""
    if dof == 1:
        return math.tan(math.pi * (p - 0.5))
    if dof == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    v = float(dof)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
