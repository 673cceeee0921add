"""Usage, model and time to first token from a stream of chunks, fed one chunk at a time.

OpenAI chat streams carry usage in the final chunk (``stream_options.include_usage``); Anthropic
sends input usage in ``message_start`` and cumulative output usage in ``message_delta``; the Responses
API sends the whole response in ``response.completed``; Bedrock ConverseStream sends ``metadata``.
Chunks of any other known shape that carry usage are summed.

With content capture on, the answer text is collected from the deltas too (OpenAI chat and Responses,
Anthropic, Bedrock, plain ``str`` chunks), up to the capture limit and no further, so a long stream
cannot grow memory; with capture off this costs one ``None`` check per chunk.
"""

from __future__ import annotations

import time
from typing import Any

from . import anthropic, bedrock, openai
from ._shape import Extracted, as_int, g

# Events that announce a stream but carry no token yet: they must not stop the TTFT clock.
_PREAMBLE = frozenset(
    {
        "message_start",
        "response.created",
        "response.in_progress",
        "ping",
        "messageStart",
        "content_block_start",
        "response.output_item.added",
        "response.content_part.added",
    }
)


class StreamAccumulator:
    __slots__ = ("_parts", "_text", "_text_room", "first_token_ns")

    def __init__(self, capture_chars: int | None = None) -> None:
        self.first_token_ns: int | None = None
        self._parts: dict[str, Any] = {}
        self._text: list[str] | None = [] if capture_chars is not None else None
        self._text_room = capture_chars or 0

    def text(self) -> str | None:
        """The streamed answer text (clipped to the capture limit); ``None`` when not captured."""
        return "".join(self._text) if self._text else None

    def feed(self, chunk: Any) -> None:
        """Take one chunk into account; a chunk of odd contents is skipped, never raised on."""
        try:  # noqa: SIM105 - once per streamed chunk: a bare try is cheaper than contextlib.suppress
            self._feed(chunk)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
            pass  # the SDK never raises into the application's iteration

    def _feed(self, chunk: Any) -> None:
        if self._text is not None and self._text_room > 0:
            piece = text_delta(chunk)
            if piece:
                piece = piece[: self._text_room]
                self._text.append(piece)
                self._text_room -= len(piece)
        kind = g(chunk, "type")
        if self.first_token_ns is None and kind not in _PREAMBLE and not _is_bare_chat_chunk(chunk):
            self.first_token_ns = time.time_ns()
        parts = self._parts
        if g(chunk, "object") == "chat.completion.chunk":
            self._openai_chunk(chunk)
        elif kind == "message_start":
            start = anthropic.message(g(chunk, "message"))
            parts.update(
                provider="anthropic",
                operation="chat",
                model=start.model,
                input_tokens=start.input_tokens,
                cache_read_tokens=start.cache_read_tokens,
                cache_write_tokens=start.cache_write_tokens,
            )
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
            for key in (
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "reasoning_tokens",
            ):
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
        from . import extract, sane  # late: the package imports this module

        found = sane(extract(chunk))  # summed here, so each part must be a count already
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
        from . import sane  # late: the package imports this module

        # a whole usage block taken from a chunk is not summed: checked here like the rest
        found = sane(Extracted(**self._parts))
        assert found is not None
        return found


def text_delta(chunk: Any) -> str | None:
    """The answer text a stream chunk adds, for content capture."""
    if isinstance(chunk, str):
        return chunk
    kind = g(chunk, "type")
    if kind == "response.output_text.delta":
        return _text(g(chunk, "delta"))
    if kind == "content_block_delta":
        return _text(g(g(chunk, "delta"), "text"))
    if g(chunk, "object") == "chat.completion.chunk":
        choices = g(chunk, "choices")
        return _text(g(g(choices[0], "delta"), "content")) if choices else None
    if isinstance(chunk, dict) and "contentBlockDelta" in chunk:
        return _text(g(g(chunk["contentBlockDelta"], "delta"), "text"))
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _is_bare_chat_chunk(chunk: Any) -> bool:
    """An OpenAI chat chunk with no choices (the trailing usage chunk) carries no token."""
    return g(chunk, "object") == "chat.completion.chunk" and not g(chunk, "choices")
