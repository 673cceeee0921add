"""Base prices from ``genai-prices``, turned into per-token numbers so a call's cost is arithmetic.

genai-prices resolves a (provider, model, timestamp) to a ``ModelPrice`` (dated price changes, off-peak
hours, long-context tiers, cache read/write prices) and prices a ``Usage`` with ``Decimal`` maths — far
too slow to run per call at 50k calls/s. A ``ModelPrice`` is linear in token counts within one
long-context segment, so ``_table_from`` probes it once per segment to get per-token coefficients that
reproduce genai-prices' own decomposition (uncached input, cache reads and writes, output, reasoning).

Provider names arrive as OTel GenAI names (``gcp.vertex_ai``, ``aws.bedrock``, ``mistral_ai``, ...) or
older ``gen_ai.system`` / OpenInference values; ``genai_provider_id`` maps them to genai-prices ids.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

# OTel GenAI provider names (and older gen_ai.system / OpenInference / OpenLLMetry spellings) → genai-prices.
_PROVIDER_IDS = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "az.ai.inference": "azure",
    "azure": "azure",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "aws": "aws",
    "amazon": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "gemini": "google",
    "google": "google",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "x-ai": "x-ai",
    "grok": "x-ai",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "together": "together",
    "together_ai": "together",
    "togetherai": "together",
    "fireworks": "fireworks",
    "fireworks_ai": "fireworks",
    "openrouter": "openrouter",
    "cerebras": "cerebras",
    "moonshot": "moonshotai",
    "moonshotai": "moonshotai",
    "meta": "meta",
    "novita": "novita",
    "huggingface": "huggingface_together",
}


def genai_provider_id(provider: str) -> str | None:
    """The genai-prices provider id for an OTel/instrumentation provider name (``None``: unknown)."""
    return _PROVIDER_IDS.get(provider.strip().lower())


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """USD per token (and per request) for one price segment."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    reasoning_extra: float = 0.0  # on top of ``output``: output tokens include reasoning (OTel semantics)
    request: float = 0.0

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int, reasoning: int
    ) -> float:
        uncached = input_tokens - cache_read - cache_write
        if uncached < 0:  # some instrumentations report input without the cached part
            uncached = 0
        return (
            self.request
            + uncached * self.input
            + cache_read * self.cache_read
            + cache_write * self.cache_write
            + output_tokens * self.output
            + reasoning * self.reasoning_extra
        )


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Unit prices by long-context segment: segment k applies when input tokens exceed ``thresholds[k-1]``."""

    thresholds: tuple[int, ...]
    segments: tuple[UnitPrices, ...]

    def unit_prices(self, input_tokens: int) -> UnitPrices:
        index = 0
        for position, start in enumerate(self.thresholds):
            if input_tokens > start:
                index = position + 1
        return self.segments[index]

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int, reasoning: int
    ) -> float:
        return self.unit_prices(input_tokens).cost(
            input_tokens, output_tokens, cache_read, cache_write, reasoning
        )

    @property
    def blended_usd_per_mtok(self) -> float:
        """3:1 input:output blend of the base segment, the usual way to put one number on a model's price."""
        base = self.segments[0]
        return (3 * base.input + base.output) / 4 * 1_000_000


def _snapshot() -> Any:
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot()


@functools.lru_cache(maxsize=8192)
def find_model(provider: str, model: str) -> tuple[Any, Any] | None:
    """(genai Provider, ModelInfo) for a served model; tries the mapped provider, then the model's own."""
    snapshot = _snapshot()
    provider_id = genai_provider_id(provider) if provider else None
    attempts: list[str | None] = [provider_id] if provider_id else []
    if provider_id or not provider:
        # Azure and the clouds resell models priced under their maker: fall back to the model's own
        # provider. A provider we do not know (ollama, vllm: self-hosted) gets no fallback, because pricing
        # a self-hosted model at its hosted list price would invent a cost; it stays unpriced.
        attempts.append(None)
    for attempt in attempts:
        try:
            found_provider, found_model = snapshot.find_provider_model(model, None, attempt, None)
            return found_provider, found_model
        except LookupError:
            continue
    return None


def breakpoints(provider: str, model: str) -> tuple[tuple[datetime, ...], bool]:
    """When the base price may change: dated changes, and whether it varies by time of day."""
    found = find_model(provider, model)
    if found is None or not isinstance(found[1].prices, list):
        return (), False
    dates: list[datetime] = []
    time_of_day = False
    for conditional in found[1].prices:
        constraint = conditional.constraint
        start = getattr(constraint, "start_date", None)
        if isinstance(start, date):
            dates.append(datetime.combine(start, time(0), tzinfo=timezone.utc))
        elif constraint is not None:
            time_of_day = True
    return tuple(sorted(set(dates))), time_of_day


def base_table(provider: str, model: str, ts: datetime) -> tuple[PriceTable, str] | None:
    """genai-prices' table for ``model`` at ``ts`` and its source label; ``None`` when it has no price."""
    found = find_model(provider, model)
    if found is None:
        return None
    genai_provider, info = found
    try:
        table = _table_from(info.get_prices(ts))
    except Exception:  # a model priced in units we do not count (images, audio seconds) is unpriced
        return None
    if table is None:
        return None
    return table, f"genai-prices:{genai_provider.id}/{info.id}"


def _table_from(model_price: Any) -> PriceTable | None:
    from genai_prices.types import TieredPrices, Usage

    def total(**usage: int) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(model_price.calc_price(Usage(**usage))["total_price"])

    starts = sorted(
        {
            tier.start
            for value in vars(model_price).values()
            if isinstance(value, TieredPrices)
            for tier in value.tiers
        }
    )
    segments = []
    for index in range(len(starts) + 1):
        tokens = 1_000_000 if index == 0 and (not starts or starts[0] >= 1_000_000) else 1
        if index == 0 and starts and starts[0] < 1_000_000:
            tokens = max(1, starts[0])
        if index > 0:
            tokens = starts[index - 1] + 1
        request = total()
        unit_input = (total(input_tokens=tokens) - request) / tokens
        unit_cache_read = (total(input_tokens=tokens, cache_read_tokens=tokens) - request) / tokens
        unit_cache_write = (total(input_tokens=tokens, cache_write_tokens=tokens) - request) / tokens
        with_output = total(input_tokens=tokens, output_tokens=tokens) - request
        unit_output = with_output / tokens - unit_input
        with_reasoning = (
            total(input_tokens=tokens, output_tokens=tokens, output_reasoning_tokens=tokens) - request
        )
        reasoning_extra = with_reasoning / tokens - unit_input - unit_output
        segments.append(
            UnitPrices(unit_input, unit_output, unit_cache_read, unit_cache_write, reasoning_extra, request)
        )
    if all(s.input == 0 and s.output == 0 and s.request == 0 for s in segments):
        return None  # nothing we count is priced (e.g. an image model): unpriced, never $0
    return PriceTable(tuple(starts), tuple(segments))
