"""Capture the spans a real peer instrumentation emits, for the corpus under ``tests/peers/corpus``.

Run inside that peer's own virtualenv (``scripts/capture_peers.sh`` builds them; peers pin conflicting
versions)::

    python tests/peers/capture.py <peer> tests/peers/corpus/<peer>.json

It starts the fake providers (``tests/fakes/providers.py``) and a raw OTLP/HTTP sink on 127.0.0.1, sets
the peer up the way its own docs say, drives the real ``openai`` / ``anthropic`` clients through the
calls the peer supports (chat, streamed chat, Anthropic messages, streamed messages), flushes, and
writes every export request it received, as OTLP/JSON, next to what the fake really served
(``calls``: the truth the corpus test checks tiermix against). Nothing here is imported by tiermix.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.providers import ANTHROPIC_USAGE, OPENAI_USAGE, FakeProviders

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"
PACKAGES = (
    "openai",
    "anthropic",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-openai-v2",
    "opentelemetry-instrumentation-openai",
    "opentelemetry-instrumentation-anthropic",
    "openinference-instrumentation-openai",
    "openinference-instrumentation-anthropic",
    "openinference-instrumentation-langchain",
    "langchain-openai",
    "openlit",
    "logfire",
    "traceloop-sdk",
    "litellm",
    "pydantic-ai-slim",
)


class Sink:
    """Keeps every OTLP export it is sent: traces parsed to OTLP/JSON, metrics and logs counted."""

    def __init__(self) -> None:
        self.traces: list[dict[str, Any]] = []
        self.other: dict[str, int] = {}
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.keep(self.path.split("?", 1)[0], body, self.headers.get("Content-Type", ""))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def keep(self, path: str, body: bytes, content_type: str) -> None:
        with self._lock:
            if path != "/v1/traces":
                self.other[path] = self.other.get(path, 0) + 1
                return
            if "json" in content_type:
                self.traces.append(json.loads(body))
                return
            from google.protobuf.json_format import MessageToDict
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.traces.append(MessageToDict(request))


def otel_provider(sink: Sink, *, set_global: bool = True) -> Any:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{sink.url}/v1/traces")))
    if set_global:
        trace.set_tracer_provider(provider)
    return provider


def setup(peer: str, sink: Sink) -> tuple[Any, set[str]]:
    """Instrument for ``peer``; returns (flush, the APIs it is driven through)."""
    both = {"openai", "openai_stream", "anthropic", "anthropic_stream"}
    if peer == "otel-openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        provider = otel_provider(sink)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        return provider.force_flush, {"openai", "openai_stream"}
    if peer == "anthropic-native":
        # No instrumentor at all: recent anthropic releases trace themselves once a global provider exists.
        provider = otel_provider(sink)
        return provider.force_flush, {"anthropic", "anthropic_stream"}
    if peer == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor
        from openinference.instrumentation.openai import OpenAIInstrumentor

        provider = otel_provider(sink)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        AnthropicInstrumentor().instrument(tracer_provider=provider)
        return provider.force_flush, both
    if peer == "openinference-langchain":
        from openinference.instrumentation.langchain import LangChainInstrumentor
        from openinference.instrumentation.openai import OpenAIInstrumentor

        provider = otel_provider(sink)
        LangChainInstrumentor().instrument(tracer_provider=provider)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        return provider.force_flush, {"langchain"}
    if peer == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        provider = otel_provider(sink)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        AnthropicInstrumentor().instrument(tracer_provider=provider)
        return provider.force_flush, both
    if peer == "traceloop":
        from traceloop.sdk import Traceloop

        Traceloop.init(app_name="shop", api_endpoint=sink.url, disable_batch=True, telemetry_enabled=False)
        from opentelemetry import trace

        return trace.get_tracer_provider().force_flush, both  # type: ignore[attr-defined]
    if peer == "openlit":
        import openlit

        openlit.init(otlp_endpoint=sink.url, application_name="shop", environment="prod", disable_batch=True)
        from opentelemetry import trace

        return trace.get_tracer_provider().force_flush, both  # type: ignore[attr-defined]
    if peer == "logfire":
        import logfire

        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"{sink.url}/v1/traces"
        logfire.configure(send_to_logfire=False, service_name="shop", console=False)
        logfire.instrument_openai()
        logfire.instrument_anthropic()
        return logfire.force_flush, both
    if peer == "litellm":
        os.environ["OTEL_EXPORTER"] = "otlp_http"
        os.environ["OTEL_ENDPOINT"] = f"{sink.url}/v1/traces"
        os.environ["OTEL_SERVICE_NAME"] = "shop"
        import litellm

        litellm.callbacks = ["otel"]
        from opentelemetry import trace

        def flush() -> None:
            import time

            time.sleep(2)  # litellm logs on its own worker thread after the call returns
            provider = trace.get_tracer_provider()
            if hasattr(provider, "force_flush"):
                provider.force_flush()

        return flush, {"litellm", "litellm_stream"}
    if peer == "pydantic-ai":
        from pydantic_ai import Agent

        provider = otel_provider(sink)
        Agent.instrument_all()
        return provider.force_flush, {"pydantic_ai"}
    raise SystemExit(f"unknown peer {peer}")


def drive(apis: set[str], fake: FakeProviders) -> list[dict[str, Any]]:
    """Make the calls; return what the fake really served, one entry per provider call."""
    calls: list[dict[str, Any]] = []
    oa, an = OPENAI_USAGE, ANTHROPIC_USAGE
    openai_truth = {
        "provider": "openai",
        "model": OPENAI_MODEL,
        "input_tokens": oa["prompt_tokens"],
        "output_tokens": oa["completion_tokens"],
        "cache_read_tokens": oa["cached_tokens"],
        "finish_reason": "stop",
    }
    anthropic_truth = {
        "provider": "anthropic",
        "model": ANTHROPIC_MODEL,
        # OTel semantics: input includes the cache (Anthropic reports them apart).
        "input_tokens": an["input_tokens"]
        + an["cache_read_input_tokens"]
        + an["cache_creation_input_tokens"],
        "output_tokens": an["output_tokens"],
        "cache_read_tokens": an["cache_read_input_tokens"],
        "cache_write_tokens": an["cache_creation_input_tokens"],
        "finish_reason": "end_turn",
    }
    messages = [{"role": "user", "content": "hi"}]
    if apis & {"openai", "openai_stream"}:
        import openai

        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="sk-test", max_retries=0)
        if "openai" in apis:
            client.chat.completions.create(model=OPENAI_MODEL, messages=messages)  # type: ignore[arg-type]
            calls.append({**openai_truth, "api": "openai", "stream": False})
        if "openai_stream" in apis:
            stream = client.chat.completions.create(
                model=OPENAI_MODEL,
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
            for _ in stream:
                pass
            calls.append({**openai_truth, "api": "openai", "stream": True})
    if apis & {"anthropic", "anthropic_stream"}:
        import anthropic

        aclient = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="sk-ant-test", max_retries=0)
        if "anthropic" in apis:
            aclient.messages.create(model=ANTHROPIC_MODEL, max_tokens=100, messages=messages)  # type: ignore[arg-type]
            calls.append({**anthropic_truth, "api": "anthropic", "stream": False})
        if "anthropic_stream" in apis:
            with aclient.messages.stream(model=ANTHROPIC_MODEL, max_tokens=100, messages=messages) as s:  # type: ignore[arg-type]
                for _ in s.text_stream:
                    pass
            calls.append({**anthropic_truth, "api": "anthropic", "stream": True})
    if "langchain" in apis:
        from langchain_openai import ChatOpenAI

        llm = ChatOpenAI(model=OPENAI_MODEL, base_url=fake.openai_base_url, api_key="sk-test", max_retries=0)
        llm.invoke("hi")
        calls.append({**openai_truth, "api": "openai", "stream": False})
    if apis & {"litellm", "litellm_stream"}:
        import litellm

        kwargs = {"model": f"openai/{OPENAI_MODEL}", "api_base": fake.openai_base_url, "api_key": "sk-test"}
        if "litellm" in apis:
            litellm.completion(messages=messages, **kwargs)
            calls.append({**openai_truth, "api": "openai", "stream": False})
        if "litellm_stream" in apis:
            for _ in litellm.completion(
                messages=messages, stream=True, stream_options={"include_usage": True}, **kwargs
            ):
                pass
            calls.append({**openai_truth, "api": "openai", "stream": True})
    if "pydantic_ai" in apis:
        from pydantic_ai import Agent
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        model = OpenAIChatModel(
            OPENAI_MODEL, provider=OpenAIProvider(base_url=fake.openai_base_url, api_key="sk-test")
        )
        Agent(model).run_sync("hi")
        calls.append({**openai_truth, "api": "openai", "stream": False})
    return calls


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def main(peer: str, out: str) -> int:
    sink = Sink()
    with FakeProviders() as fake:
        flush, apis = setup(peer, sink)
        calls = drive(apis, fake)
        flush()
    corpus = {
        "peer": peer,
        "packages": versions(),
        "calls": calls,
        "other_signals": sink.other,
        "requests": sink.traces,
    }
    Path(out).write_text(json.dumps(corpus, indent=1, sort_keys=True) + "\n")
    spans = sum(
        len(scope.get("spans", []))
        for request in sink.traces
        for resource in request.get("resourceSpans", [])
        for scope in resource.get("scopeSpans", [])
    )
    print(f"{peer}: {len(calls)} calls, {spans} spans in {len(sink.traces)} requests -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
