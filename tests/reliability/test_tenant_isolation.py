"""Tenant isolation and SQL injection across the whole API, against the real collector with API keys.

Tenants ``alpha`` (A) and ``bravo`` (B) each have ingest, read and admin keys (docs/security.md: a key
bound to a tenant stamps it on what it ingests and sees only that tenant, whatever the query says).
B's data carries markers — its tenant name, its route ``bravo.secret``, its span and request ids —
that no answer to one of A's keys may ever contain, for any route or parameter combination. A's ingest
key also tries to write as B, and must end up writing as A. Then SQL-injection strings go into every
parameter of every ``/api/v1/*`` route, with A's key and with an all-tenants admin key: each is refused
(4xx) or harmless (200 without B's data), never a 500, and the tables are intact afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.helpers import Server, reliability_settings, serve, wait_until
from tests.unit.ingest.builders import request, sdk_attributes, span

pytestmark = pytest.mark.slow

A, B = "alpha", "bravo"
B_ROUTE = "bravo.secret"
A_CALLS, A_CLAIMING_B, B_CALLS = 6, 4, 9
NOW = datetime.now(timezone.utc)
WINDOW = {"start": (NOW - timedelta(days=3)).isoformat(), "end": (NOW + timedelta(minutes=30)).isoformat()}

READ_ROUTES = (
    "/api/v1/summary",
    "/api/v1/mix",
    "/api/v1/cost",
    "/api/v1/escalations",
    "/api/v1/drift",
    "/api/v1/dimensions",
    "/api/v1/calls",
    "/api/v1/health/data",
    "/api/v1/export/chargeback",
    "/api/v1/alerts/rules",
    "/api/v1/alerts/states",
    "/api/v1/alerts/events",
    "/api/v1/alerts/silences",
    "/api/v1/admin/prices",
    "/api/v1/admin/prices/quote",
    "/api/v1/admin/tiers",
    "/api/v1/admin/tiers/explain",
    "/api/v1/admin/keys",
)
COMMON_PARAMS = ("start", "end", "tenant", "route", "environment", "model", "tier", "top_tier", "format")
ROUTE_PARAMS: dict[str, tuple[str, ...]] = {
    "/api/v1/summary": ("group_by", "baseline_model", "baseline_model.alpha.route"),
    "/api/v1/mix": ("by", "interval"),
    "/api/v1/cost": ("group_by", "interval", "baseline_model", "baseline_model.alpha.route"),
    "/api/v1/escalations": ("group_by", "view", "interval"),
    "/api/v1/drift": ("window", "baseline", "js_threshold", "psi_threshold", "view"),
    "/api/v1/calls": ("request_id", "status", "provider", "limit", "cursor"),
    "/api/v1/alerts/states": ("rule_id",),
    "/api/v1/alerts/events": ("rule_id", "since", "limit"),
    "/api/v1/alerts/silences": ("active",),
    "/api/v1/admin/prices/quote": ("provider", "at"),
    "/api/v1/admin/tiers/explain": ("provider",),
}
# what a route needs to answer at all (the variations below come on top)
BASE_PARAMS: dict[str, dict[str, str]] = {
    "/api/v1/admin/prices/quote": {"model": "gpt-4o-mini"},
    "/api/v1/admin/tiers/explain": {"model": "gpt-4o-mini"},
}
# Tenant-ish variations a client might try to widen its view with.
TENANT_TRICKS: list[list[tuple[str, str]]] = [
    [],
    [("tenant", B)],
    [("tenant", A)],
    [("tenant", "BRAVO")],
    [("tenant", B + " ")],
    [("tenant", A), ("tenant", B)],
    [("tenant", B), ("tenant", A)],
    [("tenant", "")],
    [("tenant", "*")],
    [("tenant", "%")],
    [("group_by", "tenant")],
    [("group_by", "tenant,route")],
    [("route", B_ROUTE)],
    [("format", "csv")],
    [("format", "csv"), ("group_by", "tenant"), ("tenant", B)],
    [("view", "segments"), ("format", "csv")],
    [("view", "reasons"), ("format", "csv")],
    [("baseline", "3d"), ("window", "1d")],
]
INJECTIONS = (
    "' OR '1'='1",
    "alpha' OR 1=1 --",
    "x'); DROP TABLE llm_calls; --",
    "{tenant:String}",
    "' UNION ALL SELECT tenant, route FROM llm_calls --",
    "1; SELECT * FROM system.tables",
)


class World:
    """The server, the keys of each party, and B's markers."""

    def __init__(self, server: Server, keys: dict[str, str]) -> None:
        self.server = server
        self.keys = keys
        self.b_markers: list[str] = [B, B_ROUTE]
        self.b_rule_id = 0
        self.a_rule_id = 0
        self.b_request_id = ""

    def get(self, who: str, path: str, params: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        return self.server.http.get(path, params=params, headers=headers)

    def send(self, who: str, spans: list[Any], resource: dict[str, Any] | None = None) -> httpx.Response:
        payload = request(spans, resource).SerializeToString()
        headers = {"Authorization": f"Bearer {self.keys[who]}", "Content-Type": "application/x-protobuf"}
        return self.server.http.post("/v1/traces", content=payload, headers=headers)

    def leaks(self, response: httpx.Response) -> list[str]:
        text = response.text.lower()
        return [marker for marker in self.b_markers if marker.lower() in text]


def _spans(tenant: str, route: str, n: int, *, days_ago: float = 0, model: str = "gpt-4o-mini") -> list[Any]:
    start_ns = int((time.time() - days_ago * 86_400) * 1e9) - 10**9
    return [
        span(
            sdk_attributes(
                **{
                    "tiermix.tenant": tenant,
                    "tiermix.route": route,
                    "gen_ai.response.model": model,
                    "tiermix.tag.owner": tenant,
                }
            ),
            start_ns=start_ns - i * 10**6,
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def world(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    settings = reliability_settings(
        chdb_dir, tmp_path_factory.mktemp("tenants") / "data", alerts_enabled=True, alerts_interval_s=0.5
    )
    meta = open_meta(settings)
    keys = {"root": create_key(meta, scope="admin", tenant=None).key}
    for tenant in (A, B):
        for scope in ("ingest", "read", "admin"):
            keys[f"{tenant}_{scope}"] = create_key(meta, scope=scope, tenant=tenant).key
    with serve(settings) as server:
        world = World(server, keys)
        b_spans = _spans(B, B_ROUTE, B_CALLS, model="claude-opus-4-1") + _spans(B, B_ROUTE, 3, days_ago=2)
        world.b_markers += [s.span_id.hex() for s in b_spans]
        assert world.send("bravo_ingest", b_spans).status_code == 200
        a_spans = _spans(A, "alpha.route", A_CALLS) + _spans(A, "alpha.route", 2, days_ago=2)
        assert world.send("alpha_ingest", a_spans).status_code == 200
        # A's ingest key claims tenant B on the span and on the resource, and sends a drop report as B.
        claiming = _spans(B, "alpha.claims-other", A_CLAIMING_B)
        drop_report = span(
            {"tiermix.drop.count": 77, "tiermix.drop.reason": "queue_full", "tiermix.tenant": B,
             "tiermix.drop.since_unix_nano": time.time_ns() - 10**9},
            name="tiermix.drop_report",
        )  # fmt: skip
        drop_report.kind = drop_report.SpanKind.SPAN_KIND_INTERNAL
        response = world.send(
            "alpha_ingest", [*claiming, drop_report], {"service.name": "x", "tiermix.tenant": B}
        )
        assert response.status_code == 200
        world.b_request_id = b_spans[0].span_id.hex()  # a lone call's request id is its span id

        root = {"Authorization": f"Bearer {keys['root']}"}
        for tenant in (A, B):
            rule = {
                "name": f"{tenant} frontier", "metric": "frontier_share", "filters": {"tenant": tenant},
                "window": "1h", "condition": {"op": ">=", "threshold": 0.0}, "group_by": ["tenant"],
            }  # fmt: skip
            created = server.http.post("/api/v1/alerts/rules", json=rule, headers=root)
            assert created.status_code == 201, created.text
            setattr(world, f"{tenant[0]}_rule_id", created.json()["id"])
        wait_until(
            lambda: any(
                e.get("rule_id") == world.b_rule_id
                for e in server.http.get("/api/v1/alerts/events", headers=root).json().get("events", [])
            ), 30, "the evaluator fired B's rule",
        )  # fmt: skip
        yield world


def test_the_fixture_world_holds_what_the_isolation_checks_rely_on(world: World) -> None:
    root = world.get("root", "/api/v1/summary", {**WINDOW, "group_by": "tenant"})
    assert root.status_code == 200, root.text
    calls = {row["tenant"]: row["calls"] for row in root.json()["rows"]}
    assert calls == {A: A_CALLS + 2 + A_CLAIMING_B, B: B_CALLS + 3}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/summary", {"group_by": "tenant"}),
        ("/api/v1/calls", {}),
        ("/api/v1/export/chargeback", {}),
        ("/api/v1/drift", {"window": "1d", "baseline": "3d"}),
        ("/api/v1/alerts/rules", {}),
        ("/api/v1/alerts/events", {}),
        ("/api/v1/admin/keys", {}),
    ],
)
def test_the_leak_check_sees_b_through_an_all_tenants_key(
    world: World, path: str, params: dict[str, str]
) -> None:
    response = world.get("root", path, {**WINDOW, **params})
    assert response.status_code == 200, response.text
    assert world.leaks(response), f"{path} shows no trace of B even to an all-tenants key"


def test_an_ingest_key_bound_to_a_tenant_writes_only_as_that_tenant(world: World) -> None:
    server = world.server
    claimed = "SELECT count() FROM llm_calls WHERE route = 'alpha.claims-other' AND tenant = {t:String}"
    assert server.scalar(claimed, t=A) == A_CLAIMING_B
    assert server.scalar("SELECT count() FROM llm_calls WHERE tenant = {t:String}", t=B) == B_CALLS + 3
    assert server.scalar("SELECT countIf(tenant = {t:String}) FROM sdk_drops", t=B) == 0
    health = world.get("root", "/api/v1/health/data", {**WINDOW, "tenant": B}).json()
    assert health["sdk_dropped"] == 0
    assert world.get("root", "/api/v1/health/data", {**WINDOW, "tenant": A}).json()["sdk_dropped"] == 77


def test_keys_are_held_to_their_scope(world: World) -> None:
    assert world.get("alpha_ingest", "/api/v1/summary", WINDOW).status_code == 403
    response = world.send("alpha_read", _spans(A, "alpha.route", 1))
    assert response.status_code == 403


@pytest.mark.parametrize("who", ["alpha_read", "alpha_admin"])
@pytest.mark.parametrize("path", READ_ROUTES)
def test_no_route_or_parameter_combination_shows_a_tenant_key_another_tenants_data(
    world: World, who: str, path: str
) -> None:
    answered = 0
    for trick in TENANT_TRICKS:
        response = world.get(who, path, [*WINDOW.items(), *BASE_PARAMS.get(path, {}).items(), *trick])
        assert response.status_code in (200, 400, 403, 404), (
            path,
            trick,
            response.status_code,
            response.text,
        )
        if response.status_code == 200:
            answered += 1
            assert world.leaks(response) == [], (path, trick, response.text[:500])
    if not (path == "/api/v1/admin/keys" and who == "alpha_read"):  # keys need an admin key
        assert answered > 0, f"{path} refused every variation: the check above proved nothing"


@pytest.mark.parametrize("who", ["alpha_read", "alpha_admin"])
def test_a_tenant_key_sees_exactly_its_own_totals(world: World, who: str) -> None:
    own = A_CALLS + 2 + A_CLAIMING_B
    summary = world.get(who, "/api/v1/summary", WINDOW).json()
    assert summary["calls"] == own
    grouped = world.get(who, "/api/v1/summary", {**WINDOW, "group_by": "tenant"}).json()
    assert [(row["tenant"], row["calls"]) for row in grouped["rows"]] == [(A, own)]
    chargeback = world.get(who, "/api/v1/export/chargeback", WINDOW).json()
    assert {row["x_Tenant"] for row in chargeback["rows"]} == {A}
    assert sum(row["x_Calls"] for row in chargeback["rows"]) == own
    drift = world.get(who, "/api/v1/drift", {"end": WINDOW["end"], "window": "1d", "baseline": "3d"}).json()
    assert {row["tenant"] for row in drift["rows"]} == {A}
    assert world.get(who, "/api/v1/summary", {**WINDOW, "tenant": B}).status_code == 403


@pytest.mark.parametrize("who", ["alpha_read", "alpha_admin"])
def test_another_tenants_request_rule_and_alerts_are_not_found_for_a_tenant_key(
    world: World, who: str
) -> None:
    assert world.get(who, f"/api/v1/requests/{world.b_request_id}").status_code in (403, 404)
    calls = world.get(who, "/api/v1/calls", {**WINDOW, "request_id": world.b_request_id})
    assert calls.status_code == 200 and calls.json()["rows"] == []
    assert world.get(who, f"/api/v1/alerts/rules/{world.b_rule_id}").status_code in (403, 404)
    rules = world.get(who, "/api/v1/alerts/rules").json()["rules"]
    assert world.b_rule_id not in {rule["id"] for rule in rules}
    events = world.get(who, "/api/v1/alerts/events").json()["events"]
    assert world.b_rule_id not in {event["rule_id"] for event in events}
    states = world.get(who, "/api/v1/alerts/states").json()["states"]
    assert world.b_rule_id not in {state["rule_id"] for state in states}
    root_events = world.get("root", "/api/v1/alerts/events").json()["events"]
    assert world.b_rule_id in {event["rule_id"] for event in root_events}  # the event exists: it is hidden


def test_a_tenant_admin_key_cannot_change_another_tenants_rules_keys_or_prices(world: World) -> None:
    http, rule_path = world.server.http, f"/api/v1/alerts/rules/{world.b_rule_id}"
    auth = {"Authorization": f"Bearer {world.keys['alpha_admin']}"}
    assert http.patch(rule_path, json={"enabled": False}, headers=auth).status_code in (403, 404)
    assert http.delete(rule_path, headers=auth).status_code in (403, 404)
    rule = {
        "name": "sneaky",
        "metric": "spend",
        "filters": {"tenant": B},
        "condition": {"op": ">", "threshold": 1},
    }
    assert http.post("/api/v1/alerts/rules", json=rule, headers=auth).status_code == 403
    assert (
        http.post("/api/v1/admin/keys", json={"scope": "read", "tenant": B}, headers=auth).status_code == 403
    )
    price = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "tenant": B,
        "kind": "discount",
        "discount_pct": 90,
    }
    assert http.post("/api/v1/admin/prices", json=price, headers=auth).status_code == 403
    assert (
        http.post(
            "/api/v1/admin/reprice", json={"since": "2026-01-01", "tenant": B}, headers=auth
        ).status_code
        == 403
    )
    still = world.get("root", rule_path)
    assert still.status_code == 200 and still.json()["enabled"] is True


@pytest.mark.parametrize("who", ["alpha_read", "root"])
@pytest.mark.parametrize("path", READ_ROUTES)
def test_sql_injection_in_every_parameter_is_refused_or_harmless(world: World, who: str, path: str) -> None:
    names = COMMON_PARAMS + ROUTE_PARAMS.get(path, ())
    for name in names:
        for attack in INJECTIONS:
            response = world.get(who, path, {**WINDOW, **BASE_PARAMS.get(path, {}), name: attack})
            assert response.status_code in (200, 400, 403, 404), (path, name, attack, response.text[:300])
            if who != "root" and response.status_code == 200:
                assert world.leaks(response) == [], (path, name, attack, response.text[:500])
    assert world.server.scalar("SELECT count() FROM llm_calls") == A_CALLS + 2 + A_CLAIMING_B + B_CALLS + 3


@pytest.mark.parametrize("who", ["alpha_read", "root"])
def test_sql_injection_in_path_parameters_is_refused(world: World, who: str) -> None:
    for attack in INJECTIONS:
        for path in (f"/api/v1/requests/{attack}", f"/api/v1/alerts/rules/{attack}"):
            response = world.get(who, path)
            assert response.status_code in (400, 404), (path, response.status_code, response.text[:300])
    assert world.server.scalar("SELECT count() FROM llm_calls") == A_CALLS + 2 + A_CLAIMING_B + B_CALLS + 3
