"""The real anthropic client against the fake provider: create, create(stream=True), stream()."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anthropic
import pytest

import tiermix
from tests.fakes.otlp_sink import CapturedSpan, OtlpSink
from tests.fakes.providers import ANTHROPIC_USAGE, FakeProviders

MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture
def client(providers: FakeProviders) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=providers.anthropic_base_url, api_key="test", max_retries=0) as c:
        yield c


def assert_anthropic_usage(span: CapturedSpan) -> None:
    u, a = ANTHROPIC_USAGE, span.attributes
    cached = u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
    assert a["gen_ai.usage.input_tokens"] == u["input_tokens"] + cached  # OTel: input includes cache
    assert a["gen_ai.usage.output_tokens"] == u["output_tokens"]
    assert a["gen_ai.usage.cache_read.input_tokens"] == u["cache_read_input_tokens"]
    assert a["gen_ai.usage.cache_creation.input_tokens"] == u["cache_creation_input_tokens"]
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["gen_ai.provider.name"] == "anthropic"


def spans_by_model(sink: OtlpSink, count: int) -> dict[str, CapturedSpan]:
    assert tiermix.flush(5)
    return {s.attributes["gen_ai.request.model"]: s for s in sink.wait_for_spans(count)}


def test_instrumented_create_and_both_streaming_styles(
    sdk: Callable[..., None], sink: OtlpSink, client: anthropic.Anthropic
) -> None:
    tiermix.instrument(["anthropic"])
    client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MSG)
    for _ in client.messages.create(model="claude-opus-4-1", max_tokens=10, messages=MSG, stream=True):
        pass
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=MSG) as stream:
        assert stream.get_final_text() == "Hello world"
    spans = spans_by_model(sink, 3)
    for span in spans.values():
        assert_anthropic_usage(span)
    assert "tiermix.ttft_ms" not in spans["claude-haiku-4-5"].attributes
    assert spans["claude-opus-4-1"].attributes["tiermix.ttft_ms"] > 0
    assert spans["claude-sonnet-4-6"].attributes["tiermix.ttft_ms"] > 0


async def test_instrumented_async_create_and_stream(
    sdk: Callable[..., None], sink: OtlpSink, providers: FakeProviders
) -> None:
    tiermix.instrument(["anthropic"])
    async with anthropic.AsyncAnthropic(
        base_url=providers.anthropic_base_url, api_key="t", max_retries=0
    ) as client:
        await client.messages.create(model="claude-a", max_tokens=10, messages=MSG)
        stream = await client.messages.create(model="claude-b", max_tokens=10, messages=MSG, stream=True)
        async for _ in stream:
            pass
        async with client.messages.stream(model="claude-c", max_tokens=10, messages=MSG) as ms:
            await ms.get_final_message()
    spans = spans_by_model(sink, 3)
    assert set(spans) == {"claude-a", "claude-b", "claude-c"}
    for span in spans.values():
        assert_anthropic_usage(span)


def test_decorated_function_returning_a_stream_ends_when_the_stream_is_consumed(
    sdk: Callable[..., None], sink: OtlpSink, client: anthropic.Anthropic
) -> None:
    @tiermix.observe(route="chat.stream")
    def start() -> object:
        return client.messages.create(model="claude-d", max_tokens=10, messages=MSG, stream=True)

    stream = start()
    assert tiermix.flush(5) and sink.spans() == []
    for _ in stream:  # type: ignore[attr-defined]
        pass
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    assert_anthropic_usage(span)
    assert span.attributes["tiermix.route"] == "chat.stream"
    assert span.attributes["gen_ai.response.model"] == "claude-d"


def test_anthropic_errors_pass_through(
    sdk: Callable[..., None], sink: OtlpSink, client: anthropic.Anthropic, providers: FakeProviders
) -> None:
    tiermix.instrument(["anthropic"])
    providers.fail_next(529)
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(model="claude-e", max_tokens=10, messages=MSG)
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    assert span.attributes["error.type"].startswith("anthropic.")


def test_a_failing_messages_stream_is_recorded_with_its_error(
    sdk: Callable[..., None], sink: OtlpSink, client: anthropic.Anthropic, providers: FakeProviders
) -> None:
    tiermix.instrument(["anthropic"])
    providers.fail_next(400)
    with (
        pytest.raises(anthropic.BadRequestError),
        client.messages.stream(model="claude-f", max_tokens=10, messages=MSG),
    ):
        pass
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    assert span.attributes["error.type"] == "anthropic.BadRequestError"
    assert span.attributes["gen_ai.request.model"] == "claude-f"
