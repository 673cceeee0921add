"""A call's content attributes → the request a replay can send again, and the production answer.

Instrumentations spell content differently (docs/peers.md); each spelling is read into one shape:

- request: ``{"messages": [{"role": ..., "content": "text"}, ...], "params": {...}}`` — the chat
  messages in order (a system prompt first) and the sampling parameters that were sent;
- answer: the production answer's text.

Spellings read, in order of preference: the GenAI semantic conventions (``gen_ai.input.messages`` /
``gen_ai.output.messages`` / ``gen_ai.system_instructions``, JSON, with ``parts``; the tiermix SDK sends
the client's ``messages`` argument and the answer text under the same names), OpenLLMetry's indexed
``gen_ai.prompt.N.role`` / ``.content`` and ``gen_ai.completion.N.content``, OpenInference's
``llm.input_messages.N.message.role`` / ``.content`` and ``llm.output_messages.N.message.content`` (or
its parts, ``...message.contents.M.message_content.text``),
and the single-string ``gen_ai.prompt`` / ``gen_ai.completion`` (older OpenLIT). Content sent as span
events is not read. A call whose request cannot be rebuilt is not captured (``ingest/capture.py``
counts it as ``no_request``), and so is one whose JSON was clipped by the sender.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PARAMS = {
    "gen_ai.request.temperature": "temperature",
    "gen_ai.request.max_tokens": "max_tokens",
    "gen_ai.request.top_p": "top_p",
    "gen_ai.request.stop_sequences": "stop",
    "gen_ai.request.seed": "seed",
}
_INDEXED = (
    re.compile(r"^gen_ai\.prompt\.(\d+)\.(role|content)$"),
    re.compile(r"^llm\.input_messages\.(\d+)\.message\.(role|content)$"),
)
_ANSWER_INDEXED = (
    re.compile(r"^gen_ai\.completion\.(\d+)\.content$"),
    re.compile(r"^llm\.output_messages\.(\d+)\.message\.content$"),
)
# OpenInference's Anthropic spans give an answer as parts: ``...message.contents.M.message_content.text``.
_ANSWER_PARTS = re.compile(r"^llm\.output_messages\.(\d+)\.message\.contents\.(\d+)\.message_content\.text$")


def replay_content(attrs: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(request, answer): the request is None when no messages can be rebuilt from ``attrs``."""
    messages = _messages(attrs)
    answer = _answer(attrs)
    if not messages:
        return None, answer
    params = {name: attrs[key] for key, name in _PARAMS.items() if attrs.get(key) is not None}
    return {"messages": messages, "params": params}, answer


def _messages(attrs: Mapping[str, Any]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    system = attrs.get("gen_ai.system_instructions")
    if system is not None:
        text = _text(_json_or_text(system))
        if text:
            messages.append({"role": "system", "content": text})
    sent = attrs.get("gen_ai.input.messages")
    if sent is not None:
        value = _json_or_text(sent)
        if isinstance(sent, str) and isinstance(value, str) and sent[:1] in ("[", "{"):
            return []  # JSON cut short (an SDK's max_content_chars): not a request anyone can resend
        return messages + _message_list(value)
    indexed = _indexed_messages(attrs)
    if indexed:
        return messages + indexed
    prompt = attrs.get("gen_ai.prompt")
    if isinstance(prompt, str) and prompt:
        return messages + _message_list(_json_or_text(prompt))
    return messages


def _message_list(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}] if value else []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, str):
            out.append({"role": "user", "content": item})
        elif isinstance(item, Mapping):
            role = item.get("role")
            text = _text(item.get("parts") if "parts" in item else item.get("content"))
            if isinstance(role, str) and role:
                out.append({"role": role, "content": text})
    return out


def _indexed_messages(attrs: Mapping[str, Any]) -> list[dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for key, value in attrs.items():
        for pattern in _INDEXED:
            match = pattern.match(key)
            if match and isinstance(value, str):
                found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [
        {"role": found[i].get("role") or "user", "content": found[i].get("content", "")}
        for i in sorted(found)
    ]


def _answer(attrs: Mapping[str, Any]) -> str:
    out = attrs.get("gen_ai.output.messages")
    if out is not None:
        value = _json_or_text(out)
        if isinstance(value, list):
            return "\n".join(
                _text(m.get("parts", m.get("content")) if isinstance(m, Mapping) else m) for m in value
            )
        return _text(value)
    parts: dict[int, str] = {}
    for key, value in attrs.items():
        for pattern in _ANSWER_INDEXED:
            match = pattern.match(key)
            if match and isinstance(value, str):
                parts[int(match.group(1))] = value
    if parts:
        return "\n".join(parts[i] for i in sorted(parts))
    pieces: dict[tuple[int, int], str] = {}
    for key, value in attrs.items():
        match = _ANSWER_PARTS.match(key)
        if match and isinstance(value, str):
            pieces[(int(match.group(1)), int(match.group(2)))] = value
    if pieces:
        return "".join(pieces[i] for i in sorted(pieces))
    completion = attrs.get("gen_ai.completion")
    return _text(completion) if completion is not None else ""


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str:
    """Text of a content value: a string, a list of parts (``{"type": "text", "content"|"text": …}``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("content", "text"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return ""
    if isinstance(value, list):
        return "".join(_text(part) for part in value)
    return str(value)
