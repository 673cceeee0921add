"""The real openai client against the fake provider: auto-instrumented and decorated, field by field."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest

import tiermix
from tests.fakes.otlp_sink import CapturedSpan, OtlpSink
from tests.fakes.providers import OPENAI_USAGE, FakeProviders


@pytest.fixture
def client(providers: FakeProviders) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=providers.openai_base_url, api_key="test", max_retries=0) as c:
        yield c


def one_span(sink: OtlpSink) -> CapturedSpan:
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    return span


def assert_openai_usage(span: CapturedSpan) -> None:
    a = span.attributes
    assert a["gen_ai.usage.input_tokens"] == OPENAI_USAGE["prompt_tokens"]
    assert a["gen_ai.usage.output_tokens"] == OPENAI_USAGE["completion_tokens"]
    assert a["gen_ai.usage.cache_read.input_tokens"] == OPENAI_USAGE["cached_tokens"]
    assert a["gen_ai.usage.cache_creation.input_tokens"] == OPENAI_USAGE["cache_write_tokens"]
    assert a["gen_ai.usage.reasoning.output_tokens"] == OPENAI_USAGE["reasoning_tokens"]


def test_readme_example_decorated_chat_completion(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    @tiermix.observe(route="support.answer")
    def answer(question: str) -> object:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )

    with tiermix.context(tenant="acme"):
        answer("Where is my order?")
    span = one_span(sink)
    a = span.attributes
    assert span.name == "chat gpt-4o-mini"
    assert (a["gen_ai.operation.name"], a["gen_ai.provider.name"]) == ("chat", "openai")
    assert a["gen_ai.response.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert (a["tiermix.tenant"], a["tiermix.route"]) == ("acme", "support.answer")
    assert_openai_usage(span)
    assert span.resource["service.name"] == "sdk-test"
    assert span.resource["deployment.environment.name"] == "test"
    assert span.resource["telemetry.sdk.name"] == "tiermix"


def test_instrumented_sync_call_records_requested_and_served_model(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI, providers: FakeProviders
) -> None:
    providers.serve_as["gpt-4o-router"] = "gpt-4o-mini-2024-07-18"
    tiermix.instrument(["openai"])
    client.chat.completions.create(model="gpt-4o-router", messages=[{"role": "user", "content": "hi"}])
    a = one_span(sink).attributes
    assert a["gen_ai.request.model"] == "gpt-4o-router"
    assert a["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"


def test_instrumented_stream_ends_when_consumed_with_final_chunk_usage_and_ttft(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    tiermix.instrument()
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[], stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.Stream)  # the client's own type, untouched
    assert tiermix.flush(5) and sink.spans() == []  # not consumed yet: the call is still open
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello world"
    span = one_span(sink)
    assert_openai_usage(span)
    assert span.attributes["tiermix.ttft_ms"] > 0
    assert span.attributes["gen_ai.response.finish_reasons"] == ["stop"]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_stream_without_include_usage_gets_its_usage_and_the_app_sees_its_own_chunks(
    sdk: Callable[..., None], sink: OtlpSink, providers: FakeProviders, asynchronous: bool
) -> None:
    import asyncio

    sdk(stream_usage="always")  # the fake is not api.openai.com: "auto" would leave the request alone
    tiermix.instrument(["openai"])
    messages = [{"role": "user", "content": "hi"}]
    if asynchronous:

        async def read() -> list[object]:
            async with openai.AsyncOpenAI(
                base_url=providers.openai_base_url, api_key="t", max_retries=0
            ) as c:
                stream = await c.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
                return [chunk async for chunk in stream]

        chunks = asyncio.run(read())
    else:
        with openai.OpenAI(base_url=providers.openai_base_url, api_key="t", max_retries=0) as c:
            chunks = list(c.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
    assert providers.requests[-1][1]["stream_options"] == {"include_usage": True}
    # Exactly what the app would have read without tiermix: every chunk has choices, none is usage-only.
    assert all(chunk.choices for chunk in chunks) and len(chunks) == 3  # type: ignore[attr-defined]
    assert_openai_usage(one_span(sink))


def test_stream_usage_auto_leaves_other_servers_alone_and_never_overrides_the_app(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI, providers: FakeProviders
) -> None:
    tiermix.instrument(["openai"])
    list(client.chat.completions.create(model="gpt-4o", messages=[], stream=True))
    assert "stream_options" not in providers.requests[-1][1]  # auto: only api.openai.com is asked
    sdk(stream_usage="always")
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=[], stream=True, stream_options={"include_usage": False}
        )
    )
    assert providers.requests[-1][1]["stream_options"] == {"include_usage": False}
    assert len(chunks) == 3


def test_instrumented_stream_closed_early_is_recorded_once(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    tiermix.instrument()
    with client.chat.completions.create(model="gpt-4o", messages=[], stream=True) as stream:
        next(iter(stream))
    stream.close()
    assert one_span(sink).attributes["gen_ai.request.model"] == "gpt-4o"


async def test_instrumented_async_call_and_async_stream(
    sdk: Callable[..., None], sink: OtlpSink, providers: FakeProviders
) -> None:
    tiermix.instrument()
    async with openai.AsyncOpenAI(base_url=providers.openai_base_url, api_key="t", max_retries=0) as client:
        with tiermix.context(tenant="async-tenant"):
            await client.chat.completions.create(model="gpt-4o-mini", messages=[])
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=[], stream=True, stream_options={"include_usage": True}
            )
            async for _ in stream:
                pass
    assert tiermix.flush(5)
    spans = sorted(sink.wait_for_spans(2), key=lambda s: s.name)
    assert [s.name for s in spans] == ["chat gpt-4o", "chat gpt-4o-mini"]
    for span in spans:
        assert_openai_usage(span)
        assert span.attributes["tiermix.tenant"] == "async-tenant"
    assert "tiermix.ttft_ms" in spans[0].attributes


def test_responses_api_and_embeddings_are_instrumented(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    tiermix.instrument()
    client.responses.create(model="gpt-5", input="hi")
    for _ in client.responses.create(model="gpt-5-mini", input="hi", stream=True):
        pass
    client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert tiermix.flush(5)
    spans = {s.attributes["gen_ai.request.model"]: s for s in sink.wait_for_spans(3)}
    assert_openai_usage(spans["gpt-5"])
    assert_openai_usage(spans["gpt-5-mini"])
    assert spans["gpt-5"].attributes["gen_ai.response.finish_reasons"] == ["completed"]
    emb = spans["text-embedding-3-small"]
    assert emb.name == "embeddings text-embedding-3-small"
    assert emb.attributes["gen_ai.usage.input_tokens"] == 5


def test_provider_error_passes_through_and_is_recorded(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI, providers: FakeProviders
) -> None:
    tiermix.instrument()
    providers.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=[])
    span = one_span(sink)
    assert span.attributes["error.type"] == "openai.InternalServerError"
    assert span.status_code == 2


def test_observe_around_an_instrumented_client_records_the_call_once_with_the_functions_options(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    tiermix.instrument()

    @tiermix.observe(route="support.answer", tier="small")
    def answer() -> object:
        return client.chat.completions.create(model="gpt-4o-mini", messages=[])

    answer()
    span = one_span(sink)
    assert (span.attributes["tiermix.route"], span.attributes["tiermix.tier"]) == ("support.answer", "small")
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"


def test_instrument_is_idempotent_and_uninstrument_restores_the_originals(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    from openai.resources.chat.completions import AsyncCompletions, Completions

    original, original_async = Completions.create, AsyncCompletions.create
    assert tiermix.instrument(["openai"]) == ["openai"]
    patched = Completions.create
    assert patched is not original
    tiermix.instrument(["openai"])
    assert Completions.create is patched
    tiermix.uninstrument(["openai"])
    tiermix.uninstrument(["openai"])
    assert Completions.create is original and AsyncCompletions.create is original_async
    client.chat.completions.create(model="gpt-4o", messages=[])
    assert tiermix.flush(5) and sink.spans() == []


def test_cascade_over_the_real_clients_exports_three_linked_attempts(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI, providers: FakeProviders
) -> None:
    import anthropic

    tiermix.instrument()
    claude = anthropic.Anthropic(base_url=providers.anthropic_base_url, api_key="t", max_retries=0)
    with claude, tiermix.context(tenant="acme"), tiermix.cascade(route="support.answer") as c:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
        c.escalate("verification_failed")
        client.chat.completions.create(model="gpt-4o", messages=[])
        c.escalate("refusal", detail="model declined")
        claude.messages.create(model="claude-opus-4-1", max_tokens=5, messages=[])
    assert tiermix.flush(5)
    spans = sorted(sink.wait_for_spans(3), key=lambda s: s.attributes["tiermix.attempt"])
    models = [s.attributes["gen_ai.request.model"] for s in spans]
    assert models == ["gpt-4o-mini", "gpt-4o", "claude-opus-4-1"]
    assert len({s.attributes["tiermix.request_id"] for s in spans}) == 1
    assert [s.attributes.get("tiermix.escalation_reason") for s in spans] == [
        "verification_failed",
        "refusal",
        None,
    ]
    assert [s.attributes["tiermix.final"] for s in spans] == [False, False, True]


def test_observed_generator_over_an_instrumented_stream_is_recorded_once(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    tiermix.instrument()

    @tiermix.observe(route="chat.stream")
    def words() -> Iterator[str]:
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[], stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    assert "".join(words()) == "Hello world"
    span = one_span(sink)
    assert span.attributes["tiermix.route"] == "chat.stream"
    assert_openai_usage(span)


def test_a_decorated_chat_loop_driven_with_send_is_one_call_with_summed_usage(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI, providers: FakeProviders
) -> None:
    @tiermix.observe(route="chat.loop")
    def chat(question: str) -> Iterator[object]:
        while question:
            question = yield client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
            )

    loop = chat("hi")
    next(loop)
    loop.send("and more?")
    with pytest.raises(StopIteration):
        loop.send("")
    assert [body["messages"][0]["content"] for _, body in providers.requests] == ["hi", "and more?"]
    a = one_span(sink).attributes
    assert a["tiermix.route"] == "chat.loop"
    assert a["gen_ai.usage.input_tokens"] == 2 * OPENAI_USAGE["prompt_tokens"]
    assert a["gen_ai.usage.output_tokens"] == 2 * OPENAI_USAGE["completion_tokens"]
