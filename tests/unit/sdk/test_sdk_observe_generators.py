"""Decorated generators are full proxies: send(), throw(), close() and return values reach the generator."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import pytest

import tiermix
from tests.fakes import providers
from tests.fakes.otlp_sink import CapturedSpan, OtlpSink


def exported(sink: OtlpSink, count: int = 1) -> list[CapturedSpan]:
    assert tiermix.flush(5)
    return sink.wait_for_spans(count, timeout_s=5)


class Retry(Exception):
    pass


@tiermix.observe(route="chat")
def conversation() -> Generator[dict[str, Any], str, int]:
    """Answers each prompt sent in; a thrown Retry answers again; returns how many answers it gave."""
    answers = 0
    prompt = yield providers.chat_completion("gpt-4o-mini")
    try:
        while prompt != "bye":
            answers += 1
            try:
                prompt = yield providers.chat_completion(f"model-for-{prompt}")
            except Retry:
                prompt = yield providers.chat_completion("retry-model")
    finally:
        conversation.cleaned_up = True  # type: ignore[attr-defined]
    return answers


def test_send_reaches_the_generator_and_its_return_value_comes_back(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    gen = conversation()
    assert next(gen)["model"] == "gpt-4o-mini"
    assert gen.send("a")["model"] == "model-for-a"
    assert gen.send("b")["model"] == "model-for-b"
    with pytest.raises(StopIteration) as stop:
        gen.send("bye")
    assert stop.value.value == 2
    [span] = exported(sink)
    assert span.attributes["tiermix.route"] == "chat"
    assert "error.type" not in span.attributes


def test_an_exception_thrown_in_is_handled_by_the_generator(sdk: Callable[..., None], sink: OtlpSink) -> None:
    gen = conversation()
    next(gen)
    gen.send("a")
    assert gen.throw(Retry())["model"] == "retry-model"
    assert gen.send("c")["model"] == "model-for-c"
    gen.close()
    [span] = exported(sink)
    assert "error.type" not in span.attributes


def test_an_exception_the_generator_does_not_handle_is_recorded_and_propagates(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    gen = conversation()
    next(gen)
    with pytest.raises(KeyError):
        gen.throw(KeyError("x"))
    [span] = exported(sink)
    assert span.attributes["error.type"] == "KeyError"


def test_close_runs_the_generators_cleanup(sdk: Callable[..., None], sink: OtlpSink) -> None:
    conversation.cleaned_up = False  # type: ignore[attr-defined]
    gen = conversation()
    next(gen)
    gen.send("a")
    gen.close()
    assert conversation.cleaned_up  # type: ignore[attr-defined]
    assert len(exported(sink)) == 1


def test_yield_from_a_decorated_generator_gets_its_return_value(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    @tiermix.observe
    def inner() -> Generator[int, None, str]:
        yield 1
        return "done"

    def outer() -> Generator[int, None, str]:
        return (yield from inner())

    gen = outer()
    assert next(gen) == 1
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"


async def test_async_generator_forwards_asend_athrow_and_aclose(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    closed = []

    @tiermix.observe(route="agen")
    async def echo() -> AsyncGenerator[str, str]:
        received = "start"
        try:
            while True:
                try:
                    received = yield f"echo:{received}"
                except Retry:
                    received = "retried"
        finally:
            closed.append(True)

    gen = echo()
    assert await gen.__anext__() == "echo:start"
    assert await gen.asend("hello") == "echo:hello"
    assert await gen.athrow(Retry()) == "echo:retried"
    await gen.aclose()
    assert closed == [True]
    [span] = exported(sink)
    assert span.attributes["tiermix.route"] == "agen"


async def test_disabled_sdk_still_forwards_asend(sdk: Callable[..., None], sink: OtlpSink) -> None:
    sdk(disabled=True)

    @tiermix.observe
    async def echo() -> AsyncGenerator[str, str]:
        received = "start"
        while True:
            received = yield received

    gen = echo()
    assert await gen.__anext__() == "start"
    assert await gen.asend("x") == "x"
    await gen.aclose()
