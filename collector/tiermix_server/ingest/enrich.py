"""Glue between mapped calls and the price book / tier map (``pricing/enricher.py``).

The pricing package owns tiers and prices (``build_enricher(settings, meta)``); this module only calls
it once per call and writes the answer into the call's fields. Enrichment is never allowed to break a
batch: if the enricher raises, the call is stored unpriced with its explicit tier (if any) and the
failure is counted.

Never a silent $0 (docs/architecture.md, the call record):
- a successful call that reports no usage at all (an OpenAI stream without ``include_usage``, a peer
  that sends no token counts) is stored *unpriced*, counted as ``usage_missing``;
- a peer instrumentation's cost (``gen_ai.usage.cost``) is a hint: the price book's cost is kept, the
  peer's figure goes into the ``peer_cost_usd`` tag, and a disagreement of more than 1% is counted
  (``peer_cost_disagrees``). Only where the price book has no price does a positive peer figure stand
  in (``price_source = peer``); a peer's 0 never prices a call.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger("tiermix.ingest")


class Enricher(Protocol):
    def price(
        self,
        ts_us: int,
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
    ) -> tuple[str, str, float, str, bool]: ...


def enrich_fields(enricher: Enricher, fields: dict[str, Any], clipped: list[str]) -> None:
    """Resolve tier and cost for one validated call, in place."""
    explicit_tier = fields.pop("explicit_tier")
    sdk_cost_usd = fields.pop("sdk_cost_usd")
    peer_cost_usd = fields.pop("peer_cost_usd")
    try:
        tier, tier_source, cost_usd, price_source, unpriced = enricher.price(
            fields["ts"],
            fields["tenant"],
            fields["provider"],
            fields["model"],
            explicit_tier,
            sdk_cost_usd,
            fields["input_tokens"],
            fields["output_tokens"],
            fields["cache_read_tokens"],
            fields["cache_write_tokens"],
            fields["reasoning_tokens"],
        )
        fields["tier"] = tier
        fields["tier_source"] = tier_source
        fields["cost_usd"] = float(cost_usd)
        fields["price_source"] = price_source
        fields["unpriced"] = bool(unpriced)
        if sdk_cost_usd is None:
            _no_silent_zero(fields, peer_cost_usd, clipped)
    except Exception:
        log.exception("enrichment failed; storing the call unpriced")
        clipped.append("enrich_failed")
        fields["tier"] = explicit_tier
        fields["tier_source"] = "sdk" if explicit_tier else "unknown"
        fields["cost_usd"] = sdk_cost_usd or 0.0
        fields["price_source"] = "sdk" if sdk_cost_usd is not None else ""
        fields["unpriced"] = sdk_cost_usd is None


PEER_COST_TOLERANCE = 0.01
NO_USAGE = "no_usage"  # the price source of a successful call that reported no usage: stored unpriced


def _no_silent_zero(fields: dict[str, Any], peer_cost_usd: float | None, clipped: list[str]) -> None:
    if fields["status"] == "ok" and not fields["input_tokens"] and not fields["output_tokens"]:
        clipped.append("usage_missing")
        fields["cost_usd"] = 0.0
        fields["price_source"] = NO_USAGE
        fields["unpriced"] = True
        return
    if peer_cost_usd is None:
        return
    fields["tags"] = {**fields["tags"], "peer_cost_usd": repr(peer_cost_usd)}
    if fields["unpriced"]:
        if peer_cost_usd > 0:
            fields["cost_usd"] = peer_cost_usd
            fields["price_source"] = "peer"
            fields["unpriced"] = False
        return
    book = fields["cost_usd"]
    if abs(peer_cost_usd - book) > PEER_COST_TOLERANCE * max(book, 1e-12):
        clipped.append("peer_cost_disagrees")
