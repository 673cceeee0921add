"""Alert metrics read through the shared metric definitions over real chDB data, per group."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.calls import MODELS, insert_calls, make_request
from tiermix_server.alerts.metric_adapter import ClickHouseMetrics
from tiermix_server.alerts.notification import encode_group
from tiermix_server.alerts.rules import parse_rule
from tiermix_server.metrics.filters import DEFAULT_BOTTOM_TIER, DEFAULT_TOP_TIER, Filters
from tiermix_server.metrics.opportunities import opportunities
from tiermix_server.pricing.prices import PriceBook

TIERS = (DEFAULT_BOTTOM_TIER, "mid", DEFAULT_TOP_TIER)

# Recent: rows older than the raw TTL (90 days) would be dropped by ClickHouse.
NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
SMALL = ("small", *MODELS["small"][0])
FRONTIER = ("frontier", *MODELS["frontier"][0])


def rule(metric: str, group_by: list[str], **changes):
    return parse_rule(
        {"name": metric, "metric": metric, "group_by": group_by, "window": "10m",
         "condition": {"op": ">", "threshold": 0.5}, **changes}
    )  # fmt: skip


@pytest.fixture
def metrics(clickhouse):
    rng = random.Random(8)
    rows = []
    for minute in range(10):
        at = NOW - timedelta(minutes=10 - minute)
        rows += make_request(rng, at, [FRONTIER], tenant="acme", route="a")  # acme: 1 frontier in 2
        rows += make_request(rng, at, [SMALL], tenant="acme", route="b")
        rows += make_request(rng, at, [SMALL, FRONTIER], tenant="globex", route="a")  # escalated cascade
        rows += make_request(rng, at, [SMALL], tenant="globex", route="a", answered=False)  # error
    # A day earlier, globex answered everything with the small model: a drifted mix now.
    for minute in range(10):
        rows += make_request(
            rng, NOW - timedelta(days=1, minutes=minute + 1), [SMALL], tenant="globex", route="a"
        )
    rows += make_request(rng, NOW + timedelta(minutes=1), [FRONTIER], tenant="initech")  # outside the window
    insert_calls(clickhouse, rows)
    return ClickHouseMetrics(clickhouse, lambda: TIERS, PriceBook([]).quote)


def measure(metrics, spec):
    return metrics.measure(spec, NOW - timedelta(seconds=spec.window), NOW)


def test_frontier_share_per_tenant_counts_answered_requests(metrics):
    samples = measure(metrics, rule("frontier_share", ["tenant"]))
    assert set(samples) == {"tenant=acme", "tenant=globex"}
    assert samples["tenant=acme"].value == pytest.approx(0.5) and samples["tenant=acme"].volume == 20
    assert samples["tenant=globex"].value == pytest.approx(1.0) and samples["tenant=globex"].volume == 20


def test_grouping_by_tenant_and_route_and_filters(metrics):
    samples = measure(metrics, rule("frontier_share", ["tenant", "route"], filters={"tenant": "acme"}))
    assert {key: s.value for key, s in samples.items()} == {
        "route=a&tenant=acme": 1.0,
        "route=b&tenant=acme": 0.0,
    }


def test_error_escalation_spend_and_cost_per_request(metrics):
    errors = measure(metrics, rule("error_rate", ["tenant"]))
    assert errors["tenant=acme"].value == 0 and errors["tenant=globex"].value == pytest.approx(10 / 30)
    escalations = measure(metrics, rule("escalation_rate", ["tenant"]))
    assert escalations["tenant=globex"].value == pytest.approx(0.5)
    spend = measure(metrics, rule("spend", []))[""].value
    per_request = measure(metrics, rule("cost_per_request", []))[""]
    assert spend and per_request.value and per_request.volume == 40
    assert math.isclose(per_request.value * 40, spend)
    assert measure(metrics, rule("unpriced_share", []))[""].value == 0


def test_empty_scope_has_no_samples(metrics):
    assert measure(metrics, rule("frontier_share", [], filters={"tenant": "nobody"})) == {}


def test_drift_score_is_the_js_distance_of_the_worst_route(metrics):
    samples = measure(metrics, rule("drift_score", ["tenant"], condition={"op": ">", "threshold": 0.1}))
    assert samples["tenant=globex"].value > 0.3 and samples["tenant=globex"].volume == 30


def test_over_specified_spend_is_the_opportunities_figure_per_route(metrics):
    # acme/a sends everything to the frontier and has no evidence (0); globex/a started 20 requests on
    # the small tier and the small tier answered none: a lower bound of 0 acceptance, so 0 as well;
    # then acme/a gets cascade evidence in the window: half of 10 small first attempts accepted.
    rng = random.Random(9)
    extra = []
    for minute in range(10):
        at = NOW - timedelta(minutes=10 - minute, seconds=-30)
        extra += make_request(rng, at, [SMALL] if minute % 2 else [SMALL, FRONTIER], tenant="acme", route="a")
    insert_calls(metrics.client, extra)
    spec = rule("over_specified_spend", ["tenant", "route"])
    samples = measure(metrics, spec)
    found = opportunities(metrics.client, Filters(NOW - timedelta(seconds=spec.window), NOW), TIERS,
                          PriceBook([]).quote)  # fmt: skip
    expected = {encode_group({"tenant": r.tenant, "route": r.route}): r.over_specified_usd
                for r in found.rows}  # fmt: skip
    assert {k: s.value for k, s in samples.items()} == pytest.approx(expected)
    acme_a = samples[encode_group({"tenant": "acme", "route": "a"})]
    assert acme_a.value > 0 and acme_a.volume == 20  # the evidence makes part of its spend over-specified
    assert samples[encode_group({"tenant": "acme", "route": "b"})].value == 0  # nothing on the top tier
    assert samples[encode_group({"tenant": "globex", "route": "a"})].value == 0  # small never accepted
    by_tenant = measure(metrics, rule("over_specified_spend", ["tenant"]))
    acme = sum(row.over_specified_usd for row in found.rows if row.tenant == "acme")
    assert by_tenant[encode_group({"tenant": "acme"})].value == pytest.approx(acme)
