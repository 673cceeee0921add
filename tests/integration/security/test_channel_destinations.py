"""No way into the collector's own network through an alert channel (SSRF).

A tenant admin key writes rules whose channels the collector connects to. These tests try what an
attacker holding one would: the cloud metadata address, the collector's own admin API, loopback
services, numeric spellings, private networks, SMTP to loopback — and the test endpoint as a port
scanner. The policy itself (resolve, then connect; rebinding) is checked on ``DestinationPolicy``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.alerts.receivers import http_receiver
from tests.support.server import running_server

RULE: dict[str, Any] = {
    "name": "probe",
    "metric": "frontier_share",
    "filters": {"tenant": "acme"},
    "window": "5m",
    "condition": {"op": ">", "threshold": 0.3},
}


def webhook(url: str) -> list[dict[str, Any]]:
    return [{"type": "webhook", "url": url}]


@pytest.fixture
def keys(settings: Any) -> dict[str, str]:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    meta = open_meta(settings)
    return {
        "operator": create_key(meta, scope="admin", tenant=None).key,
        "tenant": create_key(meta, scope="admin", tenant="acme").key,
    }


@pytest.fixture
def api(settings: Any, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def create(api: httpx.Client, key: str, channels: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return api.post(
        "/api/v1/alerts/rules",
        json={**RULE, **extra, "channels": channels},
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:{port}/api/v1/admin/keys",
        "http://localhost:6379/",
        "http://[::1]:22/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0:4318/",
    ],
)
def test_a_tenant_rule_cannot_point_a_webhook_inside(
    api: httpx.Client, keys: dict[str, str], settings: Any, url: str
) -> None:
    answer = create(api, keys["tenant"], webhook(url.format(port=settings.port)))
    assert answer.status_code == 400, (url, answer.status_code, answer.text)
    assert "may not reach" in answer.json()["error"]["message"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "169.254.169.254", "10.1.2.3"])
def test_a_tenant_rule_cannot_send_mail_through_an_internal_host(
    api: httpx.Client, keys: dict[str, str], host: str
) -> None:
    channels = [{"type": "email", "to": ["x@example.com"], "smtp_host": host, "smtp_port": 25}]
    assert create(api, keys["tenant"], channels).status_code == 400


def test_operator_rules_may_reach_private_hosts_but_never_link_local(
    api: httpx.Client, keys: dict[str, str]
) -> None:
    operator = keys["operator"]
    assert create(api, operator, webhook("http://127.0.0.1:9/hook"), filters={}).status_code == 201
    refused = create(api, operator, webhook("http://169.254.169.254/"), filters={})
    assert refused.status_code == 400


def test_the_test_endpoint_tells_a_tenant_key_nothing_about_why_delivery_failed(
    make_settings: Any,
) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    settings = make_settings(channel_allow="127.0.0.1")  # the operator allows a host the tenant may use
    meta = open_meta(settings)
    tenant = create_key(meta, scope="admin", tenant="acme").key
    operator = create_key(meta, scope="admin", tenant=None).key
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=30) as api:
        closed = webhook("http://127.0.0.1:9/hook")  # discard port: nothing listens
        rule = create(api, tenant, [{**closed[0], "max_attempts": 1, "timeout_s": 1}]).json()
        as_tenant = api.post(
            f"/api/v1/alerts/rules/{rule['id']}/test", headers={"Authorization": f"Bearer {tenant}"}
        )
        [delivery] = as_tenant.json()["deliveries"]
        assert delivery == {"channel": "0:webhook", "ok": False, "error": "delivery failed"}
        as_operator = api.post(
            f"/api/v1/alerts/rules/{rule['id']}/test", headers={"Authorization": f"Bearer {operator}"}
        )
        assert "ConnectError" in as_operator.json()["deliveries"][0]["error"]
        with http_receiver() as receiver:  # and an allowed, listening host is reached
            good = create(api, tenant, webhook(receiver.url), name="reachable").json()
            sent = api.post(
                f"/api/v1/alerts/rules/{good['id']}/test", headers={"Authorization": f"Bearer {tenant}"}
            )
            assert sent.json()["deliveries"][0]["ok"] is True
            assert receiver.requests


def test_rebinding_cannot_move_a_checked_host_inside() -> None:
    from tiermix_server.alerts.destinations import DestinationRefused, policy_for

    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    policy = policy_for("acme", "", resolver=lambda host, port: next(answers))
    assert policy.resolve("rebind.example", 80) == "93.184.216.34"  # at creation
    with pytest.raises(DestinationRefused, match="loopback"):
        policy.resolve("rebind.example", 80)  # at send time the answer changed: refused
    mixed = policy_for("acme", "", resolver=lambda host, port: ["93.184.216.34", "10.0.0.1"])
    with pytest.raises(DestinationRefused):
        mixed.resolve("both.example", 80)  # every address must pass, or one could be chosen


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """Resolve, then connect: the URL's host travels only as the Host header."""
    from tiermix_server.alerts.channels.webhook import post_json
    from tiermix_server.alerts.destinations import policy_for

    with http_receiver() as receiver:
        port = int(receiver.url.split(":")[2].split("/")[0])
        policy = policy_for(None, "127.0.0.0/8", resolver=lambda host, p: ["127.0.0.1"])
        asyncio.run(post_json(f"http://hooks.test:{port}/hook", b"{}", {}, 5.0, policy))
        [received] = receiver.requests
        assert received.headers["host"] == f"hooks.test:{port}"
