"""Prices: genai-prices for the call's own time, overrides on top, unmatched means unpriced."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone

import pytest
from genai_prices import Usage, calc_price

from tiermix_server.meta.stores import OverrideRow
from tiermix_server.pricing.genai import base_table, genai_provider_id
from tiermix_server.pricing.prices import PriceBook, parse_instant

UTC = timezone.utc
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def override(
    id: int,
    model: str,
    *,
    kind: str = "custom",
    tenant: str | None = None,
    provider: str | None = None,
    at: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    pct: float | None = None,
    price: tuple[float, float] | None = (1.0, 2.0),
) -> OverrideRow:
    if kind == "discount":
        return OverrideRow(id, tenant, provider, model, kind, pct, None, None, None, None, at, "")
    assert price is not None
    return OverrideRow(id, tenant, provider, model, kind, None, price[0], price[1], None, None, at, "")


def genai_cost(model: str, provider: str, ts: datetime, **usage: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(
            calc_price(Usage(**usage), model, provider_id=provider, genai_request_timestamp=ts).total_price
        )


@pytest.mark.parametrize(
    ("provider", "model", "genai_provider"),
    [
        ("openai", "gpt-4o", "openai"),
        ("anthropic", "claude-sonnet-4-5", "anthropic"),  # long-context segment above 200k input tokens
        ("gcp.gemini", "gemini-2.5-pro", "google"),
        ("aws.bedrock", "amazon.nova-pro-v1:0", "aws"),
        ("x_ai", "grok-4", "x-ai"),
        ("mistral_ai", "mistral-large-latest", "mistral"),
    ],
)
@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": 1200, "output_tokens": 80},
        {"input_tokens": 5000, "output_tokens": 900, "cache_read_tokens": 3000, "cache_write_tokens": 500},
        {
            "input_tokens": 300_000,
            "output_tokens": 4000,
            "cache_read_tokens": 1000,
            "output_reasoning_tokens": 2000,
        },
    ],
)
def test_per_token_table_reproduces_genai_prices_exactly(
    provider: str, model: str, genai_provider: str, usage: dict[str, int]
) -> None:
    table, source = base_table(provider, model, AT)  # type: ignore[misc]
    assert source.startswith(f"genai-prices:{genai_provider}/")
    mine = table.cost(
        usage["input_tokens"],
        usage["output_tokens"],
        usage.get("cache_read_tokens", 0),
        usage.get("cache_write_tokens", 0),
        usage.get("output_reasoning_tokens", 0),
    )
    assert mine == pytest.approx(genai_cost(model, genai_provider, AT, **usage), rel=1e-9)


def test_a_call_pays_the_price_of_its_own_date() -> None:
    # genai-prices records o3's price cut of 2025-06-10: calls before keep the old price.
    before = base_table("openai", "o3", datetime(2025, 6, 9, 23, 59, tzinfo=UTC))
    after = base_table("openai", "o3", datetime(2025, 6, 10, 0, 1, tzinfo=UTC))
    assert before is not None and after is not None
    assert before[0].cost(1_000_000, 0, 0, 0, 0) == pytest.approx(10.0)
    assert after[0].cost(1_000_000, 0, 0, 0, 0) == pytest.approx(2.0)


def test_off_peak_hours_are_priced_by_the_time_of_day() -> None:
    peak = base_table("deepseek", "deepseek-chat", datetime(2026, 3, 1, 8, tzinfo=UTC))
    off_peak = base_table("deepseek", "deepseek-chat", datetime(2026, 3, 1, 20, tzinfo=UTC))
    assert peak is not None and off_peak is not None
    assert off_peak[0].cost(1_000_000, 0, 0, 0, 0) < peak[0].cost(1_000_000, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("otel", "genai"),
    [
        ("gcp.vertex_ai", "google"),
        ("aws.bedrock", "aws"),
        ("azure.ai.openai", "azure"),
        ("mistral_ai", "mistral"),
        ("x_ai", "x-ai"),
        ("OpenAI", "openai"),
        ("vertex_ai", "google"),
        ("az.ai.inference", "azure"),
    ],
)
def test_otel_provider_names_map_to_genai_prices_ids(otel: str, genai: str) -> None:
    assert genai_provider_id(otel) == genai


def test_a_self_hosted_model_is_unpriced_never_zero_and_never_priced_as_the_hosted_one() -> None:
    book = PriceBook([])
    assert book.quote(AT, "acme", "vllm", "my-finetune").unpriced
    # gpt-oss-20b has a hosted price, but served by our own vLLM it costs what we say, not a list price.
    assert book.quote(AT, "acme", "vllm", "gpt-oss-20b").unpriced
    assert book.quote(AT, "acme", "", "gpt-4o").source == "genai-prices:openai/gpt-4o"


def test_a_custom_price_prices_a_self_hosted_model_from_its_effective_date() -> None:
    book = PriceBook([override(1, "house-*", price=(0.2, 0.4))])
    assert book.quote(datetime(2025, 12, 31, tzinfo=UTC), "acme", "vllm", "house-7b").unpriced
    quote = book.quote(AT, "acme", "vllm", "House-7B")
    assert quote.source == "custom:1"
    # cache reads default to the input price when the custom price does not name one
    assert quote.cost(1_000_000, 1_000_000, 500_000, 0, 0) == pytest.approx(0.2 + 0.4)


def test_a_tenant_discount_applies_to_that_tenant_only() -> None:
    book = PriceBook([override(3, "gpt-4o", kind="discount", pct=25, tenant="acme")])
    full = book.quote(AT, "globex", "openai", "gpt-4o")
    discounted = book.quote(AT, "acme", "openai", "gpt-4o")
    assert discounted.source == "override:3"
    assert discounted.cost(1000, 100, 0, 0, 0) == pytest.approx(full.cost(1000, 100, 0, 0, 0) * 0.75)


def test_a_tenant_override_wins_over_a_global_one_and_the_latest_effective_wins() -> None:
    book = PriceBook(
        [
            override(1, "gpt-4o", kind="discount", pct=10, at=datetime(2026, 1, 1, tzinfo=UTC)),
            override(2, "gpt-4o", kind="discount", pct=20, at=datetime(2026, 2, 1, tzinfo=UTC)),
            override(3, "gpt-4o", kind="custom", tenant="acme", at=datetime(2026, 2, 15, tzinfo=UTC)),
        ]
    )
    assert book.quote(datetime(2026, 1, 15, tzinfo=UTC), "acme", "openai", "gpt-4o").source == "override:1"
    assert book.quote(datetime(2026, 2, 10, tzinfo=UTC), "acme", "openai", "gpt-4o").source == "override:2"
    assert book.quote(AT, "acme", "openai", "gpt-4o").source == "custom:3"
    assert book.quote(AT, "globex", "openai", "gpt-4o").source == "override:2"


def test_a_provider_bound_override_matches_the_provider_under_any_of_its_names() -> None:
    book = PriceBook([override(5, "gemini-2.5-pro", kind="discount", pct=50, provider="google")])
    assert book.quote(AT, "acme", "gcp.vertex_ai", "gemini-2.5-pro").source == "override:5"
    assert book.quote(AT, "acme", "openrouter", "gemini-2.5-pro").source != "override:5"


def test_a_discount_on_an_unpriced_model_stays_unpriced() -> None:
    book = PriceBook([override(1, "house-7b", kind="discount", pct=50)])
    assert book.quote(AT, "acme", "vllm", "house-7b").unpriced


def test_breakpoints_include_override_dates() -> None:
    at = datetime(2026, 2, 3, 4, 5, tzinfo=UTC)
    book = PriceBook([override(1, "gpt-4o", kind="discount", pct=5, at=at)])
    instants, time_of_day = book.breakpoints("acme", "openai", "gpt-4o")
    assert at in instants and not time_of_day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
        ("2026-01-05T10:00:00Z", datetime(2026, 1, 5, 10, tzinfo=UTC)),
        ("2026-01-05T12:00:00+02:00", datetime(2026, 1, 5, 10, tzinfo=UTC)),
    ],
)
def test_dates_parse_as_utc(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected
    assert parse_instant(text).utcoffset() == timedelta(0)


def test_a_bad_date_is_a_clear_error() -> None:
    from tiermix_server.errors import BadRequest

    with pytest.raises(BadRequest, match="ISO-8601"):
        parse_instant("last tuesday")
