"""Prices and tiers: the models in use per tier (query API), the effective tier map, price overrides and
"explain this model" (admin API, docs/admin-api.md). No Streamlit.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tiermix_dashboard.api_client import ApiClient, ApiNotFound
from tiermix_dashboard.filters import Filters
from tiermix_dashboard.queries import data_health, frame, in_parallel, mix_totals


def models_seen(client: ApiClient, filters: Filters) -> pd.DataFrame:
    """Each served model with the tier its calls were stored under, volume, spend and blended $/1M tokens."""

    def models_on(tier: str) -> pd.DataFrame:
        return mix_totals(client, filters, "model", tier=tier).assign(tier=tier)

    tiers = [str(tier) for tier in mix_totals(client, filters, "tier")["key"]]
    parts = [models for models in in_parallel(models_on, tiers) if not models.empty]
    if not parts:
        return frame([], ["model", "tier", "calls", "tokens", "cost_usd", "usd_per_mtok"])
    data = pd.concat(parts, ignore_index=True).rename(columns={"key": "model"})
    data["usd_per_mtok"] = data["cost_usd"] / data["tokens"].where(data["tokens"] > 0) * 1e6
    return data[["model", "tier", "calls", "tokens", "cost_usd", "usd_per_mtok"]]


ADMIN_PATH = "/api/v1/admin"
TIER_COLUMNS = ("name", "rank", "band_max_usd_per_mtok", "description")
RULE_COLUMNS = ("source", "priority", "model_pattern", "provider_pattern", "syntax", "tier", "note")
OVERRIDE_COLUMNS = ("tenant", "provider", "model", "kind", "discount_pct", "input_usd_per_mtok",
                    "output_usd_per_mtok", "effective_from", "note")  # fmt: skip


def tier_names(client: ApiClient) -> tuple[str, ...]:
    """The ordered tier list in force, bottom … top (tiers.py)."""
    listed = sorted(client.get(f"{ADMIN_PATH}/tiers").get("tiers", []), key=lambda tier: tier["rank"])
    return tuple(str(tier["name"]) for tier in listed)


def tier_map(client: ApiClient) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ordered tiers and every tier-map rule, yours first then the shipped defaults, in the order
    they are tried (highest priority first). Admin API (docs/admin-api.md)."""
    body = client.get(f"{ADMIN_PATH}/tiers")
    tiers = frame(body.get("tiers", []), TIER_COLUMNS)
    rules = [{**rule, "source": "yours"} for rule in body.get("rules", [])]
    rules += [{**rule, "source": "default"} for rule in body.get("default_rules", [])]
    table = frame(rules, RULE_COLUMNS)
    table = table.sort_values("priority", ascending=False, kind="stable", ignore_index=True)
    return tiers[list(TIER_COLUMNS)], table[list(RULE_COLUMNS)]


def price_overrides(client: ApiClient) -> pd.DataFrame:
    return frame(client.get(f"{ADMIN_PATH}/prices").get("overrides", []), OVERRIDE_COLUMNS)


def explain_model(client: ApiClient, model: str, provider: str | None = None) -> dict[str, Any]:
    """Which rule or price band puts ``model`` in its tier, and its price today (admin API)."""
    explained = dict(client.get(f"{ADMIN_PATH}/tiers/explain", {"model": model, "provider": provider}))
    try:
        explained["price"] = client.get(f"{ADMIN_PATH}/prices/quote", {"model": model, "provider": provider})
    except ApiNotFound:
        explained["price"] = None
    return explained


def unpriced_models(client: ApiClient, filters: Filters) -> pd.DataFrame:
    return frame(data_health(client, filters).get("unpriced_models", []), ["provider", "model", "calls"])
