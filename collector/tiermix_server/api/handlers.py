"""The body of each ``/api/v1/*`` endpoint: parsed ``Query`` in, response out (routing in api/routes.py).

Handlers only translate: parameters → metric call → response shape of docs/api.md. Every number comes
from ``tiermix_server.metrics``.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from typing import Any

from starlette.responses import Response

from tiermix_server.api import params
from tiermix_server.api.query import Query, now_utc
from tiermix_server.api.render import respond
from tiermix_server.errors import BadRequest, NotFound
from tiermix_server.gc_pause import cycle_collection_paused
from tiermix_server.metrics import calls as calls_metric
from tiermix_server.metrics.chargeback import chargeback
from tiermix_server.metrics.cost import cost_rows, cost_with_percentiles
from tiermix_server.metrics.dimensions import dimensions
from tiermix_server.metrics.drift import DEFAULT_JS_THRESHOLD, DEFAULT_PSI_THRESHOLD, drift
from tiermix_server.metrics.escalations import escalations, reasons_over_time
from tiermix_server.metrics.filters import Filters, GroupBy
from tiermix_server.metrics.health import data_health
from tiermix_server.metrics.mix import MIX_KEYS, mix
from tiermix_server.metrics.opportunities import opportunities
from tiermix_server.metrics.savings import BaselineChoice, Savings, savings_from
from tiermix_server.metrics.sources import DAY_S, ceil_to_step, floor_to_step
from tiermix_server.metrics.summary import scope_rows, summarise
from tiermix_server.metrics.whatif import whatif

_BASELINE_ROUTE_PREFIX = "baseline_model."


def _baseline(q: Query) -> BaselineChoice:
    per_route = {}
    for key, value in q.query.multi_items():
        if key.startswith(_BASELINE_ROUTE_PREFIX) and value:
            per_route[key[len(_BASELINE_ROUTE_PREFIX) :][: params.MAX_TEXT_CHARS]] = value[
                : params.MAX_TEXT_CHARS
            ]
    return BaselineChoice(params.text(q.query, "baseline_model"), per_route)


def _savings_fields(found: Savings | None) -> dict[str, Any]:
    if found is None:
        return {"baseline_models": [], "baseline_cost_usd": None, "savings_usd": None}
    return {
        "baseline_models": list(found.baseline_models),
        "baseline_cost_usd": found.baseline_cost_usd,
        "savings_usd": found.savings_usd,
    }


def _by_group(rows: list[Savings], group_by: GroupBy) -> dict[tuple[str, ...], Savings]:
    return {tuple(row.group[c] for c in group_by.columns): row for row in rows}


def summary_view(q: Query) -> Response:
    group_by = params.group_by(q.query)
    scope = scope_rows(q.client, q.filters, group_by)
    found = _by_group(savings_from(scope, q.filters, group_by, _baseline(q)), group_by)
    rows = []
    for item in summarise(scope, q.filters, group_by):
        row = item.to_dict()
        row.update(_savings_fields(found.get(tuple(item.group[c] for c in group_by.columns))))
        row["savings_is_estimate"] = True
        rows.append(row)
    # Which tiers "frontier share" and "escalated from the bottom" were measured against.
    head = {"start": q.filters.start, "end": q.filters.end, "top_tier": q.filters.top_tier,
            "bottom_tier": q.filters.bottom_tier}  # fmt: skip
    payload = {**head, **rows[0]} if not group_by.columns else {**head, "rows": rows}
    return respond(payload, q.fmt, name="summary")


def mix_view(q: Query) -> Response:
    by = params.choice(q.query, "by", MIX_KEYS, "tier")
    interval = q.query.get("interval") or "1h"
    group_by = params.group_by(q.query)
    rows = [
        {
            "bucket": r.bucket,
            **r.group,
            "key": r.key,
            "calls": r.calls,
            "requests": r.requests,
            "answered": r.answered,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cost_usd": r.cost_usd,
            "share_calls": r.share_calls,
            "share_cost": r.share_cost,
            "share_answered": r.share_answered,
        }
        for r in mix(q.client, q.filters, by, interval, group_by)
    ]
    payload = {"by": by, "interval": interval, "group_by": list(group_by.columns), "rows": rows}
    return respond(payload, q.fmt, name=f"mix_by_{by}")


def cost_view(q: Query) -> Response:
    group_by = params.group_by(q.query)
    interval = q.query.get("interval") or ""
    if interval:
        interval = params.choice(q.query, "interval", ("1h", "1d"), "1h")
        params.filters(q.query, lambda: q.filters.end, interval)  # re-check the range for this interval
        rows, rate = cost_rows(q.client, q.filters, group_by, interval), None
        found: dict[tuple[str, ...], Savings] = {}
    else:
        scope = scope_rows(q.client, q.filters, group_by)
        wanted = params.choice(q.query, "percentiles", ("true", "false"), "true") == "true"
        rows, rate = cost_with_percentiles(q.client, q.filters, group_by, percentiles=wanted, rows=scope)
        found = _by_group(savings_from(scope, q.filters, group_by, _baseline(q)), group_by)
    out = []
    for row in rows:
        item: dict[str, Any] = {"bucket": row.bucket} if interval else {}
        item.update(row.group)
        item.update(
            requests=row.requests,
            calls=row.calls,
            cost_usd=row.cost_usd,
            cost_per_request_usd=row.cost_per_request_usd,
            p50_usd=row.p50_usd,
            p95_usd=row.p95_usd,
            escalation_overhead_usd=row.escalation_overhead_usd,
            unpriced_calls=row.unpriced_calls,
        )
        if not interval:
            item.update(_savings_fields(found.get(tuple(row.group[c] for c in group_by.columns))))
        out.append(item)
    payload = {
        "savings_is_estimate": True,
        "percentile_sample_rate": rate,
        "rows": out,
    }
    return respond(payload, q.fmt, name="cost")


def escalations_view(q: Query) -> Response:
    group_by = params.group_by(q.query)
    view = params.choice(q.query, "view", ("rows", "reasons", "over_time"), "rows")
    result = escalations(q.client, q.filters, group_by)
    rows = [
        {
            **s.group,
            "requests": s.requests,
            "eligible_requests": s.eligible_requests,
            "escalated_requests": s.escalated_requests,
            "escalation_rate": s.escalation_rate,
            "escalations": s.escalations,
            "failovers": s.failovers,
            "escalation_overhead_usd": s.escalation_overhead_usd,
            "failover_cost_usd": failover_cost,
        }
        for s, failover_cost in result.rows
    ]
    reasons = [
        {
            **r.group,
            "kind": r.kind,
            "reason": r.reason,
            "attempts": r.attempts,
            "requests": r.requests,
            "cost_usd": r.cost_usd,
            "rate": r.rate,
        }
        for r in result.by_reason
    ]
    payload: dict[str, Any] = {"rows": rows, "by_reason": reasons}
    interval = q.query.get("interval") or ""
    if interval:  # reasons per clock-aligned bucket, as /mix buckets them
        interval = params.choice(q.query, "interval", ("1m", "1h", "1d"), "1h")
        params.filters(q.query, lambda: q.filters.end, interval)  # re-check the range for this interval
        payload["interval"] = interval
        payload["over_time"] = [
            {
                "bucket": b.bucket,
                "kind": b.kind,
                "reason": b.reason,
                "attempts": b.attempts,
                "cost_usd": b.cost_usd,
            }
            for b in reasons_over_time(q.client, q.filters, interval)
        ]
    csv_rows = {"reasons": reasons, "over_time": payload.get("over_time", [])}.get(view, rows)
    return respond(payload, q.fmt, csv_rows=csv_rows, name="escalations")


def drift_view(q: Query) -> Response:
    window = params.duration(q.query, "window", timedelta(hours=1))
    baseline = params.duration(q.query, "baseline", timedelta(days=7))
    if window + baseline > params.MAX_RANGE[""]:
        raise BadRequest("window + baseline is too large: at most 3660 days")
    view = params.choice(q.query, "view", ("rows", "segments"), "rows")
    js_threshold = params.threshold(q.query, "js_threshold", DEFAULT_JS_THRESHOLD)
    psi_threshold = params.threshold(q.query, "psi_threshold", DEFAULT_PSI_THRESHOLD)
    result = drift(
        q.client, q.filters, window, baseline, js_threshold=js_threshold, psi_threshold=psi_threshold
    )
    rows = [
        {
            "tenant": r.tenant,
            "route": r.route,
            "baseline_calls": r.baseline_calls,
            "current_calls": r.current_calls,
            "js_distance": r.js_distance,
            "psi": r.psi,
            "drifted": r.drifted,
            "new_models": list(r.new_models),
            "frontier_share_baseline": r.frontier_share_baseline,
            "frontier_share_current": r.frontier_share_current,
        }
        for r in result.routes
    ]
    d = result.frontier
    segments = [
        {
            "tenant": s.key[0],
            "route": s.key[1],
            "weight_baseline": s.weight_baseline,
            "weight_current": s.weight_current,
            "share_baseline": s.share_baseline,
            "share_current": s.share_current,
            "traffic_shift": s.traffic_shift,
            "routing_shift": s.routing_shift,
        }
        for s in d.segments
    ]
    payload = {
        "window_start": result.window_start,
        "window_end": result.window_end,
        "baseline_start": result.baseline_start,
        "baseline_end": result.baseline_end,
        "js_threshold": js_threshold,
        "psi_threshold": psi_threshold,
        "rows": rows,
        "frontier_share": {
            "baseline": d.baseline,
            "current": d.current,
            "change": d.change,
            "traffic_shift": d.traffic_shift,
            "routing_shift": d.routing_shift,
            "by_segment": segments,
        },
    }
    return respond(payload, q.fmt, csv_rows=segments if view == "segments" else rows, name="drift")


def calls_view(q: Query) -> Response:
    request_id = q.query.get("request_id")
    query = calls_metric.CallQuery(
        request_id=params.hex_id(request_id, "request_id") if request_id else None,
        status=params.text(q.query, "status"),
        provider=params.text(q.query, "provider"),
        limit=params.integer(q.query, "limit", 100, 1, 1000),
        cursor=params.text(q.query, "cursor"),
    )
    try:
        rows, next_cursor = calls_metric.list_calls(q.client, q.filters, query)
    except calls_metric.BadCursor as exc:
        raise BadRequest(str(exc)) from None
    return respond({"rows": rows, "next_cursor": next_cursor}, q.fmt, name="calls")


def request_view(q: Query) -> Response:
    request_id = params.hex_id(str(q.path_params["request_id"]), "request_id")
    found = calls_metric.request_detail(q.client, request_id, q.filters.tenant)
    if found is None:
        raise NotFound(f"no request {request_id:016x}")
    return respond(found, q.fmt, csv_rows=found["attempts"], name=f"request_{request_id:016x}")


def data_health_view(q: Query) -> Response:
    return respond(data_health(q.client, q.filters).to_dict(), q.fmt, name="data_health")


OPPORTUNITY_WINDOW = timedelta(days=30)
OPPORTUNITY_ROWS = 100  # the ranked list's default length; totals always cover every route
MAX_OPPORTUNITY_ROWS = 10_000


def _right_sizing_window(q: Query) -> Filters:
    """30 days before ``end`` unless ``start`` is given, in whole UTC days: right-sizing reads the daily
    first-attempt rollup, so a window's partial days would cost a scan of raw calls (the response's
    ``start`` and ``end`` say which days were read)."""
    filters = q.filters
    start = filters.start if q.query.get("start") else filters.end - OPPORTUNITY_WINDOW
    return filters.with_range(floor_to_step(start, DAY_S), ceil_to_step(filters.end, DAY_S))


def opportunities_view(q: Query) -> Response:
    """Ranked right-sizing opportunities (metrics/opportunities.py); the window defaults to 30 days."""
    from tiermix_server.pricing.enricher import running_enricher

    filters = _right_sizing_window(q)
    quote = running_enricher(q.runtime).quote
    # the last day of the window runs on to midnight: no call is later than now
    with cycle_collection_paused():
        found = opportunities(q.client, filters, q.tier_list, quote, until=min(filters.end, now_utc()))
    limit = params.integer(q.query, "limit", OPPORTUNITY_ROWS, 1, MAX_OPPORTUNITY_ROWS)
    head = {f.name: getattr(found, f.name) for f in fields(found) if f.name != "rows"}
    rows = [row.to_dict() for row in found.rows[:limit]]
    payload = {**head, "savings_is_estimate": True, "routes": len(found.rows), "rows": rows}
    csv_rows = [
        {k: v for k, v in row.items() if k not in ("bands", "requests_by_tier", "spend_by_tier")}
        for row in rows
    ]
    return respond(payload, q.fmt, csv_rows=csv_rows, name="opportunities")


def whatif_view(q: Query) -> Response:
    """What another threshold on the route's router score would do (metrics/whatif.py); 30 days."""
    from tiermix_server.pricing.enricher import running_enricher

    if q.filters.route is None:
        raise BadRequest("route is required: the what-if is about one route's router")
    filters = _right_sizing_window(q)
    router = params.text(q.query, "router")
    found = whatif(q.client, filters, q.tier_list, running_enricher(q.runtime).quote, router)
    payload = found.to_dict()
    return respond(payload, q.fmt, csv_rows=payload["curve"], name="routing_whatif")


def chargeback_view(q: Query) -> Response:
    """The chargeback rows, each with ``x_BillCoverage``: how much of its provider's bill for the month
    tiermix tracked (docs/reconciliation.md). Null where no bill covers it, and for a tenant-bound key
    (the bill is the organization's)."""
    from tiermix_server.metrics.reconciliation import monthly_coverage

    rows = chargeback(q.client, q.filters)
    coverage = (
        monthly_coverage(q.client, q.filters.start.date(), q.filters.end.date()) if q.organization else {}
    )
    for row in rows:
        row["x_BillCoverage"] = coverage.get((f"{row['BillingPeriodStart']:%Y-%m}", row["ProviderName"]))
    return respond({"rows": rows}, q.fmt, name="chargeback")


def dimensions_view(q: Query) -> Response:
    """The tenants, routes and environments with calls in the range (a tenant key: its own only)."""
    found = dimensions(q.client, q.filters)
    payload = {"tenants": found.tenants, "routes": found.routes, "environments": found.environments}
    listed = [{"dimension": name, "value": value} for name, values in payload.items() for value in values]
    return respond(payload, q.fmt, csv_rows=listed, name="dimensions")
