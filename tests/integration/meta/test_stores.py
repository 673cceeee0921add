"""Prices and tiers in the metadata DB: validation, and the change counter enrichers poll."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tiermix_server.errors import BadRequest, NotFound
from tiermix_server.meta import stores

JAN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_every_change_bumps_the_pricing_version(meta: Any) -> None:
    versions = [stores.pricing_version(meta)]
    row = stores.add_override(meta, model="gpt-4o", kind="discount", discount_pct=10, effective_from=JAN)
    versions.append(stores.pricing_version(meta))
    rule = stores.add_rule(meta, model_pattern="*house*", tier="small")
    versions.append(stores.pricing_version(meta))
    stores.delete_override(meta, row.id)
    versions.append(stores.pricing_version(meta))
    stores.delete_rule(meta, rule.id)
    versions.append(stores.pricing_version(meta))
    stores.set_tiers(meta, [stores.TierRow("cheap", 0, 2.0, ""), stores.TierRow("dear", 1, None, "")])
    versions.append(stores.pricing_version(meta))
    assert versions == sorted(set(versions)) and len(versions) == 6


def test_overrides_round_trip_with_their_effective_time(meta: Any) -> None:
    stores.add_override(
        meta,
        model="House-7B",
        tenant="acme",
        kind="custom",
        input_usd_per_mtok=0.2,
        output_usd_per_mtok=0.4,
        effective_from=JAN,
        note="our GPUs",
    )
    (row,) = stores.list_overrides(meta)
    assert (row.model, row.tenant, row.kind, row.input_usd_per_mtok) == ("house-7b", "acme", "custom", 0.2)
    assert row.effective_from == JAN


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "discount", "discount_pct": 120},
        {"kind": "discount"},
        {"kind": "discount", "discount_pct": 10, "input_usd_per_mtok": 1.0},
        {"kind": "custom", "input_usd_per_mtok": 1.0},
        {"kind": "custom", "input_usd_per_mtok": -1.0, "output_usd_per_mtok": 1.0},
        {"kind": "free"},
    ],
)
def test_bad_overrides_are_refused_with_a_clear_error(meta: Any, fields: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        stores.add_override(meta, model="m", effective_from=JAN, **fields)
    assert stores.list_overrides(meta) == []


def test_a_naive_effective_time_is_refused(meta: Any) -> None:
    with pytest.raises(BadRequest):
        stores.add_override(
            meta, model="m", kind="discount", discount_pct=5, effective_from=datetime(2026, 1, 1)
        )


def test_tier_lists_need_increasing_bands(meta: Any) -> None:
    with pytest.raises(BadRequest):
        stores.set_tiers(
            meta,
            [
                stores.TierRow("a", 0, 5.0, ""),
                stores.TierRow("b", 1, 1.0, ""),
                stores.TierRow("c", 2, None, ""),
            ],
        )
    with pytest.raises(BadRequest):
        stores.set_tiers(meta, [stores.TierRow("only", 0, None, "")])
    assert stores.list_tiers(meta) == []


def test_a_bad_regex_rule_is_refused(meta: Any) -> None:
    with pytest.raises(BadRequest):
        stores.add_rule(meta, model_pattern="gpt-(", tier="mid", syntax="regex")


def test_deleting_what_does_not_exist_is_not_found(meta: Any) -> None:
    with pytest.raises(NotFound):
        stores.delete_override(meta, 999)
    with pytest.raises(NotFound):
        stores.delete_rule(meta, 999)
