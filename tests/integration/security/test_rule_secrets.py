"""Alert rules never show an operator's secrets: redacted for every reader, hidden from tenant keys.

A global rule's channels point at the operator's own systems; a tenant-bound key may see that the rule
exists (it evaluates that tenant's traffic) but not where it notifies. Every reader sees that a secret
is set, never its value: HMAC and SMTP secrets, Slack URLs, credentials in webhook URLs, path tokens
and header values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import running_server

SECRET_BITS = ("hunter2", "s3cr3t-token", "Bearer abc123", "T000/B000/XYZ", "smtp-pass", "user:pw")
GLOBAL_RULE = {
    "name": "operator's spike rule",
    "metric": "frontier_share",
    "group_by": ["tenant"],
    "window": "5m",
    "condition": {"op": ">", "threshold": 0.3},
    "channels": [
        {
            "type": "webhook",
            "url": "https://user:hunter2@hooks.example.com/in/s3cr3t-token?sig=abc",
            "headers": {"Authorization": "Bearer abc123"},
        },
        {"type": "slack", "url": "https://hooks.slack.com/services/T000/B000/XYZ"},
        {
            "type": "email",
            "to": ["ops@example.com"],
            "smtp_host": "smtp.example.com",
            "username": "user:pw",
            "password": "smtp-pass",
        },
    ],
}


@pytest.fixture
def keyed(settings: Any) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    meta = open_meta(settings)
    keys = {
        "admin": create_key(meta, scope="admin", tenant=None).key,
        "read": create_key(meta, scope="read", tenant=None).key,
        "tenant_read": create_key(meta, scope="read", tenant="acme").key,
        "tenant_admin": create_key(meta, scope="admin", tenant="acme").key,
    }
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        client._tiermix_settings = settings  # type: ignore[attr-defined]
        yield client, keys


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_no_reader_sees_a_channel_secret_and_tenant_keys_see_no_global_targets(
    keyed: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, keys = keyed
    created = client.post("/api/v1/alerts/rules", json=GLOBAL_RULE, headers=as_key(keys["admin"]))
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    for who in ("admin", "read", "tenant_read", "tenant_admin"):
        for path in ("/api/v1/alerts/rules", f"/api/v1/alerts/rules/{rule_id}"):
            answer = client.get(path, headers=as_key(keys[who]))
            assert answer.status_code == 200, (who, path, answer.text)
            text = answer.text
            leaked = [bit for bit in SECRET_BITS if bit in text]
            assert not leaked, (who, path, leaked)
            if who.startswith("tenant"):
                assert "hooks.example.com" not in text and "smtp.example.com" not in text, (who, text)
                assert "ops@example.com" not in text, (who, text)
    # An all-tenants admin still sees where each channel goes, and that its secrets are set.
    shown = client.get(f"/api/v1/alerts/rules/{rule_id}", headers=as_key(keys["admin"])).json()
    webhook, slack, email = shown["channels"]
    assert webhook["url"].startswith("https://***@hooks.example.com/")
    assert webhook["headers"] == {"Authorization": "***"}
    assert slack["url"] == "***" and email["password"] == "***" and email["smtp_host"] == "smtp.example.com"


def test_a_rule_read_back_and_sent_again_keeps_its_secrets(
    keyed: tuple[httpx.Client, dict[str, str]],
) -> None:
    from tiermix_server.alerts import store
    from tiermix_server.meta.db import open_meta

    client, keys = keyed
    created = client.post("/api/v1/alerts/rules", json=GLOBAL_RULE, headers=as_key(keys["admin"])).json()
    shown = client.get(f"/api/v1/alerts/rules/{created['id']}", headers=as_key(keys["admin"])).json()
    shown["name"] = "renamed"
    replaced = client.put(f"/api/v1/alerts/rules/{created['id']}", json=shown, headers=as_key(keys["admin"]))
    assert replaced.status_code == 200, replaced.text
    stored = json.dumps(store.get_rule(open_meta(keyed_settings(client)), created["id"]).spec.to_json())
    for bit in ("hunter2", "s3cr3t-token", "Bearer abc123", "T000/B000/XYZ", "smtp-pass"):
        assert bit in stored, bit  # the real values are kept, not overwritten by the redacted ones


def keyed_settings(client: httpx.Client) -> Any:
    return client._tiermix_settings  # type: ignore[attr-defined]
