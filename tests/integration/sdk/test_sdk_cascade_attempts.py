"""Cascades over the real clients: ``async with``, concurrent tasks, escalating an attempt still running."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import anthropic
import openai
import pytest

import tiermix
from tests.fakes.otlp_sink import CapturedSpan, OtlpSink
from tests.fakes.providers import FakeProviders

MSG = [{"role": "user", "content": "hi"}]
USAGE = {"include_usage": True}


@pytest.fixture
def client(providers: FakeProviders) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=providers.openai_base_url, api_key="t", max_retries=0) as c:
        yield c


def aclient(providers: FakeProviders) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=providers.openai_base_url, api_key="t", max_retries=0)


def by_attempt(sink: OtlpSink, count: int) -> list[CapturedSpan]:
    assert tiermix.flush(5)
    spans = sink.wait_for_spans(count)
    assert len(spans) == count
    return sorted(spans, key=lambda s: s.attributes["tiermix.attempt"])


def summary(spans: list[CapturedSpan]) -> list[tuple[object, ...]]:
    """(requested model, attempt, final, escalated, escalation reason) per span."""
    keys = ("gen_ai.request.model", "tiermix.attempt", "tiermix.final", "tiermix.escalated")
    return [(*(s.attributes[k] for k in keys), s.attributes.get("tiermix.escalation_reason")) for s in spans]


async def test_async_with_cascade_links_attempts_across_awaits(
    sdk: Callable[..., None], sink: OtlpSink, providers: FakeProviders
) -> None:
    tiermix.instrument(["openai"])
    async with aclient(providers) as client, tiermix.cascade(route="support.answer") as c:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        await asyncio.sleep(0)
        c.escalate("verification_failed")
        await client.chat.completions.create(model="gpt-4o", messages=MSG)
    spans = by_attempt(sink, 2)
    assert summary(spans) == [
        ("gpt-4o-mini", 0, False, True, "verification_failed"),
        ("gpt-4o", 1, True, False, None),
    ]
    assert spans[0].attributes["tiermix.request_id"] == spans[1].attributes["tiermix.request_id"]
    assert {s.attributes["tiermix.route"] for s in spans} == {"support.answer"}


async def test_concurrent_tasks_each_keep_their_own_cascade(
    sdk: Callable[..., None], sink: OtlpSink, providers: FakeProviders
) -> None:
    tiermix.instrument(["openai"])

    async def request(client: openai.AsyncOpenAI, name: str) -> str:
        async with tiermix.cascade(route=name) as c:
            await client.chat.completions.create(model=f"{name}-small", messages=MSG)
            await asyncio.sleep(0)  # let the other tasks run between the attempts
            c.escalate("low_confidence")
            await client.chat.completions.create(model=f"{name}-big", messages=MSG)
            return c.request_id

    async with aclient(providers) as client:
        ids = await asyncio.gather(*(request(client, f"r{i}") for i in range(4)))
    assert len(set(ids)) == 4
    assert tiermix.flush(5)
    spans = sink.wait_for_spans(8)
    for name, request_id in zip((f"r{i}" for i in range(4)), ids, strict=True):
        mine = sorted(
            (s for s in spans if s.attributes["tiermix.request_id"] == request_id),
            key=lambda s: s.attributes["tiermix.attempt"],
        )
        assert summary(mine) == [
            (f"{name}-small", 0, False, True, "low_confidence"),
            (f"{name}-big", 1, True, False, None),
        ]
        assert {s.attributes["tiermix.route"] for s in mine} == {name}


def test_escalating_while_a_stream_is_still_being_read_marks_that_attempt(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    tiermix.instrument(["openai"])
    with tiermix.cascade(route="r") as c:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=MSG, stream=True, stream_options=USAGE
        )
        next(iter(stream))
        c.escalate("low_confidence", detail="first chunk looked off")  # attempt 0 has not finished
        stream.close()
        client.chat.completions.create(model="gpt-4o", messages=MSG)
    spans = by_attempt(sink, 2)
    assert summary(spans) == [
        ("gpt-4o-mini", 0, False, True, "low_confidence"),
        ("gpt-4o", 1, True, False, None),
    ]
    assert spans[0].attributes["tiermix.escalation_detail"] == "first chunk looked off"


async def test_an_attempt_that_finishes_after_the_block_keeps_its_number_and_marks(
    sdk: Callable[..., None], sink: OtlpSink, providers: FakeProviders
) -> None:
    tiermix.instrument(["openai"])
    async with aclient(providers) as client:
        async with tiermix.cascade(route="r") as c:
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
            c.escalate("refusal")
            await client.chat.completions.create(model="gpt-4o", messages=MSG)
        assert tiermix.flush(5)
        [answered] = sink.wait_for_spans(1)
        assert answered.attributes["tiermix.attempt"] == 1
        async for _ in stream:  # the abandoned attempt ends only now
            pass
    spans = by_attempt(sink, 2)
    assert summary(spans) == [("gpt-4o-mini", 0, False, True, "refusal"), ("gpt-4o", 1, True, False, None)]


def test_escalating_inside_an_anthropic_stream_block(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI, providers: FakeProviders
) -> None:
    tiermix.instrument()
    with (
        anthropic.Anthropic(base_url=providers.anthropic_base_url, api_key="t", max_retries=0) as claude,
        tiermix.cascade(route="r") as c,
    ):
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=5, messages=MSG) as stream:
            for _ in stream:
                c.escalate("verification_failed")
                break
        client.chat.completions.create(model="gpt-4o", messages=MSG)
    spans = by_attempt(sink, 2)
    assert summary(spans) == [
        ("claude-haiku-4-5", 0, False, True, "verification_failed"),
        ("gpt-4o", 1, True, False, None),
    ]


def test_observe_around_instrumented_clients_numbers_attempts_without_gaps(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    tiermix.instrument(["openai"])

    @tiermix.observe(tier="small")
    def ask(model: str) -> object:
        return client.chat.completions.create(model=model, messages=MSG)

    with tiermix.cascade(route="r") as c:
        ask("gpt-4o-mini")
        c.escalate("verification_failed")
        ask("gpt-4o")
    spans = by_attempt(sink, 2)
    assert summary(spans) == [
        ("gpt-4o-mini", 0, False, True, "verification_failed"),
        ("gpt-4o", 1, True, False, None),
    ]
