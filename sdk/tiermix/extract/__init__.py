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

    Never raises: a response of a known shape with odd contents (a list where a string goes) yields
    what can be read, or ``None`` — the SDK never raises into the application. Counts are as read:
    :func:`sane` clears the ones that are no whole number from 0 up where they are used (the export
    worker's encoder, the stream accumulator), which keeps that check off the application's thread.
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
        return fn(obj) if fn is not None else None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
        return None


_COUNTS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


# sane() unpacks the tuple by position: the counts are fields 3..7 of 9
assert Extracted._fields[3:8] == _COUNTS and len(Extracted._fields) == 9


def sane(found: Extracted | None) -> Extracted | None:
    """Counts that are not whole numbers from 0 up are unknown (``None``), never passed on."""
    if found is None:
        return None
    # The usual case on the application's thread, checked inline (no loop, no slice): every count
    # absent or a plain int >= 0.
    _, _, _, a, b, c, d, e, _ = found
    if (
        (a is None or (a.__class__ is int and a >= 0))
        and (b is None or (b.__class__ is int and b >= 0))
        and (c is None or (c.__class__ is int and c >= 0))
        and (d is None or (d.__class__ is int and d >= 0))
        and (e is None or (e.__class__ is int and e >= 0))
    ):
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
