"""The admin API over real HTTP: prices, tiers, keys, and re-pricing a running server's history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.support.calls import Scenario, generate_calls, insert_calls
from tests.support.server import running_server

UTC = timezone.utc


class Admin:
    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"}

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}/api/v1/admin{path}", headers=headers, timeout=60, **kwargs)


@pytest.fixture
def admin(settings: Any, clickhouse: Any) -> Iterator[Admin]:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    key = create_key(open_meta(settings), scope="admin", tenant=None).key
    with running_server(settings) as url:
        yield Admin(url, key)


def test_prices_can_be_added_quoted_listed_and_deleted(admin: Admin) -> None:
    quote = admin("GET", "/prices/quote", params={"model": "house-7b", "provider": "vllm"}).json()
    assert quote["unpriced"] is True and quote["segments"] == []
    created = admin(
        "POST",
        "/prices",
        json={
            "model": "house-7b",
            "kind": "custom",
            "input_usd_per_mtok": 0.2,
            "output_usd_per_mtok": 0.4,
            "effective_from": "2026-01-01",
        },
    )
    assert created.status_code == 201, created.text
    quote = admin("GET", "/prices/quote", params={"model": "house-7b", "provider": "vllm"}).json()
    assert (quote["unpriced"], quote["price_source"]) == (False, f"custom:{created.json()['id']}")
    assert quote["segments"][0]["input_usd_per_mtok"] == pytest.approx(0.2)
    assert [row["model"] for row in admin("GET", "/prices").json()["overrides"]] == ["house-7b"]
    assert admin("DELETE", f"/prices/{created.json()['id']}").status_code == 200
    assert admin("GET", "/prices").json()["overrides"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"model": "x", "kind": "discount", "discount_pct": 150},
        {"model": "x", "kind": "gift"},
        {"model": "x", "kind": "custom", "input_usd_per_mtok": 1},
        {"kind": "discount", "discount_pct": 5},
        {"model": "x", "kind": "discount", "discount_pct": 5, "effective_from": "soon"},
        {"model": "x", "kind": "discount", "discount_pct": 5, "surprise": True},
    ],
)
def test_bad_price_bodies_get_a_clear_400(admin: Admin, body: dict[str, Any]) -> None:
    response = admin("POST", "/prices", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_tier_rules_change_explain_and_the_tier_list_can_be_replaced(admin: Admin) -> None:
    assert admin("GET", "/tiers/explain", params={"model": "gpt-4o"}).json()["tier"] == "mid"
    rule = admin("POST", "/tiers/rules", json={"model_pattern": "gpt-4o", "tier": "frontier"})
    assert rule.status_code == 201
    explained = admin("GET", "/tiers/explain", params={"model": "gpt-4o"}).json()
    assert (explained["tier"], explained["tier_source"]) == ("frontier", "rule:gpt-4o")
    assert admin("POST", "/tiers/rules", json={"model_pattern": "x", "tier": "platinum"}).status_code == 400
    shown = admin("GET", "/tiers").json()
    assert [t["name"] for t in shown["tiers"]] == ["small", "mid", "frontier"] and shown["default_rules"]
    assert admin("DELETE", f"/tiers/rules/{rule.json()['id']}").status_code == 200
    replaced = admin(
        "PUT", "/tiers", json={"tiers": [{"name": "cheap", "band_max_usd_per_mtok": 2}, {"name": "dear"}]}
    )
    assert [t["name"] for t in replaced.json()["tiers"]] == ["cheap", "dear"]
    assert admin("GET", "/tiers/explain", params={"model": "gpt-4o"}).json()["tier"] == "dear"


def test_keys_are_created_once_listed_without_secrets_and_revoked(admin: Admin) -> None:
    created = admin("POST", "/keys", json={"scope": "ingest", "tenant": "acme", "name": "shop"})
    assert created.status_code == 201
    key = created.json()["key"]
    listed = admin("GET", "/keys").json()["keys"]
    assert key not in str(listed) and any(k["prefix"] == created.json()["prefix"] for k in listed)
    revoked = admin("DELETE", f"/keys/{created.json()['prefix']}")
    assert revoked.json()["active"] is False


def test_a_price_change_through_the_api_reprices_history_and_rollups(
    admin: Admin, settings: Any, clickhouse: Any
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    insert_calls(
        clickhouse, generate_calls(start, start + timedelta(days=1), seed=3, scenario=Scenario(requests=80))
    )
    admin("POST", "/reprice", json={"since": start.isoformat()})
    before = clickhouse.query("SELECT sum(cost_usd) FROM llm_calls WHERE model = 'gpt-4o'").result_rows[0][0]
    admin(
        "POST",
        "/prices",
        json={"model": "gpt-4o", "kind": "discount", "discount_pct": 50, "effective_from": start.isoformat()},
    )
    result = admin("POST", "/reprice", json={"since": start.isoformat()})
    assert result.status_code == 200 and result.json()["changed"] > 0
    after = clickhouse.query("SELECT sum(cost_usd) FROM llm_calls WHERE model = 'gpt-4o'").result_rows[0][0]
    assert after == pytest.approx(before * 0.5)
    rolled = clickhouse.query("SELECT sum(cost_usd) FROM llm_calls_1h WHERE model = 'gpt-4o'").result_rows[0][
        0
    ]
    assert rolled == pytest.approx(after)


def test_the_cli_goes_through_the_server_that_holds_the_data_dir(admin: Admin, settings: Any) -> None:
    from tiermix_server.commands.prices import _rewrite_through_server
    from tiermix_server.errors import DataDirInUse, TiermixError

    in_use = DataDirInUse("the data dir is in use")
    key = admin.headers["Authorization"].removeprefix("Bearer ")
    result = _rewrite_through_server(settings, "retier", datetime(2026, 1, 1, tzinfo=UTC), None, key, in_use)
    assert set(result) == {"scanned", "changed", "rollup_groups"}
    with pytest.raises(TiermixError, match="admin key"):
        _rewrite_through_server(settings, "retier", datetime(2026, 1, 1, tzinfo=UTC), None, None, in_use)
    elsewhere = settings.model_copy(update={"api_url": "http://127.0.0.1:1"})
    with pytest.raises(DataDirInUse, match="no tiermix server answers"):
        _rewrite_through_server(elsewhere, "retier", datetime(2026, 1, 1, tzinfo=UTC), None, key, in_use)


@pytest.mark.parametrize(
    "raw",
    [
        '{"model": "x", "kind": "custom", "input_usd_per_mtok": NaN, "output_usd_per_mtok": 1}',
        '{"model": "x", "kind": "custom", "input_usd_per_mtok": Infinity, "output_usd_per_mtok": 1}',
        '{"model": "x", "kind": "custom", "input_usd_per_mtok": 1, "output_usd_per_mtok": -Infinity}',
        '{"model": "x", "kind": "discount", "discount_pct": NaN}',
        '{"model": "x", "kind": "custom", "input_usd_per_mtok": 1e400, "output_usd_per_mtok": 1}',
        '{"model": "x", "kind": "custom", "input_usd_per_mtok": -1, "output_usd_per_mtok": 1}',
    ],
)
def test_non_finite_or_negative_prices_are_400_and_nothing_is_written(admin: Admin, raw: str) -> None:
    response = admin("POST", "/prices", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]
    listed = admin("GET", "/prices")
    assert listed.status_code == 200 and listed.json()["overrides"] == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/export/chargeback", {"end": "9999-12-31T23:59:59"}),
        ("/api/v1/export/chargeback", {"start": "0001-01-01T00:00:00", "end": "0001-02-01T00:00:00"}),
        ("/api/v1/alerts/events", {"rule_id": "9" * 90}),
        ("/api/v1/alerts/states", {"rule_id": "9" * 90}),
        ("/api/v1/alerts/events", {"rule_id": "-1"}),
        ("/api/v1/summary", {"start": "1969-12-31T00:00:00", "end": "1970-01-01T00:00:00"}),
    ],
)
def test_out_of_range_query_values_are_400_not_500(admin: Admin, path: str, params: dict[str, str]) -> None:
    response = httpx.get(admin.url + path, params=params, headers=admin.headers, timeout=10)
    assert response.status_code == 400, (path, params, response.status_code, response.text)
    assert response.json()["error"]["message"]
