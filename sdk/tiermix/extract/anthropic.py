"""Anthropic Messages API responses.

Anthropic reports ``input_tokens`` without the cached part; OTel's ``gen_ai.usage.input_tokens``
includes it, so cache reads and writes are added back in.
"""

from __future__ import annotations

from typing import Any

from ._shape import Extracted, add, as_int, g, new_tuple


def message(obj: Any) -> Extracted:
    usage = g(obj, "usage")
    cache_read = as_int(g(usage, "cache_read_input_tokens"))
    cache_write = as_int(g(usage, "cache_creation_input_tokens"))
    return Extracted(
        "anthropic",
        "chat",
        g(obj, "model"),
        add(as_int(g(usage, "input_tokens")), cache_read, cache_write),
        as_int(g(usage, "output_tokens")),
        cache_read,
        cache_write,
        None,
        g(obj, "stop_reason"),
    )


def client_message(obj: Any) -> Extracted:
    """``message`` for the anthropic client's own ``Message`` class: plain attribute reads (hot path)."""
    try:
        usage = obj.usage
        cache_read = usage.cache_read_input_tokens
        cache_write = usage.cache_creation_input_tokens
        return new_tuple(
            Extracted,
            (
                "anthropic",
                "chat",
                obj.model,
                usage.input_tokens + (cache_read or 0) + (cache_write or 0),
                usage.output_tokens,
                cache_read,
                cache_write,
                None,
                obj.stop_reason,
            ),
        )
    except (AttributeError, TypeError):
        return message(obj)


def output_text(obj: Any) -> str | None:
    parts = [g(block, "text") for block in g(obj, "content") or () if g(block, "type") == "text"]
    return "".join(p for p in parts if isinstance(p, str)) or None
