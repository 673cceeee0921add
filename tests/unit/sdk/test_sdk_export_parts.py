"""Export building blocks: Retry-After, backoff, drop counting, the spool, the drop-report span."""

from __future__ import annotations

import email.utils
import os
import threading
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tiermix._config import resolve
from tiermix.export import encode
from tiermix.export.delivery import Delivery
from tiermix.export.drops import DropCounter
from tiermix.export.spool import Spool
from tiermix.export.transport import SendResult, parse_retry_after


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == 30.0


class NeverCalled:
    def send(self, body: bytes) -> SendResult:
        raise AssertionError("no send expected")

    def close(self) -> None:
        pass


def test_backoff_honours_retry_after_capped_and_grows_with_jitter_otherwise() -> None:
    settings = resolve({}, max_backoff_s=5.0)
    delivery = Delivery(settings, DropCounter(), None, None, time.monotonic, threading.Event())
    assert delivery._backoff(2.0) == 2.0
    assert delivery._backoff(60.0) == 5.0  # a hostile Retry-After must not park the worker for an hour
    delays = [delivery._backoff(None) for _ in range(10)]
    assert all(0 < d <= 5.0 for d in delays)
    assert delays[-1] > delays[0]


def test_drop_counter_reports_by_reason_and_keeps_what_came_after_the_snapshot() -> None:
    drops = DropCounter()
    drops.add("queue_full", 3)
    drops.add("export_failed", 2)
    snapshot = drops.snapshot()
    drops.add("queue_full", 4)
    drops.commit(snapshot)
    [left] = drops.snapshot()
    assert (left.reason, left.count) == ("queue_full", 4)
    assert drops.total == {"queue_full": 7, "export_failed": 2}


def test_drop_report_span_follows_the_wire_contract() -> None:
    drops = DropCounter()
    drops.add("queue_full", 5)
    reports = drops.snapshot()
    settings = resolve({}, service="svc")
    written = encode.encode([], settings, encode.resource_for(settings), reports)
    request = ExportTraceServiceRequest.FromString(written)
    assert request.SerializeToString() == written, "the protobuf classes' own bytes"
    [span] = request.resource_spans[0].scope_spans[0].spans
    attrs = {kv.key: kv.value for kv in span.attributes}
    assert span.name == "tiermix.drop_report"
    assert span.kind == encode.INTERNAL
    assert attrs["tiermix.drop.count"].int_value == 5
    assert attrs["tiermix.drop.reason"].string_value == "queue_full"
    assert attrs["tiermix.drop.since_unix_nano"].int_value == span.start_time_unix_nano
    assert span.end_time_unix_nano >= span.start_time_unix_nano


def test_spool_stores_batches_durably_in_order_and_respects_its_budget(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=250)
    assert spool.write(b"a" * 100) and spool.write(b"b" * 100)
    assert not spool.write(b"c" * 100)
    first, second = spool.pending()
    claimed = spool.claim(first)
    assert claimed is not None and spool.read(claimed) == b"a" * 100
    assert spool.claim(first) is None  # already taken
    assert spool.pending() == [second]
    spool.done(claimed)
    assert spool.used_bytes() == 100
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))


def test_claims_of_dead_processes_are_taken_back(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=10_000)
    spool.write(b"x")
    [path] = spool.pending()
    os.rename(path, path + ".claim-999999999")  # a pid that cannot exist
    assert Spool(str(tmp_path), max_bytes=10_000).pending() == [path]


def test_a_connection_closed_by_the_collector_while_idle_is_reopened_without_failing() -> None:
    import socket
    import threading

    from tiermix.export.transport import HttpTransport, Outcome

    answers = [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"] * 2
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        for answer in answers:  # one request per connection, then hang up: an idle keep-alive timeout
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    transport = HttpTransport(f"http://127.0.0.1:{listener.getsockname()[1]}/v1/traces", (), 5.0)
    try:
        assert transport.send(b"x").outcome is Outcome.DELIVERED
        assert transport.send(b"y").outcome is Outcome.DELIVERED  # the first socket is dead by now
    finally:
        transport.close()
        server.join(5)
        listener.close()
