"""One slow client cannot starve the others.

A single socket announcing a huge Content-Length and trickling bytes used to hold a queue reservation
of the claimed size, so every other client got 429 while ``/readyz`` said ready. Now a claimed length
over the body limit is refused at once, a body that does not arrive in time gets 408, and queue room
is reserved only for the bytes that arrived.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import Server, reliability_settings, serve
from tests.unit.ingest.builders import body, next_span_id, span

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def server(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = reliability_settings(
        chdb_dir, tmp_path_factory.mktemp("slow") / "data", body_timeout_s=2.0, queue_max_bytes=64 * 1024**2
    )
    with serve(settings) as running:
        yield running


def trickle(port: int, claimed: int, stop: threading.Event, answers: list[bytes]) -> None:
    """Announce ``claimed`` bytes, then send one byte a second until stopped; keep the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            + f"Content-Length: {claimed}\r\n\r\n".encode()
        )
        sock.settimeout(0.5)
        while not stop.is_set():
            try:
                sock.sendall(b"\x00")
            except OSError:
                break
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if answer:
                answers.append(answer)
                break
            time.sleep(0.5)


@pytest.mark.parametrize("claimed", [268_435_456, 8 * 1024**2])
def test_a_trickling_client_does_not_block_the_others(server: Server, claimed: int) -> None:
    stop, answers = threading.Event(), []
    slow = threading.Thread(target=trickle, args=(server.settings.port, claimed, stop, answers), daemon=True)
    slow.start()
    try:
        time.sleep(0.5)
        statuses = []
        for _ in range(20):
            span_id = next_span_id()
            response = server.http.post("/v1/traces", content=body([span(span_id=span_id)]), headers=PROTOBUF)
            statuses.append(response.status_code)
        assert statuses == [200] * 20, statuses
        slow.join(10)  # the slow one is answered: 413 at once for an impossible length, else 408
        assert answers, "the trickling client was never answered"
        expected = b" 413 " if claimed > server.settings.max_body_bytes else b" 408 "
        assert expected in answers[0].split(b"\r\n", 1)[0], answers[0][:80]
    finally:
        stop.set()
        slow.join(5)
