"""OpenAI response shapes: chat completions, the Responses API, legacy completions, embeddings.

Usage follows OTel semantics already (input includes cached tokens, output includes reasoning).
"""

from __future__ import annotations

from typing import Any

from ._shape import Extracted, as_int, g, new_tuple


def _either(first: int | None, second: int | None) -> int | None:
    return first if first is not None else second


def chat(obj: Any, provider: str | None = "openai") -> Extracted:
    usage = g(obj, "usage")
    choices = g(obj, "choices")
    finish = g(choices[0], "finish_reason") if choices else None
    details = g(usage, "prompt_tokens_details")
    return Extracted(
        provider,
        "chat",
        g(obj, "model"),
        as_int(g(usage, "prompt_tokens")),
        as_int(g(usage, "completion_tokens")),
        as_int(g(details, "cached_tokens")),
        # OpenAI reports cache writes in the details; LiteLLM (for Anthropic models) at the top level.
        _either(as_int(g(details, "cache_write_tokens")), as_int(g(usage, "cache_creation_input_tokens"))),
        as_int(g(g(usage, "completion_tokens_details"), "reasoning_tokens")),
        finish,
    )


def chat_client_object(obj: Any) -> Extracted:
    """``chat`` for the openai client's own ``ChatCompletion`` class: plain attribute reads.

    The hot path of the most common call; its fields always exist on the class, so the generic
    accessor's checks are skipped (≈3x faster). Anything unexpected falls back to :func:`chat`.
    """
    try:
        choices = obj.choices
        finish = choices[0].finish_reason if choices else None
        usage = obj.usage
        if usage is None:
            return Extracted("openai", "chat", obj.model, finish_reason=finish)
        details = usage.prompt_tokens_details
        out_details = usage.completion_tokens_details
        return new_tuple(
            Extracted,
            (
                "openai",
                "chat",
                obj.model,
                usage.prompt_tokens,
                usage.completion_tokens,
                details.cached_tokens if details is not None else None,
                details.__dict__.get("cache_write_tokens") if details is not None else None,
                out_details.reasoning_tokens if out_details is not None else None,
                finish,
            ),
        )
    except (AttributeError, IndexError, TypeError):
        return chat(obj)


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
        as_int(g(g(usage, "input_tokens_details"), "cache_write_tokens")),
        as_int(g(g(usage, "output_tokens_details"), "reasoning_tokens")),
        status,
    )


def responses_client_object(obj: Any) -> Extracted:
    """``responses`` for the openai client's own ``Response`` class: plain attribute reads (hot path)."""
    try:
        status = obj.status
        if status == "incomplete":
            return responses(obj)
        usage = obj.usage
        if usage is None:
            return Extracted("openai", "chat", obj.model, finish_reason=status)
        details = usage.input_tokens_details
        out_details = usage.output_tokens_details
        return new_tuple(
            Extracted,
            (
                "openai",
                "chat",
                obj.model,
                usage.input_tokens,
                usage.output_tokens,
                details.cached_tokens if details is not None else None,
                details.__dict__.get("cache_write_tokens") if details is not None else None,
                out_details.reasoning_tokens if out_details is not None else None,
                status,
            ),
        )
    except (AttributeError, TypeError):
        return responses(obj)


def embeddings(obj: Any, provider: str | None = "openai") -> Extracted:
    usage = g(obj, "usage")
    return Extracted(provider, "embeddings", g(obj, "model"), as_int(g(usage, "prompt_tokens")))


def output_text(obj: Any) -> str | None:
    """The answer text, for content capture only."""
    choices = g(obj, "choices")
    if choices:
        message = g(choices[0], "message")
        text = g(message, "content") if message is not None else g(choices[0], "text")
        return text if isinstance(text, str) else None
    # ``Response.output_text`` is a property, which the field accessor ``g`` does not see.
    text = obj.get("output_text") if isinstance(obj, dict) else getattr(obj, "output_text", None)
    return text if isinstance(text, str) else None
