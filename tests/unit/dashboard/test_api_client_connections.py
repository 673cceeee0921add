"""The dashboard's API client on a kept-alive connection that the server drops under a request.

A CI run failed once with "Connection reset by peer" on one page of the browser tests: uvicorn closes
a connection after 5 s idle and httpx reused one for up to 5 s, so a request could meet the close. The
race cannot be timed against a real uvicorn, so a raw socket server on 127.0.0.1 plays the server's
side of it: it answers a connection's first request and resets (RST) the connection on its second.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tiermix_dashboard.api_client import ApiClient, ApiUnreachable


@dataclass
class ResettingServer:
    url: str
    reset_every_request: bool
    requests: list[str] = field(default_factory=list)  # "METHOD path" of every request read
    connections: int = 0


def _read_request(conn: socket.socket) -> str | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    lengths = [int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")]
    length = lengths[0] if lengths else 0
    while len(rest) < length:
        rest += conn.recv(65536)
    return " ".join(lines[0].split(" ")[:2])


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    conn.close()


def _serve_connection(server: ResettingServer, conn: socket.socket) -> None:
    served = 0
    while (request := _read_request(conn)) is not None:
        server.requests.append(request)
        if served or server.reset_every_request:
            _reset(conn)
            return
        body = json.dumps({"ok": True}).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)
        served += 1
    conn.close()


@contextmanager
def resetting_server(*, reset_every_request: bool = False) -> Iterator[ResettingServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    server = ResettingServer(f"http://127.0.0.1:{listener.getsockname()[1]}", reset_every_request)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            server.connections += 1
            threading.Thread(target=_serve_connection, args=(server, conn), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server
    finally:
        listener.close()


def test_a_read_resent_on_a_new_connection_when_a_kept_alive_one_is_reset() -> None:
    with resetting_server() as server:
        client = ApiClient(server.url)
        assert client.get("/api/v1/summary") == {"ok": True}
        assert client.get("/api/v1/mix") == {"ok": True}  # reset on the first connection, sent again
        client.close()
    assert server.requests == ["GET /api/v1/summary", "GET /api/v1/mix", "GET /api/v1/mix"]
    assert server.connections == 2


def test_a_post_is_not_sent_twice_since_the_server_may_have_acted_on_it() -> None:
    with resetting_server() as server:
        client = ApiClient(server.url)
        client.get("/api/v1/summary")
        with pytest.raises(ApiUnreachable, match="cannot reach the tiermix API"):
            client.post("/api/v1/alerts/rules", {"name": "x"})
        client.close()
    assert server.requests == ["GET /api/v1/summary", "POST /api/v1/alerts/rules"]


def test_a_server_that_resets_every_request_is_reported_unreachable_after_one_resend() -> None:
    with resetting_server(reset_every_request=True) as server:
        client = ApiClient(server.url)
        with pytest.raises(ApiUnreachable, match="cannot reach the tiermix API"):
            client.get("/api/v1/summary")
        client.close()
    assert server.requests == ["GET /api/v1/summary", "GET /api/v1/summary"]
