"""Anthropic Messages API responses.

Anthropic reports ``input_tokens`` without the cached part; OTel's ``gen_ai.usage.input_tokens``
includes it, so cache reads and writes are added back in.
"""

from __future__ import annotations

from typing import Any

from ._shape import Extracted, add, as_int, g


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


def output_text(obj: Any) -> str | None:
    parts = [g(block, "text") for block in g(obj, "content") or () if g(block, "type") == "text"]
    return "".join(p for p in parts if isinstance(p, str)) or None
