"""/cost (mean, p50, p95, savings) and /escalations against the rows, recomputed in Python."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from genai_prices import Usage, calc_price

from tests.integration.api import reference as ref
from tests.integration.api.seeded import Api
from tests.support.calls import CallRow

PROVIDERS = {"claude-opus-4-1": "anthropic", "gpt-5": "openai", "gpt-4o": "openai"}


def list_price(model: str, row: CallRow, at) -> float:  # type: ignore[no-untyped-def]
    usage = Usage(
        input_tokens=row.input_tokens,
        cache_read_tokens=row.cache_read_tokens,
        output_tokens=row.output_tokens,
    )
    return float(
        calc_price(usage, model, provider_id=PROVIDERS[model], genai_request_timestamp=at).total_price
    )


def test_cost_per_request_mean_and_percentiles_count_cascades_whole(api: Api) -> None:
    start, end = api.start + timedelta(minutes=11, seconds=5), api.end - timedelta(minutes=7)
    got = api.get("/api/v1/cost", start=start, end=end, group_by="tenant")
    assert got["percentile_sample_rate"] == 1 and got["savings_is_estimate"] is True
    assert [row["tenant"] for row in got["rows"]] == sorted({r.tenant for r in api.rows})
    for row in got["rows"]:
        rows = ref.in_range(api.rows, start, end, tenant=row["tenant"])
        costs = ref.request_costs(rows)
        assert row["requests"] == sum(r.attempt == 0 for r in rows)
        assert row["cost_usd"] == pytest.approx(sum(r.cost_usd for r in rows))
        assert row["cost_per_request_usd"] == pytest.approx(sum(costs) / row["requests"])
        assert row["p50_usd"] == pytest.approx(ref.quantile_exact(costs, 0.5))
        assert row["p95_usd"] == pytest.approx(ref.quantile_exact(costs, 0.95))
        assert row["escalation_overhead_usd"] == pytest.approx(sum(r.cost_usd for r in rows if r.escalated))
        assert row["unpriced_calls"] == sum(r.unpriced for r in rows)


def test_a_three_attempt_cascade_costs_the_sum_of_its_attempts(api: Api) -> None:
    cascade = next(r for r in api.rows if r.attempt == 2)
    attempts = [r for r in api.rows if r.request_id == cascade.request_id]
    got = api.get(f"/api/v1/requests/{cascade.request_id:016x}")
    assert got["calls"] == len(attempts) == 3
    assert [a["attempt"] for a in got["attempts"]] == [0, 1, 2]
    assert got["cost_usd"] == pytest.approx(sum(r.cost_usd for r in attempts))
    assert got["escalated"] == any(r.escalated for r in attempts)
    assert got["failovers"] == sum(r.failover for r in attempts)


def test_cost_by_hour_buckets_give_the_mean_per_bucket(api: Api) -> None:
    start, end = api.start, api.end
    got = api.get("/api/v1/cost", start=start, end=end, interval="1h")
    assert got["percentile_sample_rate"] is None
    for row in got["rows"]:
        bucket_rows = [
            r
            for r in ref.in_range(api.rows, start, end)
            if ref.floor_to(r.ts, "1h").strftime("%Y-%m-%dT%H:%M:%SZ") == row["bucket"]
        ]
        assert row["calls"] == len(bucket_rows)
        assert row["cost_usd"] == pytest.approx(sum(r.cost_usd for r in bucket_rows))
    assert sum(row["calls"] for row in got["rows"]) == len(ref.in_range(api.rows, start, end))


def test_savings_reprice_answering_attempts_at_each_routes_top_tier_model(api: Api) -> None:
    start, end = api.start, api.end
    rows = ref.in_range(api.rows, start, end)
    baseline, actual = ref.savings(rows, lambda model, row: list_price(model, row, end))
    got = api.get("/api/v1/summary", start=start, end=end)
    assert got["baseline_cost_usd"] == pytest.approx(baseline, rel=1e-6)
    assert got["savings_usd"] == pytest.approx(baseline - actual, rel=1e-6)
    assert set(got["baseline_models"]) == {
        ref.baseline_model(rows, route) for route in {r.route for r in rows}
    }


def test_savings_use_the_baseline_model_given_per_route(api: Api) -> None:
    start, end = api.start, api.end
    rows = ref.in_range(api.rows, start, end, route="summarize")
    got = api.get(
        "/api/v1/cost", start=start, end=end, group_by="route", **{"baseline_model.summarize": "gpt-4o"}
    )
    row = next(r for r in got["rows"] if r["route"] == "summarize")
    expected = sum(list_price("gpt-4o", r, end) for r in rows if r.final and not r.unpriced)
    assert row["baseline_models"] == ["gpt-4o"]
    assert row["baseline_cost_usd"] == pytest.approx(expected, rel=1e-6)
    other = next(r for r in got["rows"] if r["route"] != "summarize")
    assert other["baseline_models"] != ["gpt-4o"]


def test_escalation_rate_and_reasons_keep_failovers_apart(api: Api) -> None:
    start, end = api.start + timedelta(seconds=30), api.end
    got = api.get("/api/v1/escalations", start=start, end=end, group_by="route")
    for row in got["rows"]:
        rows = ref.in_range(api.rows, start, end, route=row["route"])
        expected = ref.summary(rows)
        assert row["escalated_requests"] == expected["escalated_requests"]
        assert row["eligible_requests"] == expected["eligible_requests"]
        assert row["escalation_rate"] == pytest.approx(expected["escalation_rate"])
        assert row["failovers"] == expected["failovers"]
        assert row["failover_cost_usd"] == pytest.approx(sum(r.cost_usd for r in rows if r.failover))
        reasons = ref.by_reason(rows)
        got_reasons = {(r["kind"], r["reason"]): r for r in got["by_reason"] if r["route"] == row["route"]}
        assert set(got_reasons) == set(reasons)
        for key, value in reasons.items():
            assert got_reasons[key]["attempts"] == value["attempts"]
            assert got_reasons[key]["requests"] == value["requests"]
            assert got_reasons[key]["cost_usd"] == pytest.approx(value["cost_usd"])
        assert all(r["reason"] == "error" for r in got_reasons.values() if r["kind"] == "failover")


def test_escalation_reasons_as_csv(api: Api) -> None:
    status, body = api.fetch(
        "/api/v1/escalations", start=api.start, end=api.end, view="reasons", format="csv"
    )
    assert status == 200
    header, *lines = body.strip().splitlines()
    assert header.split(",")[:3] == ["kind", "reason", "attempts"]
    assert len(lines) == len(ref.by_reason(ref.in_range(api.rows, api.start, api.end)))


@pytest.mark.parametrize("interval", ["1m", "1h"])
def test_escalation_reasons_per_bucket_sit_in_clock_aligned_buckets(api: Api, interval: str) -> None:
    """Each abandoned attempt is counted in the bucket its own time falls in (not in a slice counted from
    the range start), and the buckets add up to the whole range's reasons."""
    start, end = api.start + timedelta(minutes=3, seconds=7), api.end - timedelta(minutes=2)
    got = api.get("/api/v1/escalations", start=start, end=end, interval=interval)
    assert got["interval"] == interval
    rows = ref.in_range(api.rows, start, end)
    expected: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        if r.escalated or r.failover:
            key = (
                ref.floor_to(r.ts, interval).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "escalation" if r.escalated else "failover",
                r.escalation_reason,
            )
            cell = expected.setdefault(key, [0, 0.0])
            cell[0] += 1
            cell[1] += r.cost_usd
    shown = {(b["bucket"], b["kind"], b["reason"]): b for b in got["over_time"]}
    assert set(shown) == set(expected)
    for key, (attempts, cost) in expected.items():
        assert shown[key]["attempts"] == attempts
        assert shown[key]["cost_usd"] == pytest.approx(cost)
    whole = {(r["kind"], r["reason"]): r["attempts"] for r in got["by_reason"]}
    per_bucket: dict[tuple[str, str], int] = {}
    for b in got["over_time"]:
        per_bucket[(b["kind"], b["reason"])] = per_bucket.get((b["kind"], b["reason"]), 0) + b["attempts"]
    assert per_bucket == whole


def test_escalation_buckets_refuse_a_range_too_wide_for_minutes(api: Api) -> None:
    status, body = api.fetch(
        "/api/v1/escalations", start=api.start - timedelta(days=5), end=api.end, interval="1m"
    )
    assert status == 400 and "too large" in json.loads(body)["error"]["message"]


def test_dimensions_list_what_the_range_holds(api: Api) -> None:
    start, end = api.start, api.end
    got = api.get("/api/v1/dimensions", start=start, end=end)
    rows = ref.in_range(api.rows, start, end)
    assert got == {
        "tenants": sorted({r.tenant for r in rows}),
        "routes": sorted({r.route for r in rows}),
        "environments": sorted({r.environment for r in rows}),
    }
    scoped = api.get("/api/v1/dimensions", start=start, end=end, tenant="acme", environment="staging")
    acme = [r for r in rows if r.tenant == "acme" and r.environment == "staging"]
    assert scoped["tenants"] == ["acme"] and scoped["environments"] == ["staging"]
    assert scoped["routes"] == sorted({r.route for r in acme})


@pytest.mark.parametrize("group", ["", "tenant"])
def test_sampled_request_cost_percentiles_read_the_stored_sample_exactly(api: Api, group: str) -> None:
    """On a large scope, p50/p95 come from the stored 1-in-64 request sample (llm_request_sample_1m, with
    raw rows for the seconds at either end): exactly the quantiles of the sampled requests' whole cost."""
    from tiermix_server.metrics.cost import request_cost_percentiles
    from tiermix_server.metrics.filters import Filters, GroupBy
    from tiermix_server.metrics.sources import REQUEST_SAMPLE_RATE

    start, end = api.start + timedelta(minutes=41, seconds=3), api.end - timedelta(minutes=13, seconds=9)
    group_by = GroupBy.of(group) if group else GroupBy()
    got = request_cost_percentiles(api.client, Filters(start, end), group_by, rate=REQUEST_SAMPLE_RATE)
    sampled = [r for r in ref.in_range(api.rows, start, end) if r.request_id % REQUEST_SAMPLE_RATE == 0]
    assert len({r.request_id for r in sampled}) >= 5, "too few sampled requests for this test to bite"
    keys = sorted({(getattr(r, group),) if group else () for r in sampled})
    assert sorted(got) == keys
    for key in keys:
        costs = ref.request_costs([r for r in sampled if not group or (getattr(r, group),) == key])
        assert got[key] == pytest.approx((ref.quantile_exact(costs, 0.5), ref.quantile_exact(costs, 0.95)))


def test_a_scope_too_large_for_exact_percentiles_reports_the_sample_rate(api: Api) -> None:
    from tiermix_server.metrics.cost import cost_with_percentiles
    from tiermix_server.metrics.filters import Filters

    rows, rate = cost_with_percentiles(api.client, Filters(api.start, api.end), exact_calls=100)
    assert rate == 64 and rows[0].p50_usd is not None
    _, exact = cost_with_percentiles(api.client, Filters(api.start, api.end))
    assert exact == 1
