"""Reading and writing prices and tiers in the metadata DB.

Every change bumps the ``pricing`` change counter in the same transaction, so running enrichers (which
poll that one row) drop their caches within seconds, in this process or any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tiermix_server.errors import BadRequest, NotFound
from tiermix_server.meta.db import MetaDB
from tiermix_server.meta.models import ChangeCounter, PriceOverride, TierDefinition, TierRule

PRICING_COUNTER = "pricing"
OVERRIDE_KINDS = ("discount", "custom")
RULE_SYNTAXES = ("glob", "regex")


@dataclass(frozen=True, slots=True)
class OverrideRow:
    id: int
    tenant: str | None
    provider: str | None
    model: str
    kind: str
    discount_pct: float | None
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cache_read_usd_per_mtok: float | None
    cache_write_usd_per_mtok: float | None
    effective_from: datetime
    note: str


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    model_pattern: str
    provider_pattern: str
    syntax: str
    tier: str
    priority: int
    note: str


@dataclass(frozen=True, slots=True)
class TierRow:
    name: str
    rank: int
    band_max_usd_per_mtok: float | None
    description: str


def _bump(session: Session) -> None:
    counter = session.get(ChangeCounter, PRICING_COUNTER)
    if counter is None:
        session.add(ChangeCounter(name=PRICING_COUNTER, version=1))
    else:
        session.execute(
            update(ChangeCounter)
            .where(ChangeCounter.name == PRICING_COUNTER)
            .values(version=ChangeCounter.version + 1)
        )


def pricing_version(meta: MetaDB) -> int:
    with meta.session() as session:
        return int(
            session.scalar(select(ChangeCounter.version).where(ChangeCounter.name == PRICING_COUNTER)) or 0
        )


# ---- price overrides -----------------------------------------------------------------------------------


MAX_USD_PER_MTOK = 1e6  # far above any model; a larger figure is a typo (or 1e400, infinity)


def add_override(meta: MetaDB, **fields: Any) -> OverrideRow:
    """Add a discount or custom price (fields as ``PriceOverride``); validated here for CLI and API alike."""
    kind = fields.get("kind")
    if kind not in OVERRIDE_KINDS:
        raise BadRequest(f"price kind must be one of {', '.join(OVERRIDE_KINDS)}")
    if not fields.get("model"):
        raise BadRequest("a price needs a model (exact name or glob pattern)")
    effective_from = fields.get("effective_from")
    if not isinstance(effective_from, datetime) or effective_from.tzinfo is None:
        raise BadRequest("effective_from must be a timezone-aware timestamp")
    prices = [fields.get(f"{part}_usd_per_mtok") for part in ("input", "output", "cache_read", "cache_write")]
    if kind == "discount":
        pct = fields.get("discount_pct")
        if pct is None or not 0 <= float(pct) <= 100:
            raise BadRequest("a discount needs discount_pct between 0 and 100")
        if any(value is not None for value in prices):
            raise BadRequest("a discount takes discount_pct only, not per-token prices")
    else:
        if fields.get("input_usd_per_mtok") is None or fields.get("output_usd_per_mtok") is None:
            raise BadRequest("a custom price needs input and output USD per 1M tokens")
        # NaN fails every comparison: "not 0 <= x" refuses it, like infinity, for every caller (API, CLI).
        if any(value is not None and not 0 <= float(value) <= MAX_USD_PER_MTOK for value in prices):
            raise BadRequest(
                f"prices must be finite numbers from 0 to {MAX_USD_PER_MTOK:g} USD per 1M tokens"
            )
        if fields.get("discount_pct") is not None:
            raise BadRequest("a custom price takes per-token prices, not discount_pct")
    fields["model"] = str(fields["model"]).strip().lower()
    fields.setdefault("note", "")
    with meta.session() as session:
        row = PriceOverride(**fields)
        session.add(row)
        _bump(session)
        session.flush()
        return _override(row)


def list_overrides(meta: MetaDB) -> list[OverrideRow]:
    with meta.session() as session:
        rows = session.scalars(select(PriceOverride).order_by(PriceOverride.effective_from, PriceOverride.id))
        return [_override(row) for row in rows]


def delete_override(meta: MetaDB, override_id: int) -> None:
    with meta.session() as session:
        if session.get(PriceOverride, override_id) is None:
            raise NotFound(f"no price override {override_id}")
        session.execute(delete(PriceOverride).where(PriceOverride.id == override_id))
        _bump(session)


def _override(row: PriceOverride) -> OverrideRow:
    return OverrideRow(
        row.id,
        row.tenant,
        row.provider,
        row.model,
        row.kind,
        row.discount_pct,
        row.input_usd_per_mtok,
        row.output_usd_per_mtok,
        row.cache_read_usd_per_mtok,
        row.cache_write_usd_per_mtok,
        row.effective_from,
        row.note,
    )


# ---- tiers and tier-map rules ---------------------------------------------------------------------------


def list_tiers(meta: MetaDB) -> list[TierRow]:
    with meta.session() as session:
        rows = session.scalars(select(TierDefinition).order_by(TierDefinition.rank))
        return [TierRow(r.name, r.rank, r.band_max_usd_per_mtok, r.description) for r in rows]


def set_tiers(meta: MetaDB, tiers: list[TierRow]) -> None:
    """Replace the ordered tier list (cheapest first; the last tier's band is open-ended)."""
    names = [tier.name for tier in tiers]
    if len(tiers) < 2 or len(set(names)) != len(names):
        raise BadRequest("give at least two distinct tiers, cheapest first")
    bands = [tier.band_max_usd_per_mtok for tier in tiers[:-1]]
    if any(band is None for band in bands) or bands != sorted(bands):  # type: ignore[type-var]
        raise BadRequest("every tier but the last needs a band maximum, increasing with rank")
    with meta.session() as session:
        session.execute(delete(TierDefinition))
        for rank, tier in enumerate(tiers):
            band = tier.band_max_usd_per_mtok if rank < len(tiers) - 1 else None
            session.add(
                TierDefinition(
                    name=tier.name, rank=rank, band_max_usd_per_mtok=band, description=tier.description
                )
            )
        _bump(session)


def add_rule(
    meta: MetaDB,
    *,
    model_pattern: str,
    tier: str,
    provider_pattern: str = "*",
    syntax: str = "glob",
    priority: int = 1000,
    note: str = "",
) -> RuleRow:
    if syntax not in RULE_SYNTAXES:
        raise BadRequest(f"rule syntax must be one of {', '.join(RULE_SYNTAXES)}")
    if not model_pattern or not tier:
        raise BadRequest("a tier rule needs a model pattern and a tier")
    if syntax == "regex":
        for pattern in (model_pattern, provider_pattern):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise BadRequest(f"bad regular expression {pattern!r}: {exc}") from None
    with meta.session() as session:
        row = TierRule(
            model_pattern=model_pattern,
            provider_pattern=provider_pattern or "*",
            syntax=syntax,
            tier=tier,
            priority=priority,
            note=note,
        )
        session.add(row)
        _bump(session)
        session.flush()
        return _rule(row)


def list_rules(meta: MetaDB) -> list[RuleRow]:
    with meta.session() as session:
        return [_rule(row) for row in session.scalars(select(TierRule).order_by(TierRule.id))]


def delete_rule(meta: MetaDB, rule_id: int) -> None:
    with meta.session() as session:
        if session.get(TierRule, rule_id) is None:
            raise NotFound(f"no tier rule {rule_id}")
        session.execute(delete(TierRule).where(TierRule.id == rule_id))
        _bump(session)


def _rule(row: TierRule) -> RuleRow:
    return RuleRow(
        row.id, row.model_pattern, row.provider_pattern, row.syntax, row.tier, row.priority, row.note
    )
