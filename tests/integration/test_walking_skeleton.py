"""One real call from SDK to API: decorator → OTLP/HTTP → collector → chDB → /api/v1/summary."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

import tiermix
from tests.support.server import running_server


def openai_completion() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_760_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Your order ships today."},
                }
            ],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280},
        }
    )


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def sdk_to(settings: Any):  # type: ignore[no-untyped-def]
    def start(endpoint: str) -> None:
        tiermix.init(endpoint=endpoint, service="skeleton-test", environment="test")

    yield start
    tiermix.shutdown()


def test_a_decorated_call_reaches_the_summary_with_its_model_and_tokens(settings: Any, sdk_to: Any) -> None:
    with running_server(settings) as base_url:
        sdk_to(base_url)

        @tiermix.observe(route="support.answer")
        def answer(question: str) -> ChatCompletion:
            return openai_completion()

        with tiermix.context(tenant="acme"):
            result = answer("Where is my order?")
        assert result.choices[0].message.content == "Your order ships today."
        assert tiermix.flush(timeout_s=10)

        summary = get_json(f"{base_url}/api/v1/summary?tenant=acme")
        assert summary["calls"] == 1
        assert summary["requests"] == 1
        assert summary["input_tokens"] == 1200
        assert summary["output_tokens"] == 80
        assert summary["unpriced_calls"] == 0
        # gpt-4o-mini: $0.15 / $0.60 per million input / output tokens (genai-prices).
        assert summary["cost_usd"] == pytest.approx(1200 * 0.15e-6 + 80 * 0.60e-6, rel=1e-6)

        calls = get_json(f"{base_url}/api/v1/calls?tenant=acme")
        (row,) = calls["rows"]
        assert row["model"] == "gpt-4o-mini-2024-07-18"
        assert row["provider"] == "openai"
        assert row["route"] == "support.answer"
        assert row["tier"] == "small"
