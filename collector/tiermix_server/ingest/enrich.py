"""Glue between mapped calls and the price book / tier map (``pricing/enricher.py``).

The pricing package owns tiers and prices (``build_enricher(settings, meta)``); this module only calls
it once per call and writes the answer into the call's fields. Enrichment is never allowed to break a
batch: if the enricher raises, the call is stored unpriced with its explicit tier (if any) and the
failure is counted. ``FallbackEnricher`` prices straight from ``genai-prices`` for builds without the
pricing package (and as the seam's reference implementation); it caches the model's price per day.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("tiermix.ingest")


@dataclass(frozen=True, slots=True)
class Enrichment:
    tier: str
    tier_source: str
    cost_usd: float
    price_source: str
    unpriced: bool


class Enricher(Protocol):
    def enrich(
        self,
        *,
        ts: dt.datetime,
        tenant: str,
        provider: str,
        model: str,
        explicit_tier: str,
        sdk_cost_usd: float | None,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
        reasoning_tokens: int,
    ) -> Any: ...


def load_enricher(settings: Any, meta: Any) -> Enricher:
    """The pricing package's enricher when this build has it, else the genai-prices fallback."""
    try:
        from tiermix_server.pricing.enricher import build_enricher
    except ImportError:
        log.warning("pricing.enricher not available: pricing from genai-prices without tier map")
        return FallbackEnricher()
    enricher: Enricher = build_enricher(settings, meta)
    return enricher


def enrich_fields(enricher: Enricher, fields: dict[str, Any], clipped: list[str]) -> None:
    """Resolve tier and cost for one validated call, in place."""
    explicit_tier = fields.pop("explicit_tier")
    sdk_cost_usd = fields.pop("sdk_cost_usd")
    try:
        result = enricher.enrich(
            ts=dt.datetime.fromtimestamp(fields["ts"] / 1e6, tz=dt.timezone.utc),
            tenant=fields["tenant"],
            provider=fields["provider"],
            model=fields["model"],
            explicit_tier=explicit_tier,
            sdk_cost_usd=sdk_cost_usd,
            input_tokens=fields["input_tokens"],
            output_tokens=fields["output_tokens"],
            cache_read_tokens=fields["cache_read_tokens"],
            cache_write_tokens=fields["cache_write_tokens"],
            reasoning_tokens=fields["reasoning_tokens"],
        )
        fields["tier"] = result.tier
        fields["tier_source"] = result.tier_source
        fields["cost_usd"] = float(result.cost_usd)
        fields["price_source"] = result.price_source
        fields["unpriced"] = bool(result.unpriced)
    except Exception:
        log.exception("enrichment failed; storing the call unpriced")
        clipped.append("enrich_failed")
        fields["tier"] = explicit_tier
        fields["tier_source"] = "sdk" if explicit_tier else "unknown"
        fields["cost_usd"] = sdk_cost_usd or 0.0
        fields["price_source"] = "sdk" if sdk_cost_usd is not None else ""
        fields["unpriced"] = sdk_cost_usd is None


class FallbackEnricher:
    """Prices from ``genai-prices`` for the call's own date; tier only when the SDK set one."""

    def __init__(self) -> None:
        self._prices: dict[tuple[str, str, dt.date], Any] = {}

    def enrich(
        self,
        *,
        ts: dt.datetime,
        tenant: str,
        provider: str,
        model: str,
        explicit_tier: str,
        sdk_cost_usd: float | None,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
        reasoning_tokens: int,
    ) -> Enrichment:
        tier_source = "sdk" if explicit_tier else "unknown"
        if sdk_cost_usd is not None:
            return Enrichment(explicit_tier, tier_source, sdk_cost_usd, "sdk", False)
        price = self._model_price(provider, model, ts)
        if price is None:
            return Enrichment(explicit_tier, tier_source, 0.0, "", True)
        from genai_prices import Usage

        usage = Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        cost = float(price.calc_price(usage)["total_price"])
        return Enrichment(explicit_tier, tier_source, cost, "genai-prices", False)

    def _model_price(self, provider: str, model: str, ts: dt.datetime) -> Any:
        key = (provider, model, ts.date())
        if key not in self._prices:
            from genai_prices import Usage, calc_price

            try:
                found = calc_price(
                    Usage(input_tokens=1), model, provider_id=provider or None, genai_request_timestamp=ts
                )
                self._prices[key] = found.model_price
            except Exception:
                self._prices[key] = None
        return self._prices[key]
