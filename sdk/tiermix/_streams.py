"""Watching the stream objects of the provider clients without changing their type.

``openai.Stream`` / ``anthropic.Stream`` (and their async twins) iterate ``self._iterator``; we
replace that iterator on the instance with one that observes each chunk, and wrap ``close`` on the
instance, so ``isinstance`` checks, context managers and helper methods of the client keep working.
Anthropic's ``messages.stream()`` managers create their raw stream lazily; we wrap that request.
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
}


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


def _sync(it: Iterator[Any], call: StreamCall) -> Iterator[Any]:
    try:
        for item in it:
            call.chunk(item)
            yield item
    except GeneratorExit:
        call.end(None)
        raise
    except BaseException as exc:
        call.end(exc)
        raise
    call.end(None)


async def _async(it: AsyncIterator[Any], call: StreamCall) -> AsyncIterator[Any]:
    try:
        async for item in it:
            call.chunk(item)
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
    original_close = stream.close

    def close() -> None:
        call.end(None)
        original_close()

    stream.close = close


def _watch_async(stream: Any, call: StreamCall) -> None:
    stream._iterator = _async(stream._iterator, call)
    original_close = stream.close

    async def close() -> None:
        call.end(None)
        await original_close()

    stream.close = close


def watch(result: Any, kind: str, call: StreamCall) -> Any:
    """Make ``call`` end with ``result``'s stream; returns ``result`` itself."""
    if kind == "sync":
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
