"""What capture keeps, where, for how long and within what budget (docs/security.md, "Captured content").

Each test starts its own collector: these change settings (TTL, byte budget) or look at everything one
stored. Content must never reach ``llm_calls``; e-mail addresses and key-like strings are redacted before
anything is written; a tenant or route with no capture policy keeps nothing; a call older than the TTL
is not captured, an expired capture is never read; and a tenant's captured bytes stay within its budget.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.integration.replay.harness import keyed_stack, replay_stack
from tests.unit.ingest.builders import body, sdk_attributes, span

EMAIL = "alice.smith@example.com"


def _client(settings: Any) -> Any:
    from tiermix_server.store.clickhouse import connect

    return connect(settings)


def _metric(url: str, line_start: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_content_stays_out_of_llm_calls_and_is_redacted_before_it_is_stored(make_settings: Any) -> None:
    with replay_stack(make_settings) as stack:
        assert stack.send_traffic(20, "--email", EMAIL, "--split", "5") == 20
        assert stack.send_traffic(10, "--tenant", "beta", "--first", "100") == 10  # no policy
        stack.wait_captured(20)
        client = _client(stack.settings)
        calls = client.query("SELECT * FROM llm_calls").result_rows
        stored = json.dumps([list(map(str, row)) for row in calls])
        assert client.query("SELECT count() FROM llm_calls").result_rows[0][0] == 30
        assert "Question" not in stored and "The answer is" not in stored and EMAIL not in stored
        requests = [r for (r,) in client.query("SELECT request FROM replay_captures").result_rows]
        assert len(requests) == 20, "one capture per call of the route with a policy, none for beta"
        for text in requests:
            message = json.loads(text)["messages"][-1]["content"]
            assert EMAIL not in message and "Reply to [redacted:email]." in message, message
        assert client.query("SELECT countIf(tenant = 'beta') FROM replay_captures").result_rows[0][0] == 0


def test_a_redaction_hook_that_fails_keeps_the_call_but_not_its_content(make_settings: Any) -> None:
    with replay_stack(make_settings, capture_redact="tests.integration.replay.hooks:explode") as stack:
        assert stack.send_traffic(5) == 5
        stack.wait_calls(5)
        client = _client(stack.settings)
        assert client.query("SELECT count() FROM replay_captures").result_rows[0][0] == 0
        assert _metric(stack.url, 'tiermix_capture_skipped_total{reason="redaction_failed"}') == 5


def test_an_operators_redaction_hook_replaces_the_default(make_settings: Any) -> None:
    with replay_stack(make_settings, capture_redact="tests.integration.replay.hooks:digits") as stack:
        assert stack.send_traffic(3, "--email", EMAIL) == 3
        stack.wait_captured(3)
        text = _client(stack.settings).query("SELECT request, response FROM replay_captures").result_rows
        for request, response in text:
            assert EMAIL in request, "the operator's hook replaces the default one"
            assert not any(c.isdigit() for c in json.loads(request)["messages"][-1]["content"])
            assert response == "The answer is #."


def _old_call(days: float, route: str = "quiz") -> bytes:
    attributes = sdk_attributes(**{
        "tiermix.route": route, "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-opus-4",
        "gen_ai.response.model": "claude-opus-4",
        "gen_ai.input.messages": json.dumps([{"role": "user", "content": "Question 1: what is 1 + 3?"}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": "The answer is 4."}]),
    })  # fmt: skip
    return body([span(attributes, start_ns=time.time_ns() - int(days * 86_400e9))])


def test_a_call_older_than_the_ttl_is_not_captured_and_an_expired_capture_is_never_read(
    make_settings: Any,
) -> None:
    with replay_stack(make_settings, capture_ttl_days=1) as stack:
        stack.ok("PUT", "/api/v1/capture/policies", {"tenant": "acme", "route": "fresh", "sample_rate": 1.0})
        for days, route in ((1.5, "quiz"), (0.5, "fresh")):
            sent = httpx.post(f"{stack.url}/v1/traces", content=_old_call(days, route), timeout=10,
                              headers={"content-type": "application/x-protobuf"})  # fmt: skip
            assert sent.status_code == 200, sent.text
        stack.wait_captured(1)
        assert _metric(stack.url, 'tiermix_capture_skipped_total{reason="expired"}') == 1
        client = _client(stack.settings)
        (row,) = client.query("SELECT route, expires_at - ts, bytes FROM replay_captures").result_rows
        assert row[0] == "fresh" and 86_399 <= row[1] <= 86_401, "kept for the TTL from the call's own time"
        # A capture that passes its TTL before the engine drops it (TTL merges run when they run): a
        # copy of the fresh one on the replayed route, expiring in 2 s. Then it is neither replayed nor
        # counted against the budget. (One already expired is dropped by the engine at insert; TTL merges
        # are stopped so this one stays, as it may for hours on a busy server.)
        client.command("SYSTEM STOP TTL MERGES replay_captures")
        client.command(
            "INSERT INTO replay_captures SELECT * REPLACE ('quiz' AS route, now() + 2 AS expires_at) "
            "FROM replay_captures"
        )
        time.sleep(3)
        assert client.query("SELECT count() FROM replay_captures").result_rows[0][0] == 2
        stack.ok("GET", "/api/v1/capture/policies")
        run = stack.wait(stack.replay(sample=5)["id"])
        assert run["status"] == "failed" and "no captured calls" in run["error"], run
        from tiermix_server.ingest.capture import stored_bytes

        assert stored_bytes(client) == {"acme": row[2]}


def test_the_byte_budget_holds_and_what_it_refuses_is_counted(make_settings: Any) -> None:
    budget = 4_000  # a capture here is ~120 bytes: room for about 30 of the 80 calls
    with replay_stack(make_settings, capture_max_bytes=budget) as stack:
        assert stack.send_traffic(80) == 80
        stack.wait_calls(80)
        client = _client(stack.settings)
        captured, used = client.query("SELECT count(), sum(bytes) FROM replay_captures FINAL").result_rows[0]
        assert 0 < captured < 80 and used <= budget, (captured, used)
        assert budget - used < 200, "the budget is used, not refused early"
        refused = _metric(stack.url, 'tiermix_capture_skipped_total{reason="budget"}')
        assert refused == 80 - captured
        assert _metric(stack.url, "tiermix_captured_calls_total") == captured
        policies = stack.ok("GET", "/api/v1/capture/policies")
        assert policies["bytes_used"]["acme"] == used and policies["max_bytes_per_tenant"] == budget


def test_the_sdk_sends_content_only_when_capture_is_on(make_settings: Any) -> None:
    with replay_stack(make_settings) as stack:
        assert stack.send_traffic(6, "--capture", "0") == 6
        stack.wait_calls(6)
        client = _client(stack.settings)
        assert client.query("SELECT count() FROM replay_captures").result_rows[0][0] == 0
        assert stack.send_traffic(10, "--capture", "0.5", "--first", "50") == 10
        stack.wait_calls(16)
        captured = client.query("SELECT count() FROM replay_captures").result_rows[0][0]
        assert 0 < captured < 10, "the SDK's own rate samples requests before anything is sent"


def test_read_keys_and_other_tenants_see_no_content(make_settings: Any) -> None:
    keys = {"acme_admin": ("admin", "acme"), "admin": ("admin", None), "beta_admin": ("admin", "beta"),
            "acme_read": ("read", "acme"), "acme_ingest": ("ingest", "acme")}  # fmt: skip
    with keyed_stack(make_settings, **keys) as (stack, made):
        admin, acme_admin, beta_admin = made["admin"], made["acme_admin"], made["beta_admin"]
        acme_read, acme_ingest = made["acme_read"], made["acme_ingest"]
        stack.ok("PUT", "/api/v1/capture/policies", {"route": "quiz", "sample_rate": 1.0})
        assert stack.send_traffic(20, "--split", "5", "--api-key", acme_ingest) == 20
        stack.wait_captured(20)
        run = stack.wait(stack.replay(sample=5)["id"])
        assert run["status"] == "done", run
        paths = ["/api/v1/capture/policies", "/api/v1/replays", f"/api/v1/replays/{run['id']}",
                 f"/api/v1/replays/{run['id']}/samples"]  # fmt: skip
        for path in paths:
            status, _ = stack.call("GET", path, key=acme_read)
            assert status == 403, (path, status)
            status, _ = stack.call("GET", path, key=acme_admin)
            assert status == 200, (path, status)
        for path in paths[2:]:
            status, answer = stack.call("GET", path, key=beta_admin)
            assert status == 404 and "Question" not in json.dumps(answer), (path, status)
        status, listed = stack.call("GET", "/api/v1/replays", key=beta_admin)
        assert status == 200 and listed["replays"] == []
        status, policies = stack.call("GET", "/api/v1/capture/policies", key=beta_admin)
        assert status == 200 and policies["policies"] == [] and "acme" not in json.dumps(policies)
        for method, path in (("POST", f"/api/v1/replays/{run['id']}/cancel"),
                             ("POST", f"/api/v1/replays/{run['id']}/resume")):  # fmt: skip
            assert stack.call(method, path, {}, key=beta_admin)[0] == 404
            assert stack.call(method, path, {}, key=acme_read)[0] == 403
        other = {"tenant": "acme", "route": "x", "sample_rate": 1}
        status, refused = stack.call("PUT", "/api/v1/capture/policies", other, key=beta_admin)
        assert status == 403, refused
        # the all-tenants admin names a tenant; the calls views never carry content to anyone
        status, runs = stack.call("GET", "/api/v1/replays?tenant=acme", key=admin)
        assert status == 200 and [r["id"] for r in runs["replays"]] == [run["id"]]
        for key in (acme_read, acme_admin, admin):
            status, calls = stack.call("GET", "/api/v1/calls?tenant=acme&limit=100", key=key)
            assert status == 200 and "Question" not in json.dumps(calls)
