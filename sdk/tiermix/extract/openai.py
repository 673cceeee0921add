"""OpenAI response shapes: chat completions, the Responses API, legacy completions, embeddings.

Usage follows OTel semantics already (input includes cached tokens, output includes reasoning).
"""

from __future__ import annotations

from typing import Any

from ._shape import Extracted, as_int, g


def chat(obj: Any, provider: str | None = "openai") -> Extracted:
    usage = g(obj, "usage")
    choices = g(obj, "choices")
    finish = g(choices[0], "finish_reason") if choices else None
    return Extracted(
        provider,
        "chat",
        g(obj, "model"),
        as_int(g(usage, "prompt_tokens")),
        as_int(g(usage, "completion_tokens")),
        as_int(g(g(usage, "prompt_tokens_details"), "cached_tokens")),
        as_int(g(usage, "cache_creation_input_tokens")),  # LiteLLM adds this for Anthropic models
        as_int(g(g(usage, "completion_tokens_details"), "reasoning_tokens")),
        finish,
    )


def text_completion(obj: Any) -> Extracted:
    return chat(obj)._replace(operation="text_completion")


def responses(obj: Any) -> Extracted:
    usage = g(obj, "usage")
    status = g(obj, "status")
    if status == "incomplete":
        status = g(g(obj, "incomplete_details"), "reason") or status
    return Extracted(
        "openai",
        "chat",
        g(obj, "model"),
        as_int(g(usage, "input_tokens")),
        as_int(g(usage, "output_tokens")),
        as_int(g(g(usage, "input_tokens_details"), "cached_tokens")),
        None,
        as_int(g(g(usage, "output_tokens_details"), "reasoning_tokens")),
        status,
    )


def embeddings(obj: Any, provider: str | None = "openai") -> Extracted:
    usage = g(obj, "usage")
    return Extracted(provider, "embeddings", g(obj, "model"), as_int(g(usage, "prompt_tokens")))


def output_text(obj: Any) -> str | None:
    """The answer text, for content capture only."""
    choices = g(obj, "choices")
    if choices:
        message = g(choices[0], "message")
        return g(message, "content") if message is not None else g(choices[0], "text")
    text = g(obj, "output_text")
    return text if isinstance(text, str) else None
