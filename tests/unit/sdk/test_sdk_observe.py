"""@observe records sync/async functions, generators, async generators and methods, never hurting them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import tiermix
from tests.fakes import providers
from tests.fakes.otlp_sink import CapturedSpan, OtlpSink


def exported(sink: OtlpSink, count: int = 1) -> list[CapturedSpan]:
    assert tiermix.flush(5)
    return sink.wait_for_spans(count, timeout_s=5)


def completion(model: str = "gpt-4o-mini") -> dict[str, Any]:
    return providers.chat_completion(model)


def test_bare_decorator_records_model_usage_and_timing(sdk: Callable[..., None], sink: OtlpSink) -> None:
    @tiermix.observe
    def answer() -> dict[str, Any]:
        return completion()

    assert answer()["model"] == "gpt-4o-mini"
    [span] = exported(sink)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind == 3  # CLIENT
    assert span.end_ns >= span.start_ns > 0
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert "tiermix.request_id" not in span.attributes  # lone call: the collector uses span_id


def test_decorator_options_become_attributes(sdk: Callable[..., None], sink: OtlpSink) -> None:
    @tiermix.observe(
        route="support.answer",
        operation="chat",
        provider="azure.ai.openai",
        model="gpt-4o-router",
        tier="small",
        tags={"team": "cx"},
    )
    def answer() -> dict[str, Any]:
        return completion("gpt-4o-mini-2024-07-18")

    answer()
    [span] = exported(sink)
    a = span.attributes
    assert span.name == "chat gpt-4o-router"
    assert a["gen_ai.provider.name"] == "azure.ai.openai"
    assert a["gen_ai.request.model"] == "gpt-4o-router"
    assert a["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert (a["tiermix.route"], a["tiermix.tier"], a["tiermix.tag.team"]) == ("support.answer", "small", "cx")


async def test_async_function_is_recorded_and_returns_its_value(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    @tiermix.observe(route="r")
    async def answer() -> dict[str, Any]:
        return completion("claude-like")

    assert (await answer())["model"] == "claude-like"
    [span] = exported(sink)
    assert span.attributes["gen_ai.response.model"] == "claude-like"


def test_generator_call_ends_when_consumed_and_has_ttft(sdk: Callable[..., None], sink: OtlpSink) -> None:
    import json

    events = [json.loads(d) for _, d in providers.FakeProviders()._chat_events("gpt-4o", True)[:-1]]

    @tiermix.observe(route="stream")
    def stream() -> Iterator[dict[str, Any]]:
        yield from events

    assert len(list(stream())) == len(events)
    [span] = exported(sink)
    assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert span.attributes["tiermix.ttft_ms"] >= 0


def test_generator_closed_early_is_still_recorded(sdk: Callable[..., None], sink: OtlpSink) -> None:
    @tiermix.observe
    def stream() -> Iterator[str]:
        yield "a"
        yield "b"

    gen = stream()
    next(gen)
    gen.close()
    [span] = exported(sink)
    assert "error.type" not in span.attributes


async def test_async_generator_is_recorded_when_exhausted(sdk: Callable[..., None], sink: OtlpSink) -> None:
    @tiermix.observe(model="m")
    async def stream() -> AsyncIterator[str]:
        yield "a"
        yield "b"

    assert [x async for x in stream()] == ["a", "b"]
    [span] = exported(sink)
    assert span.attributes["gen_ai.request.model"] == "m"


def test_methods_are_decorated_like_functions(sdk: Callable[..., None], sink: OtlpSink) -> None:
    class Bot:
        def __init__(self) -> None:
            self.model = "bot-model"

        @tiermix.observe(route="bot")
        def ask(self, question: str) -> dict[str, Any]:
            return completion(self.model)

    assert Bot().ask("q")["model"] == "bot-model"
    [span] = exported(sink)
    assert span.attributes["tiermix.route"] == "bot"


class QuotaError(Exception):
    pass


def test_the_users_exception_passes_through_unchanged_and_is_recorded(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    original = QuotaError("over quota")

    @tiermix.observe(model="gpt-4o")
    def answer() -> None:
        raise original

    with pytest.raises(QuotaError) as caught:
        answer()
    assert caught.value is original
    [span] = exported(sink)
    assert span.attributes["error.type"].endswith("QuotaError")
    assert span.status_code == 2  # ERROR


def test_context_tenant_and_init_defaults_are_applied(sdk: Callable[..., None], sink: OtlpSink) -> None:
    sdk(tenant="default-tenant", route="default-route")

    @tiermix.observe
    def answer() -> dict[str, Any]:
        return completion()

    answer()
    with tiermix.context(tenant="acme", user="u-1", tags={"plan": "pro"}):
        answer()
    first, second = exported(sink, 2)
    assert (first.attributes["tiermix.tenant"], first.attributes["tiermix.route"]) == (
        "default-tenant",
        "default-route",
    )
    assert second.attributes["tiermix.tenant"] == "acme"
    assert second.attributes["tiermix.tag.plan"] == "pro"
    assert len(second.attributes["tiermix.user_hash"]) == 16


def test_disabled_sdk_is_a_plain_pass_through(sdk: Callable[..., None], sink: OtlpSink) -> None:
    sdk(disabled=True)

    @tiermix.observe
    def answer() -> int:
        return 42

    assert answer() == 42
    assert tiermix.flush(1)
    assert sink.spans() == []


class Exploding:
    """A response whose every attribute access fails: extraction breaks, the app must not."""

    object = "chat.completion"

    def __getattribute__(self, name: str) -> Any:
        if name in ("__class__", "__dict__"):
            return object.__getattribute__(self, name)
        raise RuntimeError("boom")


def test_an_sdk_failure_is_logged_once_and_never_raised(
    sdk: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    @tiermix.observe
    def answer() -> Any:
        return Exploding()

    with caplog.at_level(logging.WARNING, logger="tiermix"):
        for _ in range(3):
            assert isinstance(answer(), Exploding)
    assert len([r for r in caplog.records if r.name == "tiermix"]) == 1


def test_content_is_not_captured_unless_enabled_then_clipped_and_redacted(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    with tiermix.call(model="m") as c:
        c.set_content(prompt=[{"role": "user", "content": "my secret"}], completion="answer")
    sdk(capture_content=True, max_content_chars=40, redact=lambda text: text.replace("secret", "[x]"))
    with tiermix.call(model="m") as c:
        c.set_content(prompt=[{"role": "user", "content": "my secret"}], completion="answer")
    first, second = exported(sink, 2)
    assert "gen_ai.input.messages" not in first.attributes
    # clipped to 40 characters (the closing "}]" is cut), then redacted
    assert second.attributes["gen_ai.input.messages"] == '[{"role": "user", "content": "my [x]"'
    assert second.attributes["gen_ai.output.messages"] == "answer"
    assert "secret" not in str(second.attributes)


def test_first_recorded_call_initialises_from_the_environment(
    sink: OtlpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiermix.shutdown()
    monkeypatch.setenv("TIERMIX_ENDPOINT", sink.endpoint)
    monkeypatch.setenv("TIERMIX_SERVICE", "from-env")
    try:
        tiermix.observe(lambda: completion())()
        assert tiermix.flush(5)
        [span] = sink.wait_for_spans(1)
        assert span.resource["service.name"] == "from-env"
    finally:
        tiermix.shutdown()


def test_a_failing_redaction_hook_drops_the_text_instead_of_leaking_it(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("redactor bug")

    sdk(capture_content=True, redact=broken)
    with tiermix.call(model="m") as c:
        c.set_content(prompt="my secret", completion="answer")
    [span] = exported(sink)
    assert "gen_ai.input.messages" not in span.attributes
    assert "gen_ai.output.messages" not in span.attributes
