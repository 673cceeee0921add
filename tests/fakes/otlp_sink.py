"""A tiny OTLP/HTTP traces receiver for tests: records what it is sent, fails on request.

Usage::

    with OtlpSink() as sink:                  # 127.0.0.1, free port
        tiermix.init(endpoint=sink.endpoint)  # http://127.0.0.1:<port>
        ...
        spans = sink.wait_for_spans(3)        # list[CapturedSpan], blocks up to `timeout_s`
        sink.fail_with(503, retry_after="1")  # answer 503 (+ Retry-After) until `succeed()` / `times`
        sink.ack_delay_s = 0.2                # answer each request 200 ms late (a durable collector)
        sink.peak_in_flight                   # most requests it was handling at the same time
        sink.stop(); sink.start()             # an outage, then back on the same port

Every request is decoded (gzip + protobuf ``ExportTraceServiceRequest``) and kept in ``requests``
(only the ones answered 200). ``spans()`` flattens them into :class:`CapturedSpan` values with plain
Python attribute values, which is what tests assert on.
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@dataclass(frozen=True)
class CapturedSpan:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    status_code: int
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)


class OtlpSink:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.requests: list[ExportTraceServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        self.attempts = 0  # every POST, answered 200 or not
        self.ack_delay_s = 0.0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._fail: tuple[int, str | None] | None = None
        self._fail_times: int | None = None
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: stop() really cuts clients off

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._cond:
                    sink.in_flight += 1
                    sink.peak_in_flight = max(sink.peak_in_flight, sink.in_flight)
                try:
                    if sink.ack_delay_s:
                        time.sleep(sink.ack_delay_s)
                finally:
                    # Leave "in flight" before answering: once the answer is out, the client may send its
                    # next request before this thread gets to run again, which would count as overlap.
                    with sink._cond:
                        sink.in_flight -= 1
                sink._handle(self, body)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> OtlpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour ------------------------------------------------------------------------------
    def fail_with(self, status: int, retry_after: str | None = None, times: int | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests (all, if ``None``) without recording them."""
        with self._cond:
            self._fail = (status, retry_after)
            self._fail_times = times

    def succeed(self) -> None:
        with self._cond:
            self._fail = None

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self._cond:
            self.attempts += 1
            fail = self._fail
            if fail is not None and self._fail_times is not None:
                self._fail_times -= 1
                if self._fail_times <= 0:
                    self._fail = None
        if fail is not None:
            handler.send_response(fail[0])
            if fail[1] is not None:
                handler.send_header("Retry-After", fail[1])
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if handler.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        # Kept before answering, like a collector that acknowledges durable data: once the SDK's
        # flush() returns, what it delivered is already in ``requests``.
        with self._cond:
            self.requests.append(request)
            self.headers.append(dict(handler.headers.items()))
            self._cond.notify_all()
        answer = ExportTraceServiceResponse().SerializeToString()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/x-protobuf")
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)

    # -- reading --------------------------------------------------------------------------------
    def spans(self) -> list[CapturedSpan]:
        with self._cond:
            requests = list(self.requests)
        out = []
        for request in requests:
            for rs in request.resource_spans:
                resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.append(
                            CapturedSpan(
                                span.name,
                                span.kind,
                                span.trace_id.hex(),
                                span.span_id.hex(),
                                span.parent_span_id.hex(),
                                span.start_time_unix_nano,
                                span.end_time_unix_nano,
                                span.status.code,
                                {kv.key: any_value(kv.value) for kv in span.attributes},
                                resource,
                            )
                        )
        return out

    def call_spans(self) -> list[CapturedSpan]:
        return [s for s in self.spans() if s.name != "tiermix.drop_report"]

    def drop_reports(self) -> list[CapturedSpan]:
        return [s for s in self.spans() if s.name == "tiermix.drop_report"]

    def wait_for(self, predicate: Any, timeout_s: float = 10.0) -> bool:
        """Block until ``predicate(self)`` is true (re-checked on every received request)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout_s)

    def wait_for_spans(self, count: int, timeout_s: float = 10.0) -> list[CapturedSpan]:
        self.wait_for(
            lambda s: (
                sum(len(ss.spans) for r in s.requests for rs in r.resource_spans for ss in rs.scope_spans)
                >= count
            ),
            timeout_s,
        )
        return self.call_spans()
