"""Attribute mapping: every instrumentation's spelling lands in the same call fields, by precedence."""

from __future__ import annotations

from typing import Any

import pytest

from tiermix_server.ingest.decode import Span
from tiermix_server.ingest.mapping import DropReport, Mapped, Skipped, map_span

SPAN_ID = bytes.fromhex("00000000000000ab")


def make_span(
    attributes: dict[str, Any],
    *,
    name: str = "chat",
    resource: dict[str, Any] | None = None,
    status_code: int = 0,
) -> Span:
    return Span(
        resource=resource or {"service.name": "shop", "deployment.environment.name": "prod"},
        trace_id=b"\x01" * 16,
        span_id=SPAN_ID,
        parent_span_id=b"",
        name=name,
        kind=3,
        start_ns=1_000_000_000,
        end_ns=1_500_000_000,
        status_code=status_code,
        status_message="",
        attributes=attributes,
    )


def mapped(attributes: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result = map_span(make_span(attributes, **kwargs))
    assert isinstance(result, Mapped), result
    return result.fields


def test_tiermix_sdk_span_maps_every_wire_attribute() -> None:
    fields = mapped(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-haiku",
            "gen_ai.response.model": "claude-haiku-4-5",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.cache_read.input_tokens": 300,
            "gen_ai.usage.cache_creation.input_tokens": 50,
            "gen_ai.usage.reasoning.output_tokens": 20,
            "gen_ai.response.finish_reasons": ["end_turn"],
            "tiermix.tenant": "acme",
            "tiermix.route": "support.answer",
            "tiermix.user_hash": "abc123",
            "tiermix.request_id": "00000000000000ff",
            "tiermix.attempt": 1,
            "tiermix.final": False,
            "tiermix.escalated": True,
            "tiermix.failover": False,
            "tiermix.escalation_reason": "low_confidence",
            "tiermix.escalation_detail": "score 0.2",
            "tiermix.tier": "small",
            "tiermix.router": "cascade/v2",
            "tiermix.routing_reason": "default",
            "tiermix.routing_score": 0.25,
            "tiermix.ttft_ms": 80.5,
            "tiermix.cost_usd": 0.0123,
            "tiermix.tag.team": "cx",
        }
    )
    assert fields["provider"] == "anthropic"
    assert (fields["request_model"], fields["model"]) == ("claude-haiku", "claude-haiku-4-5")
    assert (fields["input_tokens"], fields["output_tokens"]) == (1000, 200)
    assert (fields["cache_read_tokens"], fields["cache_write_tokens"], fields["reasoning_tokens"]) == (
        300,
        50,
        20,
    )
    assert fields["finish_reason"] == "end_turn"
    assert (fields["tenant"], fields["route"], fields["user_hash"]) == ("acme", "support.answer", "abc123")
    assert fields["request_id"] == 0xFF and fields["span_id"] == 0xAB
    assert (fields["attempt"], fields["final"], fields["escalated"]) == (1, False, True)
    assert (fields["escalation_reason"], fields["escalation_detail"]) == ("low_confidence", "score 0.2")
    assert (fields["explicit_tier"], fields["router"], fields["routing_score"]) == (
        "small",
        "cascade/v2",
        0.25,
    )
    assert (fields["ttft_ms"], fields["sdk_cost_usd"]) == (80.5, 0.0123)
    assert fields["tags"] == {"team": "cx"}
    assert (fields["service"], fields["environment"], fields["status"]) == ("shop", "prod", "ok")


def test_lone_call_uses_its_span_id_as_request_id_and_is_final() -> None:
    fields = mapped({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
    assert fields["request_id"] == 0xAB
    assert fields["final"] is True and fields["escalated"] is False
    assert fields["model"] == "gpt-4o"  # no response model: the requested one served


def test_older_otel_names_are_read() -> None:
    fields = mapped(
        {
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.prompt_tokens": 11,
            "gen_ai.usage.completion_tokens": 7,
        }
    )
    assert (fields["provider"], fields["operation"]) == ("openai", "chat")
    assert (fields["input_tokens"], fields["output_tokens"]) == (11, 7)


def test_current_names_win_over_older_ones_when_both_are_present() -> None:
    fields = mapped(
        {
            "gen_ai.provider.name": "azure.ai.openai",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.prompt_tokens": 1,
            "llm.token_count.prompt": 2,
        }
    )
    assert fields["provider"] == "azure.ai.openai"
    assert fields["input_tokens"] == 100


def test_openllmetry_span() -> None:
    fields = mapped(
        {
            "gen_ai.system": "openai",
            "llm.request.type": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 20,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.usage.cache_read_input_tokens": 4,
            "gen_ai.usage.reasoning_tokens": 2,
            "llm.usage.total_tokens": 25,
        },
        name="openai.chat",
    )
    assert (fields["operation"], fields["model"]) == ("chat", "gpt-4o-mini-2024-07-18")
    assert (fields["cache_read_tokens"], fields["reasoning_tokens"]) == (4, 2)


def test_openinference_llm_span() -> None:
    fields = mapped(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.provider": "openai",
            "llm.system": "openai",
            "llm.token_count.prompt": 30,
            "llm.token_count.completion": 9,
            "llm.token_count.prompt_details.cache_read": 10,
        },
        name="ChatCompletion",
    )
    assert (fields["operation"], fields["provider"], fields["model"]) == (
        "chat",
        "openai",
        "gpt-4o-mini-2024-07-18",
    )
    assert (fields["input_tokens"], fields["output_tokens"], fields["cache_read_tokens"]) == (30, 9, 10)


def test_openinference_embedding_span_is_an_embeddings_call() -> None:
    fields = mapped(
        {"openinference.span.kind": "EMBEDDING", "embedding.model_name": "x", "llm.model_name": "e3"}
    )
    assert fields["operation"] == "embeddings"


def test_a_peer_cost_is_a_hint_and_ttft_in_seconds_is_read() -> None:
    fields = mapped(
        {
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.cost": 0.5,
            "gen_ai.server.time_to_first_token": 0.25,
        }
    )
    assert fields["sdk_cost_usd"] is None  # only the application's own tiermix.cost_usd overrides
    assert fields["peer_cost_usd"] == 0.5
    assert fields["ttft_ms"] == 250.0


@pytest.mark.parametrize(
    ("attributes", "field", "expected"),
    [
        ({"gen_ai.usage.cache_write.input_tokens": 3}, "cache_write_tokens", 3),
        ({"llm.request.model_name": "claude-x"}, "request_model", "claude-x"),
        ({"llm.response.model_name": "claude-x-1"}, "model", "claude-x-1"),
        ({"gen_ai.response.finish_reasons": '["stop"]'}, "finish_reason", "stop"),
        ({"gen_ai.response.time_to_first_chunk": 0.02}, "ttft_ms", 20.0),
        ({"gen_ai.client.operation.time_to_first_chunk": 0.5}, "ttft_ms", 500.0),
        ({"gen_ai.cost.total_cost": 0.25}, "peer_cost_usd", 0.25),
        ({"gen_ai.usage.input_tokens": "²"}, "input_tokens", None),
        ({"gen_ai.usage.input_tokens": "9" * 5000}, "input_tokens", None),
        ({"gen_ai.usage.input_tokens": " 42 "}, "input_tokens", 42),
    ],
)
def test_peer_spellings_land_in_their_fields(attributes: dict[str, Any], field: str, expected: Any) -> None:
    fields = mapped({"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat", **attributes})
    assert fields[field] == expected


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"http.method": "GET", "http.route": "/x"}, "not_llm"),
        ({"openinference.span.kind": "CHAIN"}, "not_llm"),
        ({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}, "not_llm_operation"),
        ({"gen_ai.operation.name": "invoke_agent", "gen_ai.system": "openai"}, "not_llm_operation"),
    ],
)
def test_spans_that_are_not_llm_calls_are_skipped_with_a_reason(
    attributes: dict[str, Any], reason: str
) -> None:
    assert map_span(make_span(attributes)) == Skipped(reason)


def test_error_status_without_error_type_is_an_error_call() -> None:
    fields = mapped({"gen_ai.request.model": "gpt-4o"}, status_code=2)
    assert (fields["status"], fields["error_type"]) == ("error", "_OTHER")
    fields = mapped({"gen_ai.request.model": "gpt-4o", "error.type": "RateLimitError"})
    assert (fields["status"], fields["error_type"]) == ("error", "RateLimitError")


def test_wrong_attribute_types_are_ignored_and_noted() -> None:
    result = map_span(
        make_span(
            {
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": "12",
                "gen_ai.usage.output_tokens": [1, 2],
                "tiermix.route": {"a": 1},
                "tiermix.request_id": "not-hex-at-all!",
            }
        )
    )
    assert isinstance(result, Mapped)
    assert result.fields["input_tokens"] == 12
    assert result.fields["output_tokens"] is None
    assert result.fields["route"] == ""
    assert result.fields["request_id"] == 0xAB
    assert sorted(result.clipped) == ["bad_request_id", "wrong_type", "wrong_type"]


def test_tenant_and_route_fall_back_to_resource_attributes() -> None:
    fields = mapped(
        {"gen_ai.request.model": "m"}, resource={"tiermix.tenant": "globex", "deployment.environment": "stg"}
    )
    assert (fields["tenant"], fields["environment"]) == ("globex", "stg")


def test_drop_report_span_becomes_a_drop_row() -> None:
    result = map_span(
        make_span(
            {
                "tiermix.drop.count": 42,
                "tiermix.drop.reason": "queue_full",
                "tiermix.drop.since_unix_nano": 500_000_000,
            },
            name="tiermix.drop_report",
        )
    )
    assert isinstance(result, DropReport)
    assert (result.dropped, result.reason, result.since_us, result.ts_us) == (
        42,
        "queue_full",
        500_000,
        1_500_000,
    )
    assert result.service == "shop"


def test_drop_report_without_a_count_is_skipped() -> None:
    assert map_span(make_span({"tiermix.drop.count": "many"}, name="tiermix.drop_report")) == Skipped(
        "bad_drop_report"
    )


def test_logfire_openai_span() -> None:
    span = make_span(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 40,
            "gen_ai.usage.output_tokens": 12,
            "logfire.span_type": "span",
            "logfire.msg_template": "Chat Completion with {request_data[model]!r}",
            "async": False,
        },
        name="Chat Completion with 'gpt-4o'",
    )
    result = map_span(span)
    assert isinstance(result, Mapped)
    fields = result.fields
    assert (fields["operation"], fields["provider"]) == ("chat", "openai")
    assert fields["model"] == "gpt-4o-2024-08-06"
    assert (fields["input_tokens"], fields["output_tokens"]) == (40, 12)
    assert fields["tags"] == {}
