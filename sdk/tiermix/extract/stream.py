"""Usage, model and time to first token from a stream of chunks, fed one chunk at a time.

OpenAI chat streams carry usage in the final chunk (``stream_options.include_usage``); Anthropic
sends input usage in ``message_start`` and cumulative output usage in ``message_delta``; the Responses
API sends the whole response in ``response.completed``; Bedrock ConverseStream sends ``metadata``.
Chunks of any other known shape that carry usage are summed.
"""

from __future__ import annotations

import time
from typing import Any

from . import anthropic, bedrock, openai
from ._shape import Extracted, as_int, g

# Events that announce a stream but carry no token yet: they must not stop the TTFT clock.
_PREAMBLE = frozenset({"message_start", "response.created", "response.in_progress", "ping", "messageStart"})


class StreamAccumulator:
    __slots__ = ("_parts", "first_token_ns")

    def __init__(self) -> None:
        self.first_token_ns: int | None = None
        self._parts: dict[str, Any] = {}

    def feed(self, chunk: Any) -> None:
        kind = g(chunk, "type")
        if self.first_token_ns is None and kind not in _PREAMBLE and not _is_bare_chat_chunk(chunk):
            self.first_token_ns = time.time_ns()
        parts = self._parts
        if g(chunk, "object") == "chat.completion.chunk":
            self._openai_chunk(chunk)
        elif kind == "message_start":
            start = anthropic.message(g(chunk, "message"))
            parts.update(provider="anthropic", operation="chat", model=start.model,
                         input_tokens=start.input_tokens, cache_read_tokens=start.cache_read_tokens,
                         cache_write_tokens=start.cache_write_tokens)
            if start.output_tokens:
                parts["output_tokens"] = start.output_tokens
        elif kind == "message_delta":
            out = as_int(g(g(chunk, "usage"), "output_tokens"))
            if out is not None:
                parts["output_tokens"] = out  # cumulative, so the last one wins
            parts["finish_reason"] = g(g(chunk, "delta"), "stop_reason") or parts.get("finish_reason")
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            parts.update(openai.responses(g(chunk, "response"))._asdict())
        elif kind == "response.created":
            parts.update(provider="openai", operation="chat", model=g(g(chunk, "response"), "model"))
        elif isinstance(chunk, dict) and ("metadata" in chunk or "messageStop" in chunk):
            self._bedrock_event(chunk)
        else:
            self._summed(chunk)

    def _openai_chunk(self, chunk: Any) -> None:
        parts = self._parts
        parts.setdefault("provider", "openai")
        parts["operation"] = "chat"
        parts["model"] = g(chunk, "model") or parts.get("model")
        choices = g(chunk, "choices")
        if choices and g(choices[0], "finish_reason"):
            parts["finish_reason"] = g(choices[0], "finish_reason")
        if g(chunk, "usage") is not None:
            whole = openai.chat(chunk)
            for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                        "reasoning_tokens"):
                if getattr(whole, key) is not None:
                    parts[key] = getattr(whole, key)

    def _bedrock_event(self, chunk: dict[str, Any]) -> None:
        parts = self._parts
        parts.update(provider="aws.bedrock", operation="chat")
        if "messageStop" in chunk:
            parts["finish_reason"] = g(chunk["messageStop"], "stopReason")
        meta = chunk.get("metadata")
        if isinstance(meta, dict):
            usage = bedrock.converse({"usage": meta.get("usage") or {}, "trace": meta.get("trace")})
            parts.update({k: v for k, v in usage._asdict().items() if v is not None and k != "operation"})

    def _summed(self, chunk: Any) -> None:
        from . import extract  # late: the package imports this module

        found = extract(chunk)
        if found is None:
            return
        parts = self._parts
        for key, value in found._asdict().items():
            if value is None:
                continue
            if key.endswith("_tokens"):
                parts[key] = (parts.get(key) or 0) + value
            else:
                parts[key] = value

    def result(self) -> Extracted:
        return Extracted(**self._parts)


def _is_bare_chat_chunk(chunk: Any) -> bool:
    """An OpenAI chat chunk with no choices (the trailing usage chunk) carries no token."""
    return g(chunk, "object") == "chat.completion.chunk" and not g(chunk, "choices")
