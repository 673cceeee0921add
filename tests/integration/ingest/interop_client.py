"""Run one third-party GenAI instrumentation against the real ``openai`` client, exporting to a collector.

Run as a subprocess (``python interop_client.py <instrumentation> <collector_url> <openai_base_url>``)
so each instrumentation's global patches and tracer provider stay out of the test process. Makes one
chat completion and one embeddings call, flushes, and exits 0.
"""

from __future__ import annotations

import sys


def main(which: str, collector_url: str, openai_base_url: str) -> int:
    import openai

    endpoint = f"{collector_url}/v1/traces"
    if which == "openlit":
        import openlit

        openlit.init(
            otlp_endpoint=collector_url,
            disable_batch=True,
            disable_metrics=True,
            application_name="shop",
            environment="prod",
        )
        flush = None
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        if which == "openllmetry":
            from opentelemetry.instrumentation.openai import OpenAIInstrumentor as Instrumentor
        elif which == "openinference":
            from openinference.instrumentation.openai import OpenAIInstrumentor as Instrumentor
        elif which == "plain-otel":
            Instrumentor = None
        else:
            raise SystemExit(f"unknown instrumentation {which}")
        if Instrumentor is not None:
            Instrumentor().instrument(tracer_provider=provider)
        flush = provider

    client = openai.OpenAI(base_url=openai_base_url, api_key="sk-test", max_retries=0)
    if which == "plain-otel":
        # What a hand-instrumented app sends through the official SDK and exporter.
        tracer = flush.get_tracer("app")  # type: ignore[union-attr]
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            response = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.response.model", response.model)
            span.set_attribute("gen_ai.usage.input_tokens", response.usage.prompt_tokens)  # type: ignore[union-attr]
            span.set_attribute("gen_ai.usage.output_tokens", response.usage.completion_tokens)  # type: ignore[union-attr]
            span.set_attribute("tiermix.route", "plain.route")
        with tracer.start_as_current_span("GET /healthz"):
            pass
    else:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    if flush is not None:
        flush.force_flush()
        flush.shutdown()
    else:
        from opentelemetry import trace

        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
