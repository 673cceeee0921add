"""Asking OpenAI for a stream's usage when the application did not, without the application noticing.

An OpenAI chat (or legacy completions) stream reports token usage only with
``stream_options={"include_usage": True}``, in one extra last chunk whose ``choices`` is empty. Without
it the call's usage is unknown: the collector stores it *unpriced*, never as $0, but its cost is
missing. So the instrumented ``create`` adds the option when the application left it out, and the
watched stream hides that extra chunk from the application's iterator (its own code sees exactly the
chunks it would have seen). When the application asked for usage itself, nothing changes.

``stream_usage`` (``init()`` / ``TIERMIX_STREAM_USAGE``): ``auto`` (default) asks only the OpenAI API
itself (``api.openai.com``), because some OpenAI-compatible servers refuse unknown parameters;
``always`` asks any server; ``never`` never changes a request.
"""

from __future__ import annotations

from typing import Any

OPENAI_HOSTS = ("api.openai.com",)
_STREAM_OPTIONS = "stream_options"


def ask_for_usage(mode: str, resource: Any, kwargs: dict[str, Any]) -> bool:
    """Add ``include_usage`` to ``kwargs`` when it is wanted and allowed; True when it was added."""
    if mode == "never" or kwargs.get("stream") is not True:
        return False
    options = kwargs.get(_STREAM_OPTIONS)
    if options is not None and not isinstance(options, dict):
        return False  # something we do not understand (openai's NOT_GIVEN sentinel is not a dict)
    if isinstance(options, dict) and "include_usage" in options:
        return False  # the application decided
    if mode == "auto" and _host(resource) not in OPENAI_HOSTS:
        return False
    kwargs[_STREAM_OPTIONS] = {**(options or {}), "include_usage": True}
    return True


def _host(resource: Any) -> str:
    try:
        return str(resource._client.base_url.host)
    except Exception:
        return ""
