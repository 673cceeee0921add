"""Streamed answers are captured like whole ones: only when enabled, clipped, through the redaction hook."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anthropic
import openai
import pytest

import tiermix
from tests.fakes.otlp_sink import CapturedSpan, OtlpSink
from tests.fakes.providers import ANSWER, FakeProviders

MSG = [{"role": "user", "content": "my secret question"}]


@pytest.fixture
def client(providers: FakeProviders) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=providers.openai_base_url, api_key="t", max_retries=0) as c:
        yield c


def spans_by_model(sink: OtlpSink, count: int) -> dict[str, CapturedSpan]:
    assert tiermix.flush(5)
    spans = sink.wait_for_spans(count)
    assert len(spans) == count
    return {s.attributes["gen_ai.request.model"]: s for s in spans}


def stream_everything(client: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    for _ in client.chat.completions.create(model="chat", messages=MSG, stream=True):
        pass
    with client.responses.stream(model="responses", input="my secret question") as stream:
        stream.until_done()
    with claude.messages.stream(model="claude", max_tokens=5, messages=MSG) as mstream:
        mstream.until_done()


def test_streamed_answers_are_captured_and_redacted_when_enabled(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI, providers: FakeProviders
) -> None:
    sdk(capture_content=True, redact=lambda text: text.replace("secret", "[x]").replace("world", "[w]"))
    tiermix.instrument()
    with anthropic.Anthropic(base_url=providers.anthropic_base_url, api_key="t", max_retries=0) as claude:
        stream_everything(client, claude)
    spans = spans_by_model(sink, 3)
    for span in spans.values():
        assert span.attributes["gen_ai.output.messages"] == ANSWER.replace("world", "[w]")
        assert "[x]" in span.attributes["gen_ai.input.messages"]
        assert "secret" not in str(span.attributes)


def test_streamed_answers_are_clipped_to_the_capture_limit(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI
) -> None:
    sdk(capture_content=True, max_content_chars=7)
    tiermix.instrument(["openai"])
    for _ in client.chat.completions.create(model="chat", messages=MSG, stream=True):
        pass
    [span] = spans_by_model(sink, 1).values()
    assert span.attributes["gen_ai.output.messages"] == ANSWER[:7]


def test_streamed_answers_are_not_captured_by_default(
    sdk: Callable[..., None], sink: OtlpSink, client: openai.OpenAI, providers: FakeProviders
) -> None:
    tiermix.instrument()
    with anthropic.Anthropic(base_url=providers.anthropic_base_url, api_key="t", max_retries=0) as claude:
        stream_everything(client, claude)
    for span in spans_by_model(sink, 3).values():
        assert "gen_ai.output.messages" not in span.attributes
        assert "gen_ai.input.messages" not in span.attributes


def test_a_decorated_generator_of_text_chunks_captures_what_it_yielded(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    sdk(capture_content=True)

    @tiermix.observe(model="local-llm")
    def words() -> Iterator[str]:
        yield from ("Hello", " ", "world")

    assert "".join(words()) == ANSWER
    [span] = spans_by_model(sink, 1).values()
    assert span.attributes["gen_ai.output.messages"] == ANSWER


def test_a_capture_share_sends_the_content_of_that_share_of_calls_only(
    sdk: Callable[..., None],
    sink: OtlpSink,
    client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """``instrument(capture=rate)`` samples per call on the application thread; ``observe(capture=...)``
    overrides it for the calls inside; both override ``capture_content`` (off here)."""
    from tiermix import _capture

    sdk()
    draws = iter([0.1, 0.9, 0.1, 0.9])  # two calls under the rate, two above it
    monkeypatch.setattr(_capture, "_random", lambda: next(draws))
    tiermix.instrument(capture=0.5)
    request.addfinalizer(tiermix.uninstrument)  # which forgets the share
    for n in range(4):
        client.chat.completions.create(model=f"m{n}", messages=MSG)

    @tiermix.observe(route="all", capture=True)
    def everything() -> None:
        client.chat.completions.create(model="observed-all", messages=MSG)

    @tiermix.observe(route="none", capture=False)
    def nothing() -> None:
        client.chat.completions.create(model="observed-none", messages=MSG)

    everything()
    nothing()
    spans = spans_by_model(sink, 6)
    sent = {model for model, span in spans.items() if "gen_ai.input.messages" in span.attributes}
    assert sent == {"m0", "m2", "observed-all"}
    assert spans["m0"].attributes["gen_ai.output.messages"] == ANSWER
    tiermix.uninstrument()
    assert _capture.INSTRUMENT_CAPTURE == [None]
