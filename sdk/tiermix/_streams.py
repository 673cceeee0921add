"""Watching the stream objects of the provider clients without changing their type.

``openai.Stream`` / ``anthropic.Stream`` (and their async twins) iterate ``self._iterator``; we
replace that iterator on the instance with one that observes each chunk, and wrap ``close`` on the
instance and on its HTTP response, so ``isinstance`` checks, context managers and helper methods of
the client keep working -- including the ``.stream()`` helpers, whose wrappers close the HTTP response
directly. Anthropic's ``messages.stream()`` managers create their raw stream lazily; we wrap that
request. ``with_raw_response`` results are parsed once (the client caches the parsed object, so the
application's own ``.parse()`` gets the same object) and the parsed response or stream is recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._capture import StreamCall

_KIND: dict[type, str | None] = {}
_STREAM_NAMES = {
    "Stream": "sync",
    "AsyncStream": "async",
    "MessageStreamManager": "manager",
    "AsyncMessageStreamManager": "async_manager",
    "LegacyAPIResponse": "raw",  # openai with_raw_response (sync and async): parse() is sync
    "APIResponse": "raw",  # anthropic with_raw_response
    "AsyncAPIResponse": "async_raw",
}
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


def stream_kind(obj: Any) -> str | None:
    cls = type(obj)
    try:
        return _KIND[cls]
    except KeyError:
        pass
    kind = None
    if cls.__module__.split(".", 1)[0] in ("openai", "anthropic"):
        for base in cls.__mro__:
            kind = _STREAM_NAMES.get(base.__name__)
            if kind:
                break
    _KIND[cls] = kind
    return kind


def _usage_only(item: Any) -> bool:
    """OpenAI's last chunk when usage was asked for: no choices, only usage."""
    return getattr(item, "choices", None) == [] and getattr(item, "usage", None) is not None


def _sync(it: Iterator[Any], call: StreamCall) -> Iterator[Any]:
    hide = call.hide_usage_chunk
    try:
        for item in it:
            call.chunk(item)
            if hide and _usage_only(item):
                continue
            yield item
    except GeneratorExit:
        call.end(None)
        raise
    except BaseException as exc:
        call.end(exc)
        raise
    call.end(None)


async def _async(it: AsyncIterator[Any], call: StreamCall) -> AsyncIterator[Any]:
    hide = call.hide_usage_chunk
    try:
        async for item in it:
            call.chunk(item)
            if hide and _usage_only(item):
                continue
            yield item
    except GeneratorExit:
        call.end(None)
        raise
    except BaseException as exc:
        call.end(exc)
        raise
    call.end(None)


def _watch_sync(stream: Any, call: StreamCall) -> None:
    stream._iterator = _sync(stream._iterator, call)
    for owner in (stream, getattr(stream, "response", None)):
        if owner is not None:
            _end_on_close(owner, "close", call)


def _watch_async(stream: Any, call: StreamCall) -> None:
    stream._iterator = _async(stream._iterator, call)
    _end_on_aclose(stream, "close", call)
    response = getattr(stream, "response", None)
    if response is not None:
        _end_on_aclose(response, "aclose", call)


def _end_on_close(owner: Any, name: str, call: StreamCall) -> None:
    original = getattr(owner, name)

    def close() -> Any:
        call.end(None)
        return original()

    setattr(owner, name, close)


def _end_on_aclose(owner: Any, name: str, call: StreamCall) -> None:
    original = getattr(owner, name)

    async def aclose() -> Any:
        call.end(None)
        return await original()

    setattr(owner, name, aclose)


def _eager(raw: Any) -> bool:
    """``with_raw_response`` (body read, parse is cheap) but not ``with_streaming_response``."""
    try:
        return bool(raw.http_response.request.headers.get(RAW_RESPONSE_HEADER) != "stream")
    except Exception:
        return False


def _record_parsed(parsed: Any, call: StreamCall) -> None:
    kind = stream_kind(parsed)
    if kind in ("sync", "async"):
        watch(parsed, kind, call)
    else:
        call.complete(parsed)


async def watch_async_raw(raw: Any, call: StreamCall) -> Any:
    """``watch`` for an anthropic ``AsyncAPIResponse``, whose ``parse()`` is a coroutine."""
    if _eager(raw):
        try:
            parsed = await raw.parse()
        except Exception:  # parsing is the application's business; record what we know
            call.complete(None)
            return raw
        _record_parsed(parsed, call)
    else:
        call.complete(None)
    return raw


def watch(result: Any, kind: str, call: StreamCall) -> Any:
    """Make ``call`` end with ``result``'s stream; returns ``result`` itself."""
    if kind == "raw":
        parsed = None
        if _eager(result):
            try:
                parsed = result.parse()
            except Exception:  # parsing is the application's business; record what we know
                parsed = None
        if parsed is None:
            call.complete(None)
        else:
            _record_parsed(parsed, call)
    elif kind == "async_raw":  # only awaitable code can parse it: see watch_async_raw
        call.complete(None)
    elif kind == "sync":
        _watch_sync(result, call)
    elif kind == "async":
        _watch_async(result, call)
    elif kind == "manager":
        attr = "_MessageStreamManager__api_request"
        request = getattr(result, attr)

        def api_request() -> Any:
            try:
                raw = request()
            except BaseException as exc:  # the request itself failed: the call ends here
                call.end(exc)
                raise
            _watch_sync(raw, call)
            return raw

        setattr(result, attr, api_request)
    elif kind == "async_manager":
        attr = "_AsyncMessageStreamManager__api_request"
        awaitable = getattr(result, attr)

        async def api_request_async() -> Any:
            try:
                raw = await awaitable
            except BaseException as exc:
                call.end(exc)
                raise
            _watch_async(raw, call)
            return raw

        setattr(result, attr, api_request_async())
    return result
