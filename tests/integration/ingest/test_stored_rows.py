"""What lands in ClickHouse: call rows, rollups counted once per span, drop reports, data health."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.ingest.conftest import Collector
from tests.unit.ingest.builders import body, sdk_attributes, span


def rollup_calls(collector: Collector, table: str = "llm_calls_1m") -> int:
    return int(collector.scalar(f"SELECT sum(calls) FROM {table}"))


def test_sdk_span_becomes_a_complete_call_row(collector: Collector) -> None:
    start_ns = time.time_ns() - 2 * 10**9
    attributes = sdk_attributes(
        **{
            "gen_ai.usage.cache_read.input_tokens": 20,
            "gen_ai.usage.reasoning.output_tokens": 5,
            "tiermix.request_id": "00000000000000aa",
            "tiermix.attempt": 1,
            "tiermix.escalated": True,
            "tiermix.escalation_reason": "low_confidence",
            "tiermix.tag.team": "cx",
            "tiermix.ttft_ms": 42.0,
        }
    )
    payload = body([span(attributes, span_id=0x1234, start_ns=start_ns, duration_ns=1_500_000_000)])
    assert collector.post(payload).status_code == 200
    (row,) = collector.rows(
        "SELECT toUnixTimestamp64Micro(ts), duration_ms, ttft_ms, span_id, request_id, attempt, final,"
        " escalated, escalation_reason, tenant, route, service, provider, operation, request_model, model,"
        " input_tokens, output_tokens, cache_read_tokens, reasoning_tokens, status, finish_reason, tags,"
        " tier, unpriced, cost_usd > 0 FROM llm_calls"
    )
    assert row[:9] == (start_ns // 1000, 1500.0, 42.0, 0x1234, 0xAA, 1, True, True, "low_confidence")
    assert row[9:16] == (
        "acme",
        "support.answer",
        "shop",
        "openai",
        "chat",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
    )
    assert row[16:23] == (120, 30, 20, 5, "ok", "stop", {"team": "cx"})
    assert (row[23], row[24], row[25]) == ("small", False, 1)  # enriched: tier map and price book


def test_a_replayed_request_is_counted_once_everywhere(collector: Collector) -> None:
    payload = body([span() for _ in range(50)])
    for _ in range(3):
        assert collector.post(payload).status_code == 200
    assert collector.scalar("SELECT count() FROM llm_calls") == 50
    assert rollup_calls(collector) == 50
    assert rollup_calls(collector, "llm_calls_1h") == 50


def test_spans_resent_in_a_different_request_are_counted_once(collector: Collector) -> None:
    spans = [span() for _ in range(10)]
    assert collector.post(body(spans[:6])).status_code == 200
    assert collector.post(body(spans[3:])).status_code == 200  # 3 re-sent, 4 new
    assert rollup_calls(collector) == 10
    assert collector.scalar("SELECT uniqExact(span_id) FROM llm_calls") == 10
    skipped = collector.scalar(
        "SELECT sum(spans) FROM ingest_stats WHERE outcome = 'skipped' AND reason = 'duplicate'"
    )
    assert skipped == 3


def test_resend_filter_survives_a_restart(make_collector: Any, make_settings: Any) -> None:
    settings = make_settings(batch_max_delay_s=0.05)
    from tests.integration.ingest.conftest import start_collector

    spans = [span() for _ in range(5)]
    with start_collector(settings) as first:
        assert first.post(body(spans)).status_code == 200
    (settings.data_dir / "recent-keys.npz").unlink()  # as after a crash: no memory saved at the stop
    with start_collector(settings) as second:
        # Started before this process: memory cannot answer for them, call_keys in ClickHouse does.
        assert second.metric("tiermix_recent_keys_cover_seconds") == 0
        assert second.post(body([*spans[2:], span()])).status_code == 200
        assert rollup_calls(second) == 6
        assert second.metric("tiermix_storage_duplicate_checks_total") == 1
        second.wait_for(lambda: second.metric("tiermix_recent_keys") == 1)  # the new call's span key


def test_drop_reports_land_in_sdk_drops_not_in_calls(collector: Collector) -> None:
    report = span(
        {"tiermix.drop.count": 17, "tiermix.drop.reason": "queue_full", "tiermix.tenant": "acme"},
        name="tiermix.drop_report",
    )
    assert collector.post(body([report, span()])).status_code == 200
    assert collector.rows("SELECT tenant, service, reason, dropped FROM sdk_drops") == [
        ("acme", "shop", "queue_full", 17)
    ]
    assert collector.scalar("SELECT count() FROM llm_calls") == 1


def test_ingest_stats_count_each_outcome_per_tenant(collector: Collector) -> None:
    spans = [
        span(),
        span(sdk_attributes(**{"tiermix.tenant": "globex", "gen_ai.usage.input_tokens": -1})),
        span({"http.method": "GET", "tiermix.tenant": "globex"}),
    ]
    assert collector.post(body(spans)).status_code == 200
    rows = collector.rows(
        "SELECT tenant, outcome, reason, sum(spans) FROM ingest_stats GROUP BY ALL ORDER BY ALL"
    )
    assert rows == [
        ("acme", "accepted", "", 1),
        ("globex", "rejected", "negative_tokens", 1),
        ("globex", "skipped", "not_llm", 1),
    ]


def test_content_attributes_are_not_stored_by_default(collector: Collector) -> None:
    attributes = sdk_attributes(
        **{"gen_ai.input.messages": "[secret prompt]", "gen_ai.output.messages": "[secret answer]"}
    )
    assert collector.post(body([span(attributes)])).status_code == 200
    assert collector.scalar("SELECT count() FROM llm_calls WHERE toString(tags) LIKE '%secret%'") == 0


def test_content_goes_to_replay_captures_and_never_to_llm_calls_with_a_capture_policy(
    collector: Collector,
) -> None:
    policy = {"tenant": "acme", "route": "support.answer", "sample_rate": 1.0}
    assert collector.http.put("/api/v1/capture/policies", json=policy).status_code == 200
    messages = '[{"role": "user", "content": "secret prompt"}]'
    attributes = sdk_attributes(
        **{"gen_ai.input.messages": messages, "gen_ai.output.messages": "secret answer"}
    )
    assert collector.post(body([span(attributes)])).status_code == 200
    collector.wait_for(lambda: collector.scalar("SELECT count() FROM replay_captures") == 1)
    assert collector.scalar("SELECT count() FROM llm_calls WHERE toString(tags) LIKE '%secret%'") == 0
    assert collector.rows("SELECT response FROM replay_captures") == [("secret answer",)]
