"""``/api/v1/alerts/*`` on the real collector: CRUD, validation errors, scopes, tenant confinement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import running_server
from tiermix_server.alerts.channels.webhook import SIGNATURE_HEADER, verify

RULE = {
    "name": "frontier spike",
    "metric": "frontier_share",
    "group_by": ["tenant"],
    "filters": {"route": "support.answer"},
    "window": "5m",
    "condition": {"op": ">", "threshold": 0.3},
    "min_volume": 50,
    "for": "2m",
    "severity": "warning",
    "channels": [{"type": "webhook", "url": "http://127.0.0.1:9999/hook"}],
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, chdb_dir: Any) -> Iterator[httpx.Client]:
    """One collector for the module (alerts evaluator off: these tests are about the API)."""
    from tests.conftest import free_port
    from tiermix_server.settings import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("alerts-api"),
        clickhouse_url=f"chdb://{chdb_dir}",
        clickhouse_database="alerts_api",
        port=free_port(),
        alerts_enabled=False,
        dashboard_url="http://dash.example:8501",
    )
    with running_server(settings) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        client.app_settings = settings  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def clean(api: httpx.Client) -> httpx.Client:
    for rule in api.get("/api/v1/alerts/rules").json()["rules"]:
        api.delete(f"/api/v1/alerts/rules/{rule['id']}")
    return api


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["error"]["message"]


def test_create_accepts_the_issue_example_and_shows_the_generated_secret_once(clean):
    created = clean.post("/api/v1/alerts/rules", json=RULE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["window"] == "5m" and rule["for"] == "2m" and rule["enabled"] is True
    assert len(rule["channels"][0]["secret"]) > 20
    shown = clean.get(f"/api/v1/alerts/rules/{rule['id']}").json()
    assert shown["channels"][0]["secret"] == "***"
    assert [r["name"] for r in clean.get("/api/v1/alerts/rules").json()["rules"]] == ["frontier spike"]


def test_put_patch_and_delete(clean):
    rule = clean.post("/api/v1/alerts/rules", json=RULE).json()
    url = f"/api/v1/alerts/rules/{rule['id']}"
    disabled = clean.patch(url, json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    replaced = clean.put(url, json={**clean.get(url).json(), "severity": "critical", "for": "5m"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["severity"] == "critical" and replaced.json()["for"] == "5m"
    assert replaced.json()["enabled"] is False
    assert clean.delete(url).status_code == 204
    assert clean.get(url).status_code == 404
    assert clean.delete(url).json()["error"]["code"] == "not_found"


def test_validation_errors_are_400_with_the_field_named(clean):
    assert "window: '5 minutes' is not a duration" in error_of(
        clean.post("/api/v1/alerts/rules", json={**RULE, "window": "5 minutes"})
    )
    assert "condition.op" in error_of(
        clean.post("/api/v1/alerts/rules", json={**RULE, "condition": {"op": "!", "threshold": 1}})
    )
    assert "metric" in error_of(clean.post("/api/v1/alerts/rules", json={**RULE, "metric": "vibes"}))
    assert "not valid JSON" in error_of(clean.post("/api/v1/alerts/rules", content=b"{nope"))
    assert clean.patch("/api/v1/alerts/rules/999", json={"enabled": False}).status_code == 404
    rule = clean.post("/api/v1/alerts/rules", json=RULE).json()
    assert "min_volume" in error_of(
        clean.patch(f"/api/v1/alerts/rules/{rule['id']}", json={"min_volume": -5})
    )
    duplicate = clean.post("/api/v1/alerts/rules", json=RULE)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "conflict"


def test_test_endpoint_sends_a_signed_test_notification(clean, receiver):
    body = {**RULE, "channels": [{"type": "webhook", "url": receiver.url, "secret": "k"}]}
    rule = clean.post("/api/v1/alerts/rules", json=body).json()
    answer = clean.post(f"/api/v1/alerts/rules/{rule['id']}/test")
    assert answer.status_code == 200 and answer.json()["deliveries"] == [
        {"channel": "0:webhook", "ok": True, "error": ""}
    ]
    (request,) = receiver.requests
    assert verify("k", request.body, request.headers[SIGNATURE_HEADER.lower()])
    payload = request.json()
    assert payload["kind"] == "test" and payload["dashboard_url"].startswith("http://dash.example:8501/?")


def test_silences_are_created_listed_and_expired(clean):
    rule = clean.post("/api/v1/alerts/rules", json=RULE).json()
    created = clean.post(
        "/api/v1/alerts/silences",
        json={"rule_id": rule["id"], "group": {"tenant": "acme"}, "duration": "2h", "comment": "deploy"},
    )
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["group"] == {"tenant": "acme"}
    active = clean.get("/api/v1/alerts/silences", params={"active": "true"}).json()["silences"]
    assert [s["id"] for s in active] == [silence["id"]]
    assert clean.delete(f"/api/v1/alerts/silences/{silence['id']}").status_code == 200
    assert clean.get("/api/v1/alerts/silences", params={"active": "true"}).json()["silences"] == []
    assert "duration" in error_of(clean.post("/api/v1/alerts/silences", json={"group": {"tenant": "a"}}))
    assert "group" in error_of(
        clean.post("/api/v1/alerts/silences", json={"group": {"model": "x"}, "duration": "1h"})
    )


def test_read_keys_cannot_change_and_tenant_keys_see_only_their_tenant(clean):
    from tiermix_server.alerts.persist import save_state
    from tiermix_server.alerts.state import InstanceState, Status
    from tiermix_server.alerts.store import get_rule
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key, revoke_key

    rule = clean.post("/api/v1/alerts/rules", json=RULE).json()
    meta = open_meta(clean.app_settings)  # type: ignore[attr-defined]
    record = get_rule(meta, rule["id"])
    with meta.session() as session:
        for tenant in ("acme", "globex"):
            save_state(
                session, record, f"tenant={tenant}", None, InstanceState(status=Status.FIRING), _now(), None
            )
    admin = create_key(meta, scope="admin", tenant=None)
    acme = create_key(meta, scope="read", tenant="acme")
    try:
        as_acme = {"Authorization": f"Bearer {acme.key}"}
        states = clean.get("/api/v1/alerts/states", headers=as_acme).json()["states"]
        assert [s["group"] for s in states] == [{"tenant": "acme"}]
        everyone = clean.get("/api/v1/alerts/states", headers={"Authorization": f"Bearer {admin.key}"})
        assert len(everyone.json()["states"]) == 2
        refused = clean.post("/api/v1/alerts/rules", json={**RULE, "name": "x"}, headers=as_acme)
        assert refused.status_code == 403
        assert clean.get("/api/v1/alerts/rules").status_code == 401
    finally:
        revoke_key(meta, admin.info.prefix)
        revoke_key(meta, acme.info.prefix)


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
