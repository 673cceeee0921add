"""``POST /v1/traces``: the OTLP/HTTP receiver (OTLP specification, "OTLP/HTTP Response").

Its routes, and the API-key check before any byte of the body is read, are in api/otlp_routes.py.

Answers in the request's own content type: 200 with an ``ExportTraceServiceResponse`` (carrying
``partial_success`` with the rejected count and reasons when validation dropped some spans), 400 with a
``google.rpc.Status`` for an undecodable body, 413 when the body exceeds the limit after
decompression, 415 for other content types, 429/503 with ``Retry-After`` when the queue is full or
storage is down with a full spool, 401/403 from API-key auth. 200 is sent only once every accepted span
is durable (see ``pipeline.py``). Decoding and mapping are pure CPU work that a thread could not run in
parallel (the GIL): they run in decode worker processes (``decode_pool.py``) when there are cores for
them, and on the event loop for small bodies, on one core, or with ``TIERMIX_DECODE_WORKERS=0``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.requests import Request
from starlette.responses import Response

from tiermix_server.auth import Principal
from tiermix_server.errors import DecodeError, Overloaded, PayloadTooLarge, RequestTimeout, TiermixError
from tiermix_server.ingest.decode import JSON, PROTOBUF, decompress, media_type, parse
from tiermix_server.ingest.decode_pool import DecodeJob
from tiermix_server.ingest.process import process, take_captures
from tiermix_server.ingest.processed import Processed
from tiermix_server.ingest.validate import Limits

log = logging.getLogger("tiermix.ingest")

# HTTP status → google.rpc.Code, for the Status body of error answers.
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 408: 4, 413: 8, 415: 3, 429: 8, 503: 14}


async def receive_ignored(request: Request, signal: str) -> Response:
    """OTLP metrics and logs: decoded, counted and answered, not stored (tiermix's record is the span).

    OpenLIT and Traceloop export both by default; a 404 made them log an export error on every flush.
    Per the OTLP spec the answer is a success whose ``partial_success`` says how much was not kept and
    why, so an exporter neither retries nor reports a failure, and an operator reading its debug log
    learns that these signals are ignored here. Auth and body limits are those of ``/v1/traces``.
    """
    runtime = request.app.state.runtime
    media = _answer_media(request.headers.get("content-type"))
    try:
        media_type(request.headers.get("content-type"))
        body = await _read_body(request, runtime.settings.max_body_bytes)
        raw = decompress(body, request.headers.get("content-encoding"), runtime.settings.max_body_bytes)
        ignored = ignored_items(raw, media, signal)
    except TiermixError as exc:
        return _error(exc, media)
    if runtime.stats is not None:
        runtime.stats.count("tiermix_otlp_ignored_total", ignored, signal=signal)
    message = f"tiermix keeps LLM-call spans only; {signal} are accepted and not stored"
    return _partial_success(signal, ignored, message, media)


async def receive_traces(request: Request, principal: Principal) -> Response:
    """One authenticated export request (api/otlp_routes.py authenticates it with scope ``ingest``)."""
    runtime = request.app.state.runtime
    media = _answer_media(request.headers.get("content-type"))
    try:
        response = await _receive(request, runtime, media, principal)
    except TiermixError as exc:
        return refused(request, exc)
    except BaseException:
        _count_request(runtime, 500)
        raise
    _count_request(runtime, response.status_code)
    return response


def refused(request: Request, exc: TiermixError) -> Response:
    """A refused export request (authentication included): counted, answered in the request's media."""
    _count_request(request.app.state.runtime, exc.http_status)
    return answer_error(request, exc)


def answer_error(request: Request, exc: TiermixError) -> Response:
    return _error(exc, _answer_media(request.headers.get("content-type")))


def _count_request(runtime: Any, status: int) -> None:
    if runtime.stats is not None:
        runtime.stats.count("tiermix_requests_total", code=str(status))
    if status >= 400 and runtime.pipeline is not None:
        # Visible in data health too: a sender refused for good (a wrong key) sends nothing else.
        runtime.pipeline.note_refused_request(status)


async def _receive(request: Request, runtime: Any, media: str, principal: Principal) -> Response:
    settings = runtime.settings
    tenant = principal.tenant or None
    media_type(request.headers.get("content-type"))
    pipeline = runtime.pipeline
    if _content_length(request) > settings.max_body_bytes:  # refused before a byte is read
        raise PayloadTooLarge(f"Content-Length exceeds the limit of {settings.max_body_bytes} bytes")
    # The body first, within a deadline: queue room is reserved for bytes that arrived, never for a
    # claimed length, so a client trickling a huge body holds its connection and nothing else.
    body = await _read_body_in_time(request, settings.max_body_bytes, settings.body_timeout_s)
    owner = _owner(request, principal)
    nbytes = len(body)
    pipeline.admit(nbytes, owner)
    try:
        encoding = request.headers.get("content-encoding")
        pool = runtime.decode_pool
        processed = None
        if pool is not None and not pool.inline(nbytes):
            with pipeline.decoding():
                processed = await pool.decode(body, encoding, media, _job(runtime, tenant))
            if processed is not None:
                take_captures(processed, runtime.capture)
        if processed is None:
            raw = decompress(body, encoding, settings.max_body_bytes)
            processed = process(
                parse(raw, media),
                wire=raw if media == PROTOBUF and settings.compiled_decode else None,
                enricher=runtime.enricher,
                limits=Limits(now_ns=time.time_ns(), max_age_days=settings.raw_ttl_days),
                capture=runtime.capture,
                tenant=tenant,
                ignore_scopes=settings.ignored_scopes,
            )
        await pipeline.submit(processed)
    finally:
        pipeline.release(nbytes, owner)
    _count(runtime.stats, processed)
    return _success(processed, media)


def _job(runtime: Any, tenant: str | None) -> DecodeJob:
    settings = runtime.settings
    capture = runtime.capture
    return DecodeJob(
        max_body_bytes=settings.max_body_bytes,
        max_age_days=settings.raw_ttl_days,
        tenant=tenant,
        ignore_scopes=settings.ignored_scopes,
        keep_content=capture is not None and capture.active,
        pricing_version=runtime.enricher.version,
    )


def _owner(request: Request, principal: Principal) -> str:
    """Whose share of the queue a request takes: its API key, else the client's address."""
    if principal.key_id:
        return f"key:{principal.key_id}"
    client = request.client
    return f"addr:{client.host}" if client is not None else "addr:?"


async def _read_body_in_time(request: Request, max_body_bytes: int, timeout_s: float) -> bytes:
    try:
        return await asyncio.wait_for(_read_body(request, max_body_bytes), timeout_s)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_s:g} s") from None


def _content_length(request: Request) -> int:
    try:
        return max(int(request.headers.get("content-length", "0")), 0)
    except ValueError:
        return 0


async def _read_body(request: Request, max_body_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body_bytes:
            raise PayloadTooLarge(f"body exceeds the limit of {max_body_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _answer_media(content_type: str | None) -> str:
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return JSON if base == JSON else PROTOBUF


def _success(processed: Processed, media: str) -> Response:
    rejected = processed.rejected
    message = processed.rejection_summary() if rejected else ""
    if media == JSON:
        body: dict[str, Any] = {}
        if rejected:
            body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return Response(json.dumps(body), media_type=JSON)
    answer = ExportTraceServiceResponse()
    if rejected:
        answer.partial_success.rejected_spans = rejected
        answer.partial_success.error_message = message
    return Response(answer.SerializeToString(), media_type=PROTOBUF)


def _error(exc: TiermixError, media: str) -> Response:
    code = _RPC_CODES.get(exc.http_status, 13)
    message = str(exc)
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Overloaded) else None
    if media == JSON:
        content = json.dumps({"code": code, "message": message}).encode()
    else:
        content = rpc_status(code, message)
    return Response(content, status_code=exc.http_status, media_type=media, headers=headers)


def rpc_status(code: int, message: str) -> bytes:
    """A serialized ``google.rpc.Status`` (field 1: code, field 2: message), without googleapis protos."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _count(stats: Any, processed: Processed) -> None:
    if stats is None:
        return
    metric = {
        "accepted": "tiermix_spans_accepted_total",
        "rejected": "tiermix_spans_rejected_total",
        "skipped": "tiermix_spans_skipped_total",
        "clipped": "tiermix_spans_clipped_total",
    }
    for (_tenant, outcome, reason), n in processed.outcomes.items():
        if n <= 0:
            continue
        if outcome == "accepted":
            stats.count(metric[outcome], n)
        else:
            stats.count(metric[outcome], n, reason=reason)


def ignored_items(raw: bytes, media: str, signal: str) -> int:
    """Data points (metrics) or log records (logs) in an OTLP export body; raises DecodeError (400)."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    message: Any = ExportMetricsServiceRequest() if signal == "metrics" else ExportLogsServiceRequest()
    try:
        if media == JSON:
            json_format.Parse(raw, message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(raw)
    except Exception as exc:  # protobuf's and json_format's errors, and bad UTF-8
        raise DecodeError(f"body is not a valid OTLP {signal} export request: {exc}"[:300]) from None
    if signal == "logs":
        return sum(len(scope.log_records) for res in message.resource_logs for scope in res.scope_logs)
    points = 0
    for res in message.resource_metrics:
        for scope in res.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    points += len(getattr(metric, kind).data_points)
    return points


def _partial_success(signal: str, ignored: int, message: str, media: str) -> Response:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    field = "rejected_data_points" if signal == "metrics" else "rejected_log_records"
    if media == JSON:
        camel = "rejectedDataPoints" if signal == "metrics" else "rejectedLogRecords"
        body = {"partialSuccess": {camel: str(ignored), "errorMessage": message}} if ignored else {}
        return Response(json.dumps(body), media_type=JSON)
    answer: Any = ExportMetricsServiceResponse() if signal == "metrics" else ExportLogsServiceResponse()
    if ignored:
        setattr(answer.partial_success, field, ignored)
        answer.partial_success.error_message = message
    return Response(answer.SerializeToString(), media_type=PROTOBUF)
