"""Tenant isolation and key enforcement through the real HTTP routes (docs/security.md)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.integration.auth.harness import B_SECRETS, Server
from tests.support.echoes import without_echoes
from tests.unit.ingest.builders import body, sdk_attributes, span

READ_ROUTES = [
    "/api/v1/summary",
    "/api/v1/mix",
    "/api/v1/cost",
    "/api/v1/escalations",
    "/api/v1/drift",
    "/api/v1/dimensions",
    "/api/v1/calls",
    "/api/v1/health/data",
    "/api/v1/export/chargeback",
    "/api/v1/opportunities",
    "/api/v1/routing/whatif",
    "/api/v1/alerts/rules",
    "/api/v1/alerts/events",
    "/api/v1/alerts/states",
    "/api/v1/alerts/silences",
    "/api/v1/admin/tiers",
    "/api/v1/admin/prices",
]
# Parameter combinations a tenant-A reader might try to reach tenant B with.
ESCAPES: list[dict[str, Any]] = [
    {},
    {"tenant": "tenant-b"},
    {"tenant": ["tenant-a", "tenant-b"]},
    {"tenant": ""},
    {"tenant": "TENANT-B"},
    {"tenant": "tenant-b ", "route": "b.secret.route"},
    {"route": "b.secret.route"},
    {"by": "model"},
    {"by": "tenant"},
    {"group_by": "tenant"},
    {"format": "csv"},
    {"tenant": "tenant-a", "format": "csv", "by": "route"},
]


def post_spans(server: Server, key: str | None, spans: list[Any]) -> httpx.Response:
    headers = {"Content-Type": "application/x-protobuf"}
    if key:
        headers["x-api-key"] = key
    return httpx.post(f"{server.url}/v1/traces", content=body(spans), headers=headers, timeout=30)


def test_healthz_is_open_but_every_other_route_needs_a_key_once_keys_exist(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    for path in [*READ_ROUTES, "/api/v1/admin/keys"]:
        response = server.get(path, None)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"
    assert post_spans(server, None, [span()]).status_code == 401
    assert server.get("/api/v1/summary", "tmx_000000000000_notarealkeynotarealkey").status_code == 401


def test_bearer_and_x_api_key_headers_are_both_accepted(server: Server) -> None:
    key = server.keys.a_read
    assert server.get("/api/v1/summary", key).status_code == 200
    response = httpx.get(f"{server.url}/api/v1/summary", headers={"x-api-key": key}, timeout=10)
    assert response.status_code == 200
    response = httpx.get(
        f"{server.url}/api/v1/summary", headers={"Authorization": f"Basic {key}"}, timeout=10
    )
    assert response.status_code == 401
    # a proxy's Basic credentials beside an x-api-key do not hide the key
    headers = {"Authorization": "Basic dXNlcjpwYXNz", "x-api-key": key}
    assert httpx.get(f"{server.url}/api/v1/summary", headers=headers, timeout=10).status_code == 200


def test_a_key_without_the_needed_scope_is_forbidden(server: Server) -> None:
    keys = server.keys
    assert server.get("/api/v1/summary", keys.a_ingest).status_code == 403
    assert post_spans(server, keys.a_read, [span()]).status_code == 403
    assert server.get("/api/v1/admin/keys", keys.a_read).status_code == 403
    response = httpx.post(
        f"{server.url}/api/v1/admin/prices",
        json={"model": "x", "kind": "discount", "discount_pct": 5},
        headers={"Authorization": f"Bearer {keys.a_read}"},
        timeout=10,
    )
    assert response.status_code == 403
    assert server.get("/api/v1/summary", keys.admin).status_code == 200  # admin may do anything


def test_tenant_a_ingest_key_cannot_write_rows_for_tenant_b(server: Server) -> None:
    claims_b = [
        span(sdk_attributes(**{"tiermix.tenant": "tenant-b", "tiermix.route": "a.route"})) for _ in range(3)
    ]
    claims_none = [span(sdk_attributes(**{"tiermix.tenant": None, "tiermix.route": "a.route"}))]
    response = post_spans(server, server.keys.a_ingest, claims_b + claims_none)
    assert response.status_code == 200, response.text
    rows = wait_for_rows(
        server, "SELECT tenant, count() FROM llm_calls WHERE route = 'a.route' GROUP BY tenant", 4
    )
    assert rows == [("tenant-a", 4)]


def test_a_tenant_ingest_key_binds_bodies_decoded_in_a_worker_process_too(server: Server) -> None:
    def decode_metric(name: str) -> float:
        text = server.get("/metrics", server.keys.admin).text
        return next(
            (float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " ")), 0.0
        )

    def large_body(route: str) -> list[Any]:  # ~60 KiB: over the 16 KiB decoded inline
        claims = ["tenant-b", None, "TENANT-B", "tenant-a"]
        return [
            span(sdk_attributes(**{"tiermix.tenant": claims[i % 4], "tiermix.route": route}), span_id=i + 1)
            for i in range(400)
        ]

    # The first large body starts the worker (and is decoded inline); the second goes through it.
    assert post_spans(server, server.keys.a_ingest, large_body("a.large.warmup")).status_code == 200
    deadline = time.monotonic() + 60
    while decode_metric("tiermix_decode_workers_ready") < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    jobs_before = decode_metric("tiermix_decode_jobs_total")
    response = post_spans(server, server.keys.a_ingest, large_body("a.large"))
    assert response.status_code == 200, response.text
    assert decode_metric("tiermix_decode_jobs_total") == jobs_before + 1, "decoded in the worker"
    for route in ("a.large.warmup", "a.large"):
        sql = f"SELECT tenant, count() FROM llm_calls WHERE route = '{route}' GROUP BY tenant"
        assert wait_for_rows(server, sql, 400) == [("tenant-a", 400)], route


def wait_for_rows(server: Server, sql: str, expected_total: int, timeout_s: float = 15.0) -> list[Any]:
    """The collector acknowledges once a batch is durable; a spooled batch lands shortly after."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = [tuple(row) for row in server.client.query(sql).result_rows]
        if sum(row[-1] for row in rows) >= expected_total or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


@pytest.mark.parametrize("path", READ_ROUTES)
def test_tenant_a_read_key_never_sees_tenant_b_whatever_the_parameters(server: Server, path: str) -> None:
    for params in ESCAPES:
        response = server.get(path, server.keys.a_read, **params)
        assert response.status_code in (200, 400, 403, 404), (path, params, response.text)
        # an answer may name what it was asked about; errors are held to every secret
        text = without_echoes(response.text, params, None, response.status_code, ())
        for secret in B_SECRETS:
            assert secret not in text, (path, params)
    # ...while B's own reader and the all-tenants admin do see B's data on the call routes.
    if path == "/api/v1/calls":
        assert "b-secret-model" in server.get(path, server.keys.b_read, start=server.start.isoformat()).text
        assert (
            "b-secret-model"
            in server.get(path, server.keys.admin, tenant="tenant-b", start=server.start.isoformat()).text
        )


def test_tenant_a_totals_count_only_tenant_a(server: Server) -> None:
    a_calls = server.client.query("SELECT count() FROM llm_calls WHERE tenant = 'tenant-a'").result_rows[0][0]
    start = server.start.isoformat()
    summary = server.get("/api/v1/summary", server.keys.a_read, start=start).json()
    assert summary["calls"] == a_calls
    everyone = server.get("/api/v1/summary", server.keys.admin, start=start).json()
    assert everyone["calls"] > a_calls


def test_tenant_a_never_sees_tenant_b_alert_rules(server: Server) -> None:
    rule = {
        "name": "b secret rule tenant-b",
        "metric": "frontier_share",
        "group_by": ["route"],
        "filters": {"tenant": "tenant-b"},
        "window": "5m",
        "condition": {"op": ">", "threshold": 0.3},
        "min_volume": 5,
        "for": "1m",
        "severity": "warning",
        "channels": [],
    }
    created = httpx.post(
        f"{server.url}/api/v1/alerts/rules",
        json=rule,
        headers={"Authorization": f"Bearer {server.keys.admin}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    assert server.get(f"/api/v1/alerts/rules/{rule_id}", server.keys.a_read).status_code == 404
    assert "tenant-b" not in server.get("/api/v1/alerts/rules", server.keys.a_read).text
    assert server.get(f"/api/v1/alerts/rules/{rule_id}", server.keys.b_read).status_code == 200
    forbidden = httpx.post(
        f"{server.url}/api/v1/alerts/rules",
        json={**rule, "name": "sneaky"},
        headers={"Authorization": f"Bearer {server.keys.a_admin}"},
        timeout=10,
    )
    assert forbidden.status_code == 403


def test_a_tenant_admin_key_cannot_act_for_another_tenant(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.keys.a_admin}"}
    for_b = httpx.post(
        f"{server.url}/api/v1/admin/keys",
        json={"scope": "read", "tenant": "tenant-b"},
        headers=headers,
        timeout=10,
    )
    assert for_b.status_code == 403
    all_tenants = httpx.post(
        f"{server.url}/api/v1/admin/keys", json={"scope": "read"}, headers=headers, timeout=10
    )
    assert all_tenants.status_code == 403
    listed = server.get("/api/v1/admin/keys", server.keys.a_admin).json()["keys"]
    assert {key["tenant"] for key in listed} == {"tenant-a"}
    price_for_b = httpx.post(
        f"{server.url}/api/v1/admin/prices",
        headers=headers,
        timeout=10,
        json={"model": "gpt-4o", "kind": "discount", "discount_pct": 99, "tenant": "tenant-b"},
    )
    assert price_for_b.status_code == 403
    retier = httpx.post(
        f"{server.url}/api/v1/admin/retier", json={"since": "2026-01-01"}, headers=headers, timeout=30
    )
    assert retier.status_code == 403


def test_a_key_revoked_by_the_cli_in_another_process_is_refused_on_the_next_request(server: Server) -> None:
    from tiermix_server.meta.keys import create_key

    created = create_key(server.meta, scope="read", tenant="tenant-a")
    assert server.get("/api/v1/summary", created.key).status_code == 200
    revoked = subprocess.run(
        [
            sys.executable,
            "-m",
            "tiermix_server.cli",
            "keys",
            "revoke",
            created.info.prefix,
            "--database-url",
            server.settings.database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert revoked.returncode == 0, revoked.stderr
    response = server.get("/api/v1/summary", created.key)
    assert response.status_code == 401
    assert post_spans(server, server.keys.a_ingest, [span()]).status_code == 200  # others unaffected


def test_tenant_a_cannot_open_a_tenant_b_request_by_its_id(server: Server) -> None:
    request_id = server.client.query(
        "SELECT request_id FROM llm_calls WHERE tenant = 'tenant-b' LIMIT 1"
    ).result_rows[0][0]
    path = f"/api/v1/requests/{request_id:016x}"
    assert server.get(path, server.keys.b_read).status_code == 200
    for params in ({}, {"tenant": "tenant-b"}, {"format": "csv"}):
        response = server.get(path, server.keys.a_read, **params)
        assert response.status_code in (403, 404), (params, response.text)
        for secret in B_SECRETS:
            assert secret not in response.text
