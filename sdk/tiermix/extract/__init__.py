"""Read model, provider, usage and finish reason out of whatever an LLM call returned.

One module per response shape; :func:`extract` picks the shape once per response class (cached), so
the per-call cost on the application thread is a dict lookup plus a handful of attribute reads. Plain
dicts of the same shapes are classified on every call (a dict has no class to cache on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import anthropic, bedrock, litellm, openai
from ._shape import NOTHING, Extracted, g

__all__ = ["NOTHING", "Extracted", "extract", "output_text"]

Extractor = Callable[[Any], Extracted]


def _classify(obj: Any) -> Extractor | None:
    module = type(obj).__module__
    if module.startswith("litellm"):
        return litellm.model_response
    if bedrock.is_converse(obj):
        return bedrock.converse
    kind = g(obj, "object")
    if kind == "chat.completion":
        return openai.chat_client_object if module.startswith("openai.") else openai.chat
    if kind == "response":
        return openai.responses_client_object if module.startswith("openai.") else openai.responses
    if kind == "text_completion":
        return openai.text_completion
    if kind == "list" and g(obj, "usage") is not None and g(obj, "data") is not None:
        return openai.embeddings
    if g(obj, "type") == "message" and g(obj, "usage") is not None:
        return anthropic.client_message if module.startswith("anthropic.") else anthropic.message
    return None


_BY_TYPE: dict[type, Extractor | None] = {}


def extract(obj: Any) -> Extracted | None:
    """The :class:`Extracted` fields of ``obj``, or ``None`` when it is no known response shape.

    Never raises: a response of a known shape with odd contents (a list where a string goes, a
    negative count) yields what can be read, or ``None`` — the SDK never raises into the application.
    """
    try:
        cls = type(obj)
        if cls is dict:
            fn = _classify(obj)
        else:
            try:
                fn = _BY_TYPE[cls]
            except KeyError:
                fn = _BY_TYPE[cls] = _classify(obj)
        return sane(fn(obj)) if fn is not None else None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
        return None


_COUNTS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


_FIRST_COUNT = Extracted._fields.index(_COUNTS[0])
_LAST_COUNT = _FIRST_COUNT + len(_COUNTS)
assert Extracted._fields[_FIRST_COUNT:_LAST_COUNT] == _COUNTS


def sane(found: Extracted | None) -> Extracted | None:
    """Counts that are not whole numbers from 0 up are unknown (``None``), never passed on."""
    if found is None:
        return None
    # The usual case on the application's thread, checked in one pass: every count a plain int >= 0.
    for value in found[_FIRST_COUNT:_LAST_COUNT]:
        if value is not None and (value.__class__ is not int or value < 0):
            break
    else:
        return found
    fixes = {
        name: None
        for name in _COUNTS
        if (value := getattr(found, name)) is not None
        and (isinstance(value, bool) or not isinstance(value, int) or value < 0)
    }
    return found._replace(**fixes) if fixes else found


def output_text(obj: Any) -> str | None:
    """Answer text of a response, for content capture (off by default)."""
    fn = _BY_TYPE.get(type(obj)) or _classify(obj)
    if fn in (anthropic.message, anthropic.client_message):
        return anthropic.output_text(obj)
    if fn is not None:
        return openai.output_text(obj)  # chat, responses, completions: the OpenAI shapes
    return None
