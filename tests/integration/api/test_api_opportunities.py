"""``/api/v1/opportunities``: a scripted month where the right answer is known.

Route ``faq`` sends 400 requests straight to the top tier while 200 that started on the small tier were
accepted 190 times: a clear opportunity. Route ``legal`` has evidence that the small tier fails (12 of
60 accepted): moving it would cost more than it saves. Route ``billing`` has no cascade at all: no
evidence, no estimate. Long prompts of ``faq`` (over 16k tokens) have no evidence of their own and must
not borrow the short prompts' acceptance.
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
from tiermix_server.metrics.wilson import wilson

SMALL = ("small", "openai", "gpt-4o-mini")
TOP = ("frontier", "anthropic", "claude-opus-4-1")
TOKENS = (600, 150)  # input, output of every short request
LONG_TOKENS = (20_000, 300)


def fixed(rows: list[CallRow], tokens: tuple[int, int]) -> list[CallRow]:
    fixed_rows = []
    for row in rows:
        output = 0 if row.status == "error" else tokens[1]
        fixed_rows.append(dataclasses.replace(
            row, input_tokens=tokens[0], output_tokens=output, cache_read_tokens=0,
            cost_usd=cost_of(row.model, tokens[0], output),
        ))  # fmt: skip
    return fixed_rows


def script(start: Any) -> list[CallRow]:
    rng = random.Random(16)
    rows: list[CallRow] = []

    def add(route: str, count: int, attempts: list[tuple[str, str, str]], tokens: tuple[int, int]) -> None:
        for n in range(count):
            at = start + timedelta(minutes=n % 600, seconds=rng.random())
            rows.extend(fixed(make_request(rng, at, attempts, route=route), tokens))

    add("faq", 400, [TOP], TOKENS)
    add("faq", 190, [SMALL], TOKENS)
    add("faq", 10, [SMALL, TOP], TOKENS)  # escalated from small
    add("faq", 30, [TOP], LONG_TOKENS)
    add("legal", 200, [TOP], TOKENS)
    add("legal", 12, [SMALL], TOKENS)
    add("legal", 48, [SMALL, TOP], TOKENS)
    add("billing", 150, [TOP], TOKENS)
    return rows


@pytest.fixture(scope="module")
def month(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    start = day_before_yesterday()
    rows = script(start)
    with seeded_server(chdb_dir, tmp_path_factory.mktemp("opportunities"), rows, batch_rows=113) as (url, ch):
        yield Api(url, rows, start, start + timedelta(days=1), ch)


def by_route(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["route"]: row for row in body["rows"]}


def test_the_route_with_evidence_ranks_first_with_a_conservative_estimate(month: Api) -> None:
    body = month.get("/api/v1/opportunities", start=month.start, end=month.end)
    assert body["rows"][0]["route"] == "faq"
    faq = by_route(body)["faq"]
    short = next(band for band in faq["bands"] if band["band"] == "0-999")
    top_cost = 400 * cost_of("claude-opus-4-1", *TOKENS)
    interval = wilson(190, 200)
    assert short["evidence"] == "cascade" and short["candidate_tier"] == "small"
    assert (short["tried_on_candidate"], short["accepted_on_candidate"]) == (200, 190)
    assert short["acceptance_low"] == pytest.approx(interval.low)
    assert short["top_direct_requests"] == 400
    assert short["top_direct_cost_usd"] == pytest.approx(top_cost, rel=1e-9)
    on_small = short["cost_on_candidate_usd"]
    assert 0 < on_small < top_cost / 10  # gpt-4o-mini's book price, far below Opus
    assert short["savings_low_usd"] == pytest.approx(interval.low * top_cost - on_small, rel=1e-9)
    assert short["savings_low_usd"] <= short["savings_usd"] <= short["savings_high_usd"]
    assert short["over_specified_usd"] == pytest.approx(interval.low * top_cost, rel=1e-9)
    # Scaled from the span the data covers (the first call's minute → end of the window) to a 30-day month.
    first = min(row.ts for row in month.rows).replace(second=0, microsecond=0)
    assert body["month_factor"] == pytest.approx(timedelta(days=30) / (month.end - first), rel=1e-6)
    assert faq["monthly_savings_low_usd"] == pytest.approx(
        body["month_factor"] * short["savings_low_usd"], rel=1e-9
    )
    assert faq["confidence"] == "high" and body["savings_is_estimate"] is True  # 0.91-0.97


def test_long_prompts_do_not_borrow_the_short_prompts_evidence(month: Api) -> None:
    faq = by_route(month.get("/api/v1/opportunities", start=month.start, end=month.end))["faq"]
    long = next(band for band in faq["bands"] if band["band"] == "16000-63999")
    assert long["top_direct_requests"] == 30
    assert long["evidence"] == "no evidence" and long["savings_low_usd"] is None
    assert long["over_specified_usd"] == 0


def test_poor_acceptance_still_pays_when_the_cheap_attempt_costs_little_and_ranks_lower(month: Api) -> None:
    # 12 of 60 accepted on a model ~100x cheaper: each escalation wastes only the cheap attempt, so
    # starting there still saves money, but far less than on faq, with a wide interval.
    body = month.get("/api/v1/opportunities", start=month.start, end=month.end)
    routes = by_route(body)
    legal, faq = routes["legal"], routes["faq"]
    short = legal["bands"][0]
    interval = wilson(12, 60)
    assert short["evidence"] == "cascade" and short["acceptance"] == pytest.approx(12 / 60)
    top_cost = 200 * cost_of("claude-opus-4-1", *TOKENS)
    expected = interval.low * top_cost - short["cost_on_candidate_usd"]
    assert short["savings_low_usd"] == pytest.approx(expected, rel=1e-9)
    assert 0 < legal["monthly_savings_low_usd"] < faq["monthly_savings_low_usd"]
    assert legal["confidence"] == "medium"  # the interval, 0.12-0.32, is 0.20 wide
    assert [row["route"] for row in body["rows"]].index("legal") > 0


def test_no_cascade_means_no_evidence_and_no_estimate(month: Api) -> None:
    body = month.get("/api/v1/opportunities", start=month.start, end=month.end)
    billing = by_route(body)["billing"]
    assert billing["top_direct_share"] == 1.0
    assert [band["evidence"] for band in billing["bands"]] == ["no evidence"]
    assert billing["monthly_savings_low_usd"] == 0 and billing["over_specified_usd"] == 0
    assert body["over_specified_share"] == pytest.approx(body["over_specified_usd"] / body["spend_usd"])


def test_csv_and_tenant_scope(month: Api) -> None:
    status, text = month.fetch("/api/v1/opportunities", start=month.start, end=month.end, format="csv")
    assert status == 200 and text.splitlines()[0].startswith("tenant,route,")
    assert len(text.strip().splitlines()) == 1 + 3
    status, _ = month.fetch("/api/v1/opportunities", tenant="nobody")
    assert status == 400  # a tenant that never sent a call is most likely mistyped
