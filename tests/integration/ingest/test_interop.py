"""Spans from real third-party instrumentations, sent by the official OTLP exporter, land as call rows.

Each instrumentation drives the real ``openai`` client against the local fake provider in a subprocess
(``interop_client.py``), so its global patches never leak into this test process.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.providers import FakeProviders
from tests.integration.ingest.conftest import Collector

CLIENT = Path(__file__).with_name("interop_client.py")
COLUMNS = (
    "operation, provider, model, input_tokens, output_tokens, cache_read_tokens, reasoning_tokens,"
    " finish_reason, status, service"
)


def run_client(which: str, collector: Collector, providers: FakeProviders) -> None:
    result = subprocess.run(
        [sys.executable, str(CLIENT), which, collector.url, providers.openai_base_url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(Path(__file__).parents[3]),
    )
    assert result.returncode == 0, result.stderr[-3000:]


def stored(collector: Collector, expected: int) -> list[tuple[Any, ...]]:
    collector.wait_for(lambda: collector.scalar("SELECT count() FROM llm_calls") >= expected, timeout_s=30)
    return collector.rows(f"SELECT {COLUMNS} FROM llm_calls ORDER BY operation")


def no_content_stored(collector: Collector) -> bool:
    return collector.scalar("SELECT count() FROM llm_calls WHERE length(tags) > 0") == 0


@pytest.fixture
def providers() -> Any:
    with FakeProviders() as fake:
        yield fake


def needs(module: str) -> Any:
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{module} is not installed")


@needs("opentelemetry.instrumentation.openai")
def test_openllmetry_openai_spans_become_call_rows(collector: Collector, providers: FakeProviders) -> None:
    run_client("openllmetry", collector, providers)
    assert stored(collector, 2) == [
        ("chat", "openai", "gpt-4o-mini", 12, 7, 4, 2, "stop", "ok", "shop"),
        ("embeddings", "openai", "text-embedding-3-small", 5, 0, 0, 0, "", "ok", "shop"),
    ]
    assert no_content_stored(collector)


@needs("openinference.instrumentation.openai")
def test_openinference_openai_spans_become_call_rows(collector: Collector, providers: FakeProviders) -> None:
    run_client("openinference", collector, providers)
    assert stored(collector, 2) == [
        ("chat", "openai", "gpt-4o-mini", 12, 7, 4, 2, "stop", "ok", "shop"),
        ("embeddings", "openai", "text-embedding-3-small", 5, 0, 0, 0, "", "ok", "shop"),
    ]
    assert collector.rows("SELECT cache_write_tokens FROM llm_calls WHERE operation = 'chat'") == [(1,)]
    assert no_content_stored(collector)


@needs("openlit")
def test_openlit_openai_spans_become_call_rows(collector: Collector, providers: FakeProviders) -> None:
    run_client("openlit", collector, providers)
    rows = stored(collector, 2)
    assert [row[:5] for row in rows] == [
        ("chat", "openai", "gpt-4o-mini", 12, 7),
        ("embeddings", "openai", "text-embedding-3-small", 5, 0),
    ]
    assert no_content_stored(collector)


def test_official_otel_sdk_and_exporter_spans_become_call_rows(
    collector: Collector, providers: FakeProviders
) -> None:
    run_client("plain-otel", collector, providers)
    collector.wait_for(lambda: collector.scalar("SELECT count() FROM ingest_stats") >= 2)
    assert collector.rows(f"SELECT {COLUMNS}, route FROM llm_calls") == [
        ("chat", "openai", "gpt-4o-mini", 12, 7, 0, 0, "", "ok", "shop", "plain.route")
    ]
    assert collector.rows(
        "SELECT outcome, reason, sum(spans) FROM ingest_stats GROUP BY ALL ORDER BY ALL"
    ) == [
        ("accepted", "", 1),
        ("skipped", "not_llm", 1),
    ]
