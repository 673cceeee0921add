"""Rule bodies: the issue's example is accepted; bad input gets an error naming the field."""

from __future__ import annotations

import pytest

from tiermix_server.alerts.channel_secrets import REDACTED, keep_secrets, redact, with_generated_secrets
from tiermix_server.alerts.rules import RuleError, format_duration, parse_duration, parse_rule

ISSUE_EXAMPLE = {
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


def test_issue_example_is_accepted_with_durations_in_seconds():
    spec = parse_rule(ISSUE_EXAMPLE)
    assert spec.window == 300 and spec.for_s == 120 and spec.keep_firing_for == 0
    assert spec.group_by == ("tenant",) and spec.filters.route == "support.answer"
    assert spec.channels[0].type == "webhook"


def test_rendering_round_trips_with_readable_durations():
    rendered = parse_rule(ISSUE_EXAMPLE).to_json()
    assert rendered["window"] == "5m" and rendered["for"] == "2m" and rendered["repeat_interval"] == "4h"
    assert parse_rule(rendered) == parse_rule(ISSUE_EXAMPLE)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800), (90, 90), ("1.5m", 90)]
)
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "-1m", "1w", "", "0.5s", True])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_duration_format_uses_the_largest_whole_unit():
    assert [format_duration(s) for s in (0, 45, 120, 5400, 7200, 86400)] == [
        "0s",
        "45s",
        "2m",
        "90m",
        "2h",
        "1d",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "frontier"}, "metric:"),
        ({"window": "5 minutes"}, "window: '5 minutes' is not a duration"),
        ({"window": "10s"}, "window: must be between 1m and 7d"),
        ({"condition": {"op": "=>", "threshold": 0.3}}, "condition.op:"),
        ({"condition": {"op": ">"}}, "condition.threshold: is required"),
        ({"group_by": ["model"]}, "group_by.0:"),
        ({"group_by": ["tenant", "tenant"]}, "group_by: lists a field twice"),
        ({"min_volume": -1}, "min_volume:"),
        ({"severity": "page"}, "severity:"),
        ({"colour": "red"}, "colour: is not a known field"),
        ({"channels": [{"type": "pager"}]}, "type must be one of webhook, slack, email"),
        (
            {"channels": [{"type": "webhook", "url": "ftp://x"}]},
            "channels.0.url: 'ftp://x' is not an http(s) URL",
        ),
        (
            {"channels": [{"type": "email", "to": ["nobody"]}]},
            "channels.0.to: 'nobody' is not an email address",
        ),
        ({"name": "  "}, "name: must not be blank"),
    ],
)
def test_invalid_rules_name_the_field(change, message):
    with pytest.raises(RuleError) as caught:
        parse_rule({**ISSUE_EXAMPLE, **change})
    assert message in str(caught.value)
    assert caught.value.http_status == 400


def test_missing_fields_are_all_reported():
    with pytest.raises(RuleError) as caught:
        parse_rule({"name": "x"})
    assert "metric: is required" in str(caught.value) and "condition: is required" in str(caught.value)


def test_relative_conditions_and_channels_of_every_kind():
    spec = parse_rule(
        {
            **ISSUE_EXAMPLE,
            "condition": {"op": ">", "threshold": 3, "kind": "zscore", "baseline_days": 7},
            "channels": [
                {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
                {"type": "email", "to": ["ops@example.com"], "from": "alerts@example.com", "smtp_port": 2525},
            ],
        }
    )
    assert spec.condition.kind == "zscore"
    assert spec.channels[1].sender == "alerts@example.com"


def test_redacted_secrets_survive_an_update_that_sends_them_back():
    stored = parse_rule(
        {**ISSUE_EXAMPLE, "channels": [{"type": "webhook", "url": "http://h/x", "secret": "s3cret"}]}
    ).to_json()
    shown = redact(stored)
    assert shown["channels"][0]["secret"] == REDACTED
    updated = keep_secrets({**shown, "severity": "critical"}, stored)
    assert parse_rule(updated).channels[0].secret == "s3cret"


def test_webhooks_without_a_secret_get_a_random_one_and_others_are_untouched():
    body = {
        "channels": [
            {"type": "webhook", "url": "http://h/a"},
            {"type": "webhook", "url": "http://h/b", "secret": "mine"},
            {"type": "slack", "url": "https://hooks.slack.com/x"},
        ]
    }
    first, second = with_generated_secrets(body), with_generated_secrets(body)
    generated = first["channels"][0]["secret"]
    assert len(generated) >= 32 and generated != second["channels"][0]["secret"]
    assert first["channels"][1:] == body["channels"][1:]
    assert "secret" not in body["channels"][0]  # the caller's body is not modified
