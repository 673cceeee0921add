"""Every metric recomputed in plain Python from the rows a test generated (docs/architecture.md, metrics;
row by row).

Deliberately naive (lists, dicts, sorting) and independent of the SQL in tiermix_server.metrics, so the
API is checked against a second reading of the definitions, not against itself.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.support.calls import CallRow

TOP = "frontier"
BOTTOM = "small"


def in_range(rows: Iterable[CallRow], start: datetime, end: datetime, **equal: str) -> list[CallRow]:
    return [
        r
        for r in rows
        if start <= r.ts < end and all(getattr(r, key) == value for key, value in equal.items())
    ]


def share(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def summary(rows: list[CallRow]) -> dict[str, Any]:
    answered = [r for r in rows if r.final]
    requests = [r for r in rows if r.attempt == 0]
    eligible = [r for r in requests if r.tier != TOP]
    escalated = {r.request_id for r in rows if r.escalated} - unseen_escalated_requests(rows)
    cost = sum(r.cost_usd for r in rows)
    return {
        "calls": len(rows),
        "requests": len(requests),
        "answered": len(answered),
        "eligible_requests": len(eligible),
        "escalated_requests": len(escalated),
        "escalations": sum(r.escalated for r in rows),
        "failovers": sum(r.failover for r in rows),
        "errors": sum(r.status == "error" for r in rows),
        "unpriced_calls": sum(r.unpriced for r in rows),
        "input_tokens": sum(r.input_tokens for r in rows),
        "output_tokens": sum(r.output_tokens for r in rows),
        "cost_usd": cost,
        "escalation_overhead_usd": sum(r.cost_usd for r in rows if r.escalated),
        "frontier_share": share(sum(r.tier == TOP for r in answered), len(answered)),
        "frontier_share_calls": share(sum(r.tier == TOP for r in rows), len(rows)),
        "escalation_rate": share(len(escalated), len(eligible)),
        "cost_per_request_usd": share(cost, len(requests)),
        "error_rate": share(sum(r.status == "error" for r in rows), len(rows)),
        "unpriced_share": share(sum(r.unpriced for r in rows), len(rows)),
    }


def first_escalations(rows: list[CallRow]) -> dict[int, CallRow]:
    """request_id -> its first (lowest-attempt) escalated row among ``rows``."""
    first: dict[int, CallRow] = {}
    for r in sorted(rows, key=lambda r: r.attempt):
        if r.escalated:
            first.setdefault(r.request_id, r)
    return first


def unseen_escalated_requests(rows: list[CallRow]) -> set[int]:
    """Escalated requests the rollups cannot see (docs/api.md): the first escalation is a later attempt
    above the bottom tier (the request started above it and failed over first, or its first attempt is
    outside the range)."""
    return {rid for rid, r in first_escalations(rows).items() if r.attempt > 0 and r.tier != BOTTOM}


def floor_to(ts: datetime, interval: str) -> datetime:
    if interval == "1m":
        return ts.replace(second=0, microsecond=0)
    if interval == "1h":
        return ts.replace(minute=0, second=0, microsecond=0)
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def mix(rows: list[CallRow], by: str, interval: str) -> list[dict[str, Any]]:
    cells: dict[tuple[datetime, str], list[CallRow]] = defaultdict(list)
    for r in rows:
        cells[(floor_to(r.ts, interval), getattr(r, by))].append(r)
    out = []
    for (bucket, key), members in sorted(cells.items()):
        same_bucket = [r for r in rows if floor_to(r.ts, interval) == bucket]
        out.append(
            {
                "bucket": bucket.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "key": key,
                "calls": len(members),
                "requests": sum(r.attempt == 0 for r in members),
                "answered": sum(r.final for r in members),
                "input_tokens": sum(r.input_tokens for r in members),
                "output_tokens": sum(r.output_tokens for r in members),
                "cost_usd": sum(r.cost_usd for r in members),
                "share_calls": share(len(members), len(same_bucket)),
                "share_cost": share(sum(r.cost_usd for r in members), sum(r.cost_usd for r in same_bucket)),
                "share_answered": share(sum(r.final for r in members), sum(r.final for r in same_bucket)),
            }
        )
    return out


def quantile_exact(values: list[float], level: float) -> float:
    """ClickHouse's quantileExact: the element at index floor(level * n) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.floor(level * len(ordered)))]


def request_costs(rows: list[CallRow]) -> list[float]:
    per_request: dict[int, float] = defaultdict(float)
    for r in rows:
        per_request[r.request_id] += r.cost_usd
    return list(per_request.values())


def by_reason(rows: list[CallRow]) -> dict[tuple[str, str], dict[str, Any]]:
    """Abandoned attempts per (kind, reason); for escalations also the requests whose *first*
    escalation had that reason (minus the documented blind spot, see ``unseen_escalated_requests``)."""
    first = first_escalations(rows)
    unseen = unseen_escalated_requests(rows)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if not (r.escalated or r.failover):
            continue
        kind = "escalation" if r.escalated else "failover"
        cell = out.setdefault((kind, r.escalation_reason), {"attempts": 0, "requests": 0, "cost_usd": 0.0})
        cell["attempts"] += 1
        cell["cost_usd"] += r.cost_usd
        if kind == "escalation" and first[r.request_id] is r and r.request_id not in unseen:
            cell["requests"] += 1
    for (kind, _), cell in out.items():
        if kind == "failover":
            cell["requests"] = None
    return out


def baseline_model(rows: list[CallRow], route: str) -> str | None:
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.tier == TOP and r.route == route:
            counts[r.model] += 1
    if not counts:
        return None
    return sorted(counts, key=lambda m: (-counts[m], m))[0]


def savings(rows: list[CallRow], price: Callable[[str, CallRow], float]) -> tuple[float, float]:
    """(baseline cost, actual cost): each priced answering attempt repriced at its route's baseline."""
    baseline = 0.0
    for r in rows:
        if r.final and not r.unpriced:
            model = baseline_model(rows, r.route)
            assert model is not None
            baseline += price(model, r)
    return baseline, sum(r.cost_usd for r in rows)


def as_utc(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc)


HOUR = timedelta(hours=1)
