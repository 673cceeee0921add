"""Read keys: every query endpoint needs one once keys exist; a tenant-bound key sees only its tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.api import reference as ref
from tests.integration.api.seeded import Api, day_before_yesterday
from tests.support.calls import Scenario, generate_calls, insert_calls
from tests.support.server import running_server

ENDPOINTS = (
    "/api/v1/summary", "/api/v1/mix", "/api/v1/cost", "/api/v1/escalations", "/api/v1/drift", "/api/v1/calls",
    "/api/v1/health/data", "/api/v1/export/chargeback",
)  # fmt: skip


@pytest.fixture
def keyed_api(clickhouse: Any, settings: Any) -> Iterator[tuple[Api, dict[str, str]]]:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    start = day_before_yesterday() + timedelta(hours=3)
    rows = generate_calls(start, start + timedelta(hours=2), seed=3, scenario=Scenario(requests=150))
    insert_calls(clickhouse, rows)
    meta = open_meta(settings)
    keys = {
        "all": create_key(meta, scope="read", tenant=None).key,
        "acme": create_key(meta, scope="read", tenant="acme").key,
        "ingest": create_key(meta, scope="ingest", tenant=None).key,
    }
    with running_server(settings) as url:
        yield Api(url, rows, start, start + timedelta(hours=2), clickhouse), keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_endpoint_needs_a_read_key(keyed_api: tuple[Api, dict[str, str]]) -> None:
    api, keys = keyed_api
    for path in ENDPOINTS:
        assert api.fetch(path)[0] == 401, path
        assert api.fetch(path, headers=bearer(keys["ingest"]))[0] == 403, path
        assert api.fetch(path, headers=bearer(keys["all"]))[0] == 200, path


def test_a_tenant_bound_key_sees_only_its_tenant(keyed_api: tuple[Api, dict[str, str]]) -> None:
    api, keys = keyed_api
    status, body = api.fetch("/api/v1/summary", headers=bearer(keys["acme"]), start=api.start, end=api.end)
    assert status == 200
    expected = ref.summary(ref.in_range(api.rows, api.start, api.end, tenant="acme"))
    assert json.loads(body)["calls"] == expected["calls"] < len(api.rows)
    status, body = api.fetch(
        "/api/v1/calls", headers=bearer(keys["acme"]), start=api.start, end=api.end, limit=1000
    )
    assert {row["tenant"] for row in json.loads(body)["rows"]} == {"acme"}
    grouped = api.fetch(
        "/api/v1/summary", headers=bearer(keys["acme"]), start=api.start, end=api.end, group_by="tenant"
    )
    assert [row["tenant"] for row in json.loads(grouped[1])["rows"]] == ["acme"]


def test_a_tenant_bound_key_asking_for_another_tenant_is_refused(
    keyed_api: tuple[Api, dict[str, str]],
) -> None:
    api, keys = keyed_api
    status, body = api.fetch("/api/v1/summary", headers=bearer(keys["acme"]), tenant="globex")
    assert status == 403 and json.loads(body)["error"]["code"] == "forbidden"
    other = next(r for r in api.rows if r.tenant != "acme")
    status, _ = api.fetch(f"/api/v1/requests/{other.request_id:016x}", headers=bearer(keys["acme"]))
    assert status == 404
