"""Fork safety, joining the application's OpenTelemetry trace, and mirroring to a TracerProvider."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

import tiermix
from tests.fakes import providers
from tests.fakes.otlp_sink import OtlpSink


@tiermix.observe
def ask(model: str) -> dict[str, object]:
    return providers.chat_completion(model)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_exports_its_own_calls_and_never_the_parents(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    sdk(export_interval_s=60.0)  # keep the parent's call queued across the fork
    ask("before-fork")
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            ask("in-child")
            code = 0 if tiermix.flush(5) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    ask("after-fork")
    assert tiermix.flush(5)
    names = sorted(s.name for s in sink.wait_for_spans(3))
    assert names == ["chat after-fork", "chat before-fork", "chat in-child"]


def test_calls_join_the_applications_current_opentelemetry_trace(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("app")
    with tracer.start_as_current_span("handle-request") as parent:
        ask("in-trace")
    ask("no-trace")
    assert tiermix.flush(5)
    spans = {s.name: s for s in sink.wait_for_spans(2)}
    ctx = parent.get_span_context()
    assert spans["chat in-trace"].trace_id == f"{ctx.trace_id:032x}"
    assert spans["chat in-trace"].parent_span_id == f"{ctx.span_id:016x}"
    assert spans["chat no-trace"].trace_id != f"{ctx.trace_id:032x}"
    assert spans["chat no-trace"].parent_span_id == ""


def test_spans_are_also_emitted_to_a_user_tracer_provider(sdk: Callable[..., None], sink: OtlpSink) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sdk(tracer_provider=provider)
    with tiermix.context(tenant="acme"):
        ask("mirrored")
    assert tiermix.flush(5)
    [ours] = sink.wait_for_spans(1)
    [theirs] = exporter.get_finished_spans()
    assert theirs.name == ours.name == "chat mirrored"
    assert theirs.attributes is not None
    assert theirs.attributes["tiermix.tenant"] == "acme"
    assert theirs.attributes["gen_ai.usage.input_tokens"] == 12
    assert (theirs.start_time, theirs.end_time) == (ours.start_ns, ours.end_ns)
