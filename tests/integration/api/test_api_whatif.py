"""``/api/v1/routing/whatif``: a scripted route where today's threshold and every request are known.

Route ``rag``: router ``r1`` sends scores >= 0.5 to the top tier (100 requests); 200 scored below start
on the small tier, 180 accepted. 20 more of r1's requests carry no score and 5 one outside [0, 1] (NaN
and infinity among them), 30 name no router: counted, not on the curve. Route ``inverse``: router
``r2`` sends scores <= 0.3 to the top tier.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api.seeded import Api, day_before_yesterday, seeded_server
from tests.support.calls import CallRow, cost_of, make_request

SMALL = ("small", "openai", "gpt-4o-mini")
TOP = ("frontier", "anthropic", "claude-opus-4-1")
TOKENS = (800, 200)


def routed(rows: list[CallRow], router: str, score: float | None) -> list[CallRow]:
    return [
        dataclasses.replace(
            row, input_tokens=TOKENS[0], output_tokens=TOKENS[1], cache_read_tokens=0, status="ok",
            cost_usd=cost_of(row.model, *TOKENS), router=router if row.attempt == 0 else "",
            routing_score=score if row.attempt == 0 else None,
        )
        for row in rows
    ]  # fmt: skip


def script(start: Any) -> list[CallRow]:
    rng = random.Random(17)
    rows: list[CallRow] = []

    def add(route: str, attempts: list[tuple[str, str, str]], router: str, score: float | None) -> None:
        at = start + timedelta(minutes=rng.randint(0, 1000), seconds=rng.random())
        rows.extend(routed(make_request(rng, at, attempts, route=route), router, score))

    for n in range(100):
        add("rag", [TOP], "r1", 0.5 + n / 200)
    for n in range(200):
        add("rag", [SMALL] if n % 10 else [SMALL, TOP], "r1", n / 400)
    for _ in range(20):
        add("rag", [TOP], "r1", None)
    for score in (7.5, -1.0, float("nan"), float("inf"), 1.5):  # not on [0, 1]: counted, never placed
        add("rag", [TOP], "r1", score)
    for _ in range(30):
        add("rag", [TOP], "", None)
    for n in range(60):
        add("inverse", [TOP], "r2", n / 200)  # 0 .. 0.295
    for n in range(140):
        add("inverse", [SMALL], "r2", 0.3 + n / 200)
    return rows


@pytest.fixture(scope="module")
def routes(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    start = day_before_yesterday()
    rows = script(start)
    with seeded_server(chdb_dir, tmp_path_factory.mktemp("whatif"), rows, batch_rows=97) as (url, ch):
        yield Api(url, rows, start, start + timedelta(days=1), ch)


def whatif(api: Api, **query: Any) -> dict[str, Any]:
    return api.get("/api/v1/routing/whatif", start=api.start, end=api.end, **query)


def test_counts_every_request_and_finds_today_s_threshold(routes: Api) -> None:
    body = whatif(routes, route="rag")
    assert body["router"] == "r1" and body["direction"] == "higher_to_top"
    assert {r["router"]: (r["requests"], r["scored_requests"]) for r in body["routers"]} == {
        "r1": (325, 300), "": (30, 0),
    }  # fmt: skip
    assert next(r for r in body["routers"] if r["router"] == "r1")["out_of_range_requests"] == 5
    assert (body["requests"], body["scored_requests"]) == (355, 300)
    assert (body["unscored_requests"], body["other_router_requests"]) == (25, 30)
    assert (body["candidate_tier"], body["candidate_model"]) == ("small", "gpt-4o-mini")
    current = body["current"]
    assert current["top_share"] == pytest.approx(100 / 300)
    assert current["threshold"] == pytest.approx(0.5)
    assert current["acceptance"] == pytest.approx(180 / 200) and current["candidate_trials"] == 200
    marked = [p for p in body["curve"] if p["current"]]
    assert len(marked) == 1 and marked[0]["threshold"] == pytest.approx(0.5)
    assert marked[0]["top_share"] == pytest.approx(100 / 300)
    # observed cost per request: every call's cost over every request of the route
    spent = sum(r.cost_usd for r in routes.rows if r.route == "rag")
    assert current["cost_per_request_usd"] == pytest.approx(spent / 355)
    assert body["routellm"] is None and "shadow-replay" in body["routellm_reason"]


def _scored(api: Api, route: str) -> set[int]:
    return {
        r.request_id for r in api.rows if r.route == route and r.attempt == 0 and r.routing_score is not None
    }


def test_the_ends_of_the_curve(routes: Api) -> None:
    body = whatif(routes, route="rag")
    everything_up, nothing_up = body["curve"][0], body["curve"][-1]
    # all to the top tier: no acceptance to estimate; the cost is exact (top cost of every request's tokens,
    # the top-first ones at what they cost)
    assert everything_up["top_share"] == 1.0 and everything_up["acceptance"] is None
    assert everything_up["cost_per_request_usd"] == pytest.approx(cost_of("claude-opus-4-1", *TOKENS))
    assert everything_up["cost_per_request_low_usd"] == everything_up["cost_per_request_high_usd"]
    # none to the top tier: the hard half has no trials; its acceptance is bounded, flagged, thin
    assert nothing_up["threshold"] is None and nothing_up["top_share"] == 0.0
    assert nothing_up["little_data"] is True and nothing_up["thin_share"] >= 100 / 300 - 1e-9
    assert nothing_up["acceptance_low"] < 0.6 and nothing_up["acceptance_high"] <= 1.0
    extrapolated = [b for b in body["bins"] if b["extrapolated"]]
    assert extrapolated and all(
        b["score_low"] >= 0.5 - 1e-6 and b["acceptance_low"] == 0 for b in extrapolated
    )
    # the cost rises with the top share along the curve's observed part
    shares = [p["top_share"] for p in body["curve"]]
    assert shares == sorted(shares, reverse=True)


def test_a_router_that_sends_low_scores_up(routes: Api) -> None:
    body = whatif(routes, route="inverse")
    assert body["router"] == "r2" and body["direction"] == "lower_to_top"
    assert body["current"]["top_share"] == pytest.approx(60 / 200)
    assert 0.29 <= body["current"]["threshold"] <= 0.3
    scores = [(b["score_low"], b["score_high"]) for b in body["bins"]]
    assert all(low <= high for low, high in scores)


def test_bad_and_empty_asks(routes: Api) -> None:
    status, text = routes.fetch("/api/v1/routing/whatif")
    assert status == 400 and "route is required" in text
    body = whatif(routes, route="rag", router="nobody")
    assert body["curve"] == [] and "recorded no scores" in body["reason"]
    body = whatif(routes, route="no-such-route")
    assert body["curve"] == [] and body["reason"] == "no routing scores recorded on this route"
    status, text = routes.fetch("/api/v1/routing/whatif", route="rag", format="csv")
    assert status == 200 and text.splitlines()[0].startswith("threshold,top_share,")
