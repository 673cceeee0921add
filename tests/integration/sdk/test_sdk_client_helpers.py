"""The clients' helpers, auto-instrumented: openai .stream() / .parse(), with_raw_response, anthropic too."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anthropic
import openai
import pytest

import tiermix
from tests.fakes.otlp_sink import CapturedSpan, OtlpSink
from tests.fakes.providers import ANSWER, ANTHROPIC_USAGE, OPENAI_USAGE, FakeProviders

MSG = [{"role": "user", "content": "hi"}]
USAGE = {"include_usage": True}


@pytest.fixture
def client(providers: FakeProviders) -> Iterator[openai.OpenAI]:
    tiermix.instrument()  # before the client exists: with_raw_response binds the patched methods
    with openai.OpenAI(base_url=providers.openai_base_url, api_key="t", max_retries=0) as c:
        yield c


@pytest.fixture
def claude(providers: FakeProviders) -> Iterator[anthropic.Anthropic]:
    tiermix.instrument()
    with anthropic.Anthropic(base_url=providers.anthropic_base_url, api_key="t", max_retries=0) as c:
        yield c


def spans_by_model(sink: OtlpSink, count: int) -> dict[str, CapturedSpan]:
    assert tiermix.flush(5)
    spans = sink.wait_for_spans(count)
    assert len(spans) == count
    return {s.attributes["gen_ai.request.model"]: s for s in spans}


def assert_openai(span: CapturedSpan, model: str) -> None:
    a = span.attributes
    assert (a["gen_ai.provider.name"], a["gen_ai.response.model"]) == ("openai", model)
    assert a["gen_ai.usage.input_tokens"] == OPENAI_USAGE["prompt_tokens"]
    assert a["gen_ai.usage.output_tokens"] == OPENAI_USAGE["completion_tokens"]
    assert a["gen_ai.usage.cache_read.input_tokens"] == OPENAI_USAGE["cached_tokens"]
    assert a["gen_ai.usage.reasoning.output_tokens"] == OPENAI_USAGE["reasoning_tokens"]


def assert_anthropic(span: CapturedSpan, model: str) -> None:
    a, u = span.attributes, ANTHROPIC_USAGE
    assert (a["gen_ai.provider.name"], a["gen_ai.response.model"]) == ("anthropic", model)
    assert a["gen_ai.usage.input_tokens"] == (
        u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
    )
    assert a["gen_ai.usage.output_tokens"] == u["output_tokens"]


def test_openai_stream_helpers_are_recorded_with_usage_and_ttft(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    with client.chat.completions.stream(model="chat-helper", messages=MSG, stream_options=USAGE) as stream:
        assert stream.get_final_completion().choices[0].message.content == ANSWER
    with client.responses.stream(model="responses-helper", input="hi") as rstream:
        assert rstream.get_final_response().output_text == ANSWER
    spans = spans_by_model(sink, 2)
    for model, span in spans.items():
        assert_openai(span, model)
        assert span.attributes["tiermix.ttft_ms"] > 0
    assert spans["responses-helper"].attributes["gen_ai.response.finish_reasons"] == ["completed"]


def test_a_stream_helper_left_early_is_recorded_when_its_block_exits(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    with client.chat.completions.stream(model="chat-helper", messages=MSG) as stream:
        for _ in stream:
            break
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)  # `stream` is still referenced: recorded by closing, not by GC
    assert span.attributes["gen_ai.request.model"] == "chat-helper"
    assert stream is not None


async def test_openai_async_stream_helpers_and_parse(
    sdk: Callable[..., None], sink: OtlpSink, providers: FakeProviders
) -> None:
    tiermix.instrument()
    async with openai.AsyncOpenAI(base_url=providers.openai_base_url, api_key="t", max_retries=0) as client:
        async with client.chat.completions.stream(model="a-chat", messages=MSG, stream_options=USAGE) as s:
            await s.until_done()
        async with client.responses.stream(model="a-responses", input="hi") as rs:
            await rs.until_done()
        await client.chat.completions.parse(model="a-parse", messages=MSG)
        await client.responses.parse(model="a-rparse", input="hi")
    spans = spans_by_model(sink, 4)
    for model, span in spans.items():
        assert_openai(span, model)


def test_openai_parse_is_recorded(sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI) -> None:
    parsed = client.chat.completions.parse(model="chat-parse", messages=MSG)
    assert parsed.choices[0].message.content == ANSWER
    client.responses.parse(model="responses-parse", input="hi")
    spans = spans_by_model(sink, 2)
    for model, span in spans.items():
        assert_openai(span, model)
        assert "tiermix.ttft_ms" not in span.attributes


def test_openai_with_raw_response_is_recorded_and_parse_still_works(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    raw = client.chat.completions.with_raw_response.create(model="raw-create", messages=MSG)
    assert raw.headers["content-type"] == "application/json"
    assert raw.parse().choices[0].message.content == ANSWER
    raw_stream = client.chat.completions.with_raw_response.create(
        model="raw-stream", messages=MSG, stream=True, stream_options=USAGE
    )
    assert tiermix.flush(5) and len(sink.spans()) == 1  # the stream is still open
    assert "".join(c.choices[0].delta.content or "" for c in raw_stream.parse() if c.choices) == ANSWER
    raw_parse = client.chat.completions.with_raw_response.parse(model="raw-parse", messages=MSG)
    assert raw_parse.parse().choices[0].message.content == ANSWER
    spans = spans_by_model(sink, 3)
    for model, span in spans.items():
        assert_openai(span, model)
    assert spans["raw-stream"].attributes["tiermix.ttft_ms"] > 0


def test_anthropic_parse_and_with_raw_response(
    sdk: Callable[..., None], sink: OtlpSink, claude: anthropic.Anthropic
) -> None:
    assert claude.messages.parse(model="claude-parse", max_tokens=5, messages=MSG).content[0].text == ANSWER
    raw = claude.messages.with_raw_response.create(model="claude-raw", max_tokens=5, messages=MSG)
    assert raw.parse().content[0].text == ANSWER
    raw_stream = claude.messages.with_raw_response.create(
        model="claude-raw-stream", max_tokens=5, messages=MSG, stream=True
    )
    for _ in raw_stream.parse():
        pass
    spans = spans_by_model(sink, 3)
    for model, span in spans.items():
        assert_anthropic(span, model)


async def test_anthropic_async_parse_and_with_raw_response(
    sdk: Callable[..., None], sink: OtlpSink, providers: FakeProviders
) -> None:
    tiermix.instrument()
    async with anthropic.AsyncAnthropic(
        base_url=providers.anthropic_base_url, api_key="t", max_retries=0
    ) as claude:
        await claude.messages.parse(model="a-claude-parse", max_tokens=5, messages=MSG)
        raw = await claude.messages.with_raw_response.create(model="a-claude-raw", max_tokens=5, messages=MSG)
        assert (await raw.parse()).content[0].text == ANSWER
    spans = spans_by_model(sink, 2)
    for model, span in spans.items():
        assert_anthropic(span, model)
