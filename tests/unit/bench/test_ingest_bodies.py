"""The ingest benchmark's bodies have the shape each of its runs says it measures."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.ingest import make_bodies
from tiermix_server.ingest.process import process
from tiermix_server.ingest.validate import Limits
from tiermix_server.meta.db import open_meta
from tiermix_server.pricing.enricher import build_enricher
from tiermix_server.settings import Settings


def _calls(parented: bool, data_dir: Path) -> tuple[ExportTraceServiceRequest, list[bool]]:
    (body,) = make_bodies(1, 50, parented)
    request = ExportTraceServiceRequest.FromString(gzip.decompress(body))
    settings = Settings(data_dir=data_dir)
    enricher = build_enricher(settings, open_meta(settings))
    processed = process(request, enricher=enricher, limits=Limits(now_ns=time.time_ns(), max_age_days=30))
    assert len(processed.calls) == 50, processed.outcomes
    return request, [keys.mergeable for keys in processed.keys]


def test_spans_with_parents_take_the_parking_path(tmp_path: Path) -> None:
    request, mergeable = _calls(True, tmp_path)
    spans = request.resource_spans[0].scope_spans[0].spans
    assert all(len(span.parent_span_id) == 8 and span.parent_span_id != span.span_id for span in spans)
    # a parent none of the request's spans is: each call stays its own, and may still be joined later
    assert not {span.parent_span_id for span in spans} & {span.span_id for span in spans}
    assert all(mergeable)


def test_the_headline_spans_have_no_parent(tmp_path: Path) -> None:
    request, mergeable = _calls(False, tmp_path)
    assert not any(span.parent_span_id for span in request.resource_spans[0].scope_spans[0].spans)
    assert not any(mergeable)
