"""Reconciliation: what the providers billed against what tiermix tracked, per day x provider x model.

- **billed**: the bill lines of each (source, day)'s latest sync (bills/store.py), per provider and
  model (``model_key``: no date stamp, lower case; lines naming no model are model ``""``).
- **tracked**: the priced cost of every call in every environment (shadow replays are billed too), from
  the hourly rollup, per the same keys; plus the calls' tokens, unpriced calls, and calls that returned
  no usage at all (``price_source = no_usage``, from the raw calls).
- **coverage** = tracked / billed (None where nothing was billed), and **gap** = billed - tracked.

Each row's gap is attributed to the causes its data shows, in this order, each taking at most what is
left of the gap (``causes``, USD each; estimates where they scale by tokens or calls):

1. ``absent_from_telemetry``: the bill has the model, telemetry has no call of it: the whole gap; and
   ``absent_from_bill``: telemetry has calls of a model the bill does not list (a bill without per-model
   lines, or calls the provider did not charge): the whole (negative) gap;
2. ``usage_less_calls`` / ``unpriced_calls``: calls of the model tiermix could not price (no usage
   reported, or no price for the model), valued at the model's tracked cost per priced call;
3. ``untracked_usage``: the provider's usage report has more tokens than telemetry: the tracked cost
   scaled by the missing share of tokens;
4. ``price_differs``: tokens agree within ``TOKEN_TOLERANCE`` and the cost does not: the bill's price per
   token differs from the price book's (a price change, a discount, a batch or priority tier);
5. ``unexplained``: what is left.

A negative gap (tracked above billed) is reported as is, with the causes that can make it (a price
book above the bill, calls the provider did not bill); coverage above 1 says so.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# bound parameter.
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

# The latest sync of every (source, day) of the bill tables (migration 0007): what readers join on.
LATEST_SYNCS = "SELECT source, day, max(sync_id) AS sync_id FROM bill_days GROUP BY source, day"
_DATE_SUFFIX = re.compile(r"[-@](?:\d{4}-\d{2}-\d{2}|\d{8})$")
TOKEN_TOLERANCE = 0.01
CENT = 0.005  # gaps under half a cent are rounding, not a cause


@dataclass
class Row:
    day: date
    provider: str
    model: str  # model_key of the bill's and telemetry's names; "" = lines naming no model
    billed_usd: float = 0.0
    tracked_usd: float = 0.0
    calls: int = 0
    unpriced_calls: int = 0
    usage_less_calls: int = 0
    tracked_tokens: int = 0
    billed_tokens: int | None = None  # the provider's usage report, where it has one
    billed_requests: int | None = None
    causes: dict[str, float] = field(default_factory=dict)

    @property
    def gap_usd(self) -> float:
        return self.billed_usd - self.tracked_usd

    @property
    def coverage(self) -> float | None:
        return self.tracked_usd / self.billed_usd if self.billed_usd > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(), "provider": self.provider, "model": self.model or None,
            "billed_usd": self.billed_usd, "tracked_usd": self.tracked_usd, "gap_usd": self.gap_usd,
            "coverage": self.coverage, "calls": self.calls, "unpriced_calls": self.unpriced_calls,
            "usage_less_calls": self.usage_less_calls, "tracked_tokens": self.tracked_tokens,
            "billed_tokens": self.billed_tokens, "billed_requests": self.billed_requests,
            "causes": {name: usd for name, usd in self.causes.items() if abs(usd) >= CENT},
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reconciliation:
    start: date
    end: date
    rows: list[Row]  # day x provider x model
    days: list[dict[str, Any]]  # day x provider totals
    billed_usd: float
    tracked_usd: float
    causes: dict[str, float]
    sources: list[str]

    @property
    def coverage(self) -> float | None:
        return self.tracked_usd / self.billed_usd if self.billed_usd > 0 else None


def model_key(name: str) -> str:
    """How a bill's model names meet telemetry's: providers bill ``gpt-4o-mini-2024-07-18`` or
    ``claude-3-5-haiku-20241022`` where a call may record ``gpt-4o-mini``: no date stamp, lower case."""
    return _DATE_SUFFIX.sub("", name.strip().lower())


def reconcile(client: Any, start: date, end: date, provider: str | None = None) -> Reconciliation:
    """Days ``[start, end)``; only providers some bill covers are compared (telemetry of a provider with
    no bill source has nothing to be reconciled with)."""
    params: dict[str, Any] = {"start": start, "end": end}
    if provider:
        params["provider"] = provider

    def provider_filter(prefix: str = "") -> str:
        return f" AND {prefix}provider = {{provider:String}}" if provider else ""

    billed = client.query(
        "SELECT l.day, l.provider, l.model, l.line_item, sum(l.cost_usd), any(l.source) FROM bill_lines AS l "
        f"INNER JOIN ({LATEST_SYNCS}) AS s "
        "ON l.source = s.source AND l.day = s.day AND l.sync_id = s.sync_id "
        "WHERE l.day >= {start:Date} AND l.day < {end:Date}"
        + provider_filter("l.")
        + " GROUP BY l.day, l.provider, l.model, l.line_item",
        parameters=params,
    ).result_rows
    usage = client.query(
        "SELECT u.day, u.provider, u.model, sum(u.input_tokens + u.output_tokens), sum(u.requests) "
        f"FROM bill_usage AS u INNER JOIN ({LATEST_SYNCS}) AS s "
        "ON u.source = s.source AND u.day = s.day AND u.sync_id = s.sync_id "
        "WHERE u.day >= {start:Date} AND u.day < {end:Date}"
        + provider_filter("u.")
        + " GROUP BY u.day, u.provider, u.model",
        parameters=params,
    ).result_rows
    covered = client.query(
        f"SELECT DISTINCT d.source, d.day FROM ({LATEST_SYNCS}) AS d "
        "WHERE d.day >= {start:Date} AND d.day < {end:Date}",
        parameters=params,
    ).result_rows
    rows: dict[tuple[date, str, str], Row] = {}

    def row(day: date, prov: str, model: str) -> Row:
        key = (day, prov, model_key(model))
        if key not in rows:
            rows[key] = Row(day, prov, key[2])
        return rows[key]

    billed_providers: set[tuple[date, str]] = set()
    for day, prov, model, _item, cost, _source in billed:
        row(day, prov, model).billed_usd += float(cost)
        billed_providers.add((day, prov))
    for day, prov, model, tokens, requests in usage:
        r = row(day, prov, model)
        r.billed_tokens = (r.billed_tokens or 0) + int(tokens)
        r.billed_requests = (r.billed_requests or 0) + int(requests)
        billed_providers.add((day, prov))
    tracked = client.query(
        "SELECT toDate(bucket) AS day, provider, model, sum(cost_usd), sum(calls), sum(unpriced), "
        "sum(input_tokens + output_tokens) FROM llm_calls_1h "
        "WHERE bucket >= toDateTime({start:Date}, 'UTC') AND bucket < toDateTime({end:Date}, 'UTC')"
        + provider_filter()
        + " GROUP BY day, provider, model",
        parameters=params,
    ).result_rows
    usage_less = client.query(
        "SELECT toDate(ts) AS day, provider, model, count() FROM llm_calls "
        "WHERE ts >= toDateTime64({start:Date}, 6, 'UTC') AND ts < toDateTime64({end:Date}, 6, 'UTC') "
        "AND price_source = 'no_usage'" + provider_filter() + " GROUP BY day, provider, model",
        parameters=params,
    ).result_rows
    for day, prov, model, cost, calls, unpriced, tokens in tracked:
        if (day, prov) not in billed_providers:
            continue
        r = row(day, prov, model)
        r.tracked_usd += float(cost)
        r.calls += int(calls)
        r.unpriced_calls += int(unpriced)
        r.tracked_tokens += int(tokens)
    for day, prov, model, count in usage_less:
        if (day, prov) in billed_providers:
            row(day, prov, model).usage_less_calls += int(count)
    ordered = sorted(rows.values(), key=lambda r: (r.day, r.provider, r.model))
    for r in ordered:
        r.causes = attribute(r)
    return _summarise(start, end, ordered, sorted({str(s) for s, _ in covered}))


def attribute(r: Row) -> dict[str, float]:
    """The row's gap split over its causes (module docstring), in order; the rest is unexplained."""
    left = r.gap_usd
    causes: dict[str, float] = {}

    def take(name: str, amount: float) -> None:
        nonlocal left
        share = max(0.0, min(amount, left)) if left > 0 else min(0.0, max(amount, left))
        if share:
            causes[name] = causes.get(name, 0.0) + share
            left -= share

    if abs(left) < CENT:
        return causes
    if r.calls == 0 and r.billed_usd > 0:
        take("absent_from_telemetry", left)
    if r.billed_usd == 0 and r.tracked_usd > 0:
        take("absent_from_bill", left)
    priced = r.calls - r.unpriced_calls
    per_call = r.tracked_usd / priced if priced > 0 else None
    if r.usage_less_calls and left > 0:
        take("usage_less_calls", r.usage_less_calls * per_call if per_call else left)
    other_unpriced = r.unpriced_calls - r.usage_less_calls
    if other_unpriced > 0 and left > 0:
        take("unpriced_calls", other_unpriced * per_call if per_call else left)
    if r.billed_tokens is not None and r.tracked_tokens > 0:
        ratio = r.billed_tokens / r.tracked_tokens - 1
        if abs(ratio) > TOKEN_TOLERANCE:
            take("untracked_usage", r.tracked_usd * ratio)
        elif r.calls:
            take("price_differs", left)
    if abs(left) >= CENT:
        causes["unexplained"] = causes.get("unexplained", 0.0) + left
    return causes


def _summarise(start: date, end: date, rows: list[Row], sources: list[str]) -> Reconciliation:
    by_day: dict[tuple[date, str], dict[str, Any]] = {}
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        fresh = {"day": r.day.isoformat(), "provider": r.provider, "billed_usd": 0.0, "tracked_usd": 0.0,
                 "causes": {}}  # fmt: skip
        entry = by_day.setdefault((r.day, r.provider), fresh)
        entry["billed_usd"] += r.billed_usd
        entry["tracked_usd"] += r.tracked_usd
        for name, usd in r.causes.items():
            entry["causes"][name] = entry["causes"].get(name, 0.0) + usd
            totals[name] += usd
    days = []
    for entry in by_day.values():
        billed, tracked = entry["billed_usd"], entry["tracked_usd"]
        entry.update(gap_usd=billed - tracked, coverage=tracked / billed if billed > 0 else None)
        entry["causes"] = {k: v for k, v in entry["causes"].items() if abs(v) >= CENT}
        days.append(entry)
    billed_total = sum(r.billed_usd for r in rows)
    tracked_total = sum(r.tracked_usd for r in rows)
    return Reconciliation(start, end, rows, days, billed_total, tracked_total,
                          {k: v for k, v in totals.items() if abs(v) >= CENT}, sources)  # fmt: skip


def monthly_coverage(client: Any, start: date, end: date) -> dict[tuple[str, str], float | None]:
    """(``YYYY-MM``, provider) → tracked / billed over the billed days of that month in ``[start, end)``."""
    found = reconcile(client, start.replace(day=1), end + timedelta(days=1))
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day in found.days:
        key = (day["day"][:7], day["provider"])
        sums[key][0] += day["billed_usd"]
        sums[key][1] += day["tracked_usd"]
    return {key: (tracked / billed if billed > 0 else None) for key, (billed, tracked) in sums.items()}
