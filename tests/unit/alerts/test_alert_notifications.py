"""Notification content, fingerprints, webhook signatures and the dashboard link."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from tiermix_server.alerts.channels import email, slack, webhook
from tiermix_server.alerts.notification import Notification, dashboard_link, decode_group, encode_group
from tiermix_server.alerts.rules import parse_rule

AT = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
SPEC = parse_rule(
    {
        "name": "frontier spike",
        "metric": "frontier_share",
        "group_by": ["tenant"],
        "filters": {"route": "support.answer"},
        "condition": {"op": ">", "threshold": 0.3},
        "channels": [{"type": "email", "to": ["ops@example.com"]}],
    }
)


def notification(**changes) -> Notification:
    values = dict(
        kind="firing", rule_id=7, rule_name="frontier spike", metric="frontier_share", severity="warning",
        group={"tenant": "acme"}, value=0.42, compared=0.42, baseline=None, op=">", threshold=0.3,
        condition_kind="static", volume=120, window_s=300, at=AT, episode_start=AT,
        dashboard_url="http://dash/?tenant=acme",
    )  # fmt: skip
    values.update(changes)
    return Notification(**values)


def test_group_keys_are_stable_and_reversible():
    key = encode_group({"tenant": "a&b=c", "route": "x y"})
    assert key == encode_group({"route": "x y", "tenant": "a&b=c"})
    assert decode_group(key) == {"tenant": "a&b=c", "route": "x y"}
    assert encode_group({}) == "" and decode_group("") == {}


def test_fingerprint_is_stable_and_distinguishes_kind_repeat_episode_and_channel():
    base = notification()
    assert base.fingerprint("0:webhook") == notification().fingerprint("0:webhook")
    others = {
        notification(kind="resolved").fingerprint("0:webhook"),
        notification(kind="repeat", repeat=1).fingerprint("0:webhook"),
        notification(kind="repeat", repeat=2).fingerprint("0:webhook"),
        notification(episode_start=datetime(2026, 1, 6, tzinfo=timezone.utc)).fingerprint("0:webhook"),
        base.fingerprint("1:email"),
    }
    assert base.fingerprint("0:webhook") not in others and len(others) == 5


def test_notification_round_trips_through_json():
    original = notification()
    assert Notification.from_json(json.loads(json.dumps(original.to_json()))) == original


def test_readable_text_has_the_numbers():
    text = notification().summary
    assert "frontier share 42.0%" in text and "> 30.0%" in text and "120 requests" in text and "5m" in text
    assert notification().title == "[FIRING] frontier spike (tenant=acme)"
    assert "is back within" in notification(kind="resolved").summary
    gone = notification(kind="resolved", value=None, volume=3)
    assert "no data over the last 5m (3 requests)" in gone.summary


def test_webhook_signature_verifies_and_rejects_tampering():
    body = webhook.body_of(notification())
    signature = webhook.sign("k", body)
    assert webhook.verify("k", body, signature)
    assert not webhook.verify("k", body.replace(b"0.42", b"0.12"), signature)
    assert not webhook.verify("other", body, signature)
    payload = json.loads(body)
    assert payload["rule_name"] == "frontier spike" and payload["group"] == {"tenant": "acme"}
    assert payload["threshold"] == 0.3 and payload["dashboard_url"].startswith("http://dash/")


def test_slack_and_email_messages_carry_numbers_and_link():
    text = slack.message_of(notification())["text"]
    assert "42.0%" in text and "<http://dash/?tenant=acme|open in tiermix>" in text
    message = email.message_of(notification(), SPEC.channels[0])
    assert message["Subject"] == "[FIRING] frontier spike (tenant=acme)"
    assert "http://dash/?tenant=acme" in message.get_content()


def test_dashboard_link_carries_filters_group_and_time_range():
    link = dashboard_link("http://dash:8501/", SPEC, {"tenant": "acme"}, AT)
    parts = urlsplit(link)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert link.startswith("http://dash:8501/?")
    assert query["range"] == "custom" and query["tenant"] == "acme" and query["route"] == "support.answer"
    assert query["end"] == "2026-01-05T12:00:00Z" and query["start"] == "2026-01-05T11:00:00Z"


def test_non_finite_comparisons_become_null_in_json():
    body = notification(compared=float("inf"), condition_kind="ratio", baseline=0.0).to_json()
    assert body["compared"] is None
    json.dumps(body, allow_nan=False)
