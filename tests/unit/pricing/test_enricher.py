"""The enricher: cached tier and cost per call, matching the uncached answer, and fresh within seconds."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tiermix_server.meta.stores import OverrideRow, RuleRow
from tiermix_server.pricing.enricher import Enricher
from tiermix_server.pricing.prices import PriceBook
from tiermix_server.pricing.tiers import build_tier_map

UTC = timezone.utc


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


class MetaState:
    """Stands in for the metadata DB's prices and tiers (the enricher's seam is two callables)."""

    def __init__(self) -> None:
        self.version = 1
        self.overrides: list[OverrideRow] = []
        self.rules: list[RuleRow] = []
        self.loads = 0
        self.broken = False

    def load(self) -> tuple[PriceBook, Any, frozenset[str]]:
        if self.broken:
            raise OSError("database is locked")
        self.loads += 1
        tenants = frozenset(row.tenant for row in self.overrides if row.tenant)
        return PriceBook(self.overrides), build_tier_map([], self.rules), tenants


def make(state: MetaState, clock: FakeClock) -> Enricher:
    return Enricher(state.load, lambda: state.version, check_interval_s=2.0, clock=clock)


def call(enricher: Enricher, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "ts": datetime(2026, 3, 1, 12, tzinfo=UTC),
        "tenant": "acme",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "explicit_tier": "",
        "sdk_cost_usd": None,
        "input_tokens": 1000,
        "output_tokens": 100,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
    }
    values.update(overrides)
    ts = values.pop("ts")
    ts_us = (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return enricher.price(ts_us, *values.values())


def test_a_known_model_gets_its_rule_tier_and_genai_prices_cost() -> None:
    result = call(make(MetaState(), FakeClock()))
    assert (result.tier, result.tier_source) == ("small", "rule:*gpt-4o-mini*")
    assert result.cost_usd == pytest.approx(1000 * 0.15e-6 + 100 * 0.6e-6)
    assert (result.price_source, result.unpriced) == ("genai-prices:openai/gpt-4o-mini", False)


def test_the_sdk_cost_and_an_explicit_known_tier_are_kept() -> None:
    result = call(make(MetaState(), FakeClock()), sdk_cost_usd=0.5, explicit_tier="frontier")
    assert (result.tier, result.tier_source, result.cost_usd, result.price_source) == (
        "frontier",
        "sdk",
        0.5,
        "sdk",
    )


def test_an_explicit_tier_outside_the_tier_list_is_ignored_for_the_map() -> None:
    result = call(make(MetaState(), FakeClock()), explicit_tier="platinum")
    assert result.tier == "small"


def test_an_unknown_self_hosted_model_is_unpriced_with_zero_stored_and_unknown_tier() -> None:
    result = call(make(MetaState(), FakeClock()), provider="vllm", model="house-special")
    assert (result.unpriced, result.cost_usd, result.price_source) == (True, 0.0, "")
    assert (result.tier, result.tier_source) == ("unknown", "unknown")


def test_a_price_change_reaches_the_enricher_within_the_check_interval() -> None:
    state, clock = MetaState(), FakeClock()
    enricher = make(state, clock)
    assert call(enricher, provider="vllm", model="house-7b").unpriced
    state.overrides = [
        OverrideRow(
            9,
            None,
            None,
            "house-7b",
            "custom",
            None,
            1.0,
            1.0,
            None,
            None,
            datetime(2026, 1, 1, tzinfo=UTC),
            "",
        )
    ]
    state.version = 2
    clock.now_s += 1.0
    assert call(enricher, provider="vllm", model="house-7b").unpriced  # still inside the interval
    clock.now_s += 1.5
    result = call(enricher, provider="vllm", model="house-7b")
    assert (result.unpriced, result.price_source) == (False, "custom:9")
    assert result.cost_usd == pytest.approx(1100 * 1e-6)
    assert result.tier_source.startswith("band:")


def test_an_unchanged_version_does_not_reload() -> None:
    state, clock = MetaState(), FakeClock()
    enricher = make(state, clock)
    for _ in range(5):
        clock.now_s += 3
        call(enricher)
    assert state.loads == 1


def test_cached_costs_equal_uncached_quotes_across_price_periods() -> None:
    state = MetaState()
    state.overrides = [
        OverrideRow(
            1,
            "acme",
            None,
            "gpt-4o",
            "discount",
            30.0,
            None,
            None,
            None,
            None,
            datetime(2026, 3, 1, 6, tzinfo=UTC),
            "",
        ),
    ]
    enricher = make(state, FakeClock())
    book = PriceBook(state.overrides)
    rng = random.Random(7)
    models = [
        ("openai", "gpt-4o"),
        ("deepseek", "deepseek-chat"),
        ("openai", "o3"),
        ("anthropic", "claude-sonnet-4-5"),
    ]
    start = datetime(2026, 2, 27, tzinfo=UTC)
    for _ in range(2000):
        provider, model = rng.choice(models)
        ts = start + timedelta(seconds=rng.randrange(5 * 86400))
        tenant = rng.choice(["acme", "globex"])
        tokens = (rng.randrange(1, 300_000), rng.randrange(0, 5000), 0, 0, 0)
        result = call(
            enricher,
            ts=ts,
            tenant=tenant,
            provider=provider,
            model=model,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
        )
        quote = book.quote(ts, tenant, provider, model)
        assert result.price_source == quote.source
        assert result.cost_usd == pytest.approx(quote.cost(*tokens), rel=1e-12)


def test_explain_names_the_deciding_rule_or_band() -> None:
    enricher = make(MetaState(), FakeClock())
    assert "gpt-4o-mini" in enricher.explain("gpt-4o-mini", "openai").detail
    assert enricher.explain("kimi-k2.5", "moonshotai").source.startswith("band:")


def test_in_a_server_the_change_check_runs_off_the_ingest_path() -> None:
    state, clock = MetaState(), FakeClock()
    enricher = Enricher(state.load, lambda: state.version, check_interval_s=2.0, clock=clock, background=True)
    state.overrides = [
        OverrideRow(
            4,
            None,
            None,
            "house-7b",
            "custom",
            None,
            2.0,
            2.0,
            None,
            None,
            datetime(2026, 1, 1, tzinfo=UTC),
            "",
        )
    ]
    state.version = 2
    clock.now_s += 3
    call(enricher, provider="vllm", model="house-7b")  # due: starts the check on its own thread
    enricher.wait_refreshed()
    assert call(enricher, provider="vllm", model="house-7b").price_source == "custom:4"


def test_a_failing_metadata_db_keeps_the_cached_prices() -> None:
    state, clock = MetaState(), FakeClock()
    enricher = make(state, clock)

    state.overrides = [
        OverrideRow(
            1,
            None,
            None,
            "gpt-4o-mini",
            "discount",
            50.0,
            None,
            None,
            None,
            None,
            datetime(2026, 1, 1, tzinfo=UTC),
            "",
        )
    ]
    state.broken = True
    state.version = 9
    clock.now_s += 3
    assert call(enricher).price_source == "genai-prices:openai/gpt-4o-mini"
    state.broken = False
    clock.now_s += 3
    assert call(enricher).price_source == "override:1"  # and it catches up once the DB answers
