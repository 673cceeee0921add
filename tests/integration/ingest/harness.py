"""Load and process harness for collector reliability tests and the benchmark.

``Load`` sends OTLP protobuf batches of unique spans from threads and records which span ids were
acknowledged (200) and which batches were not. ``CollectorProcess`` runs ``tiermix collector`` as a
subprocess on its own data dir (its own chDB engine), so it can be SIGKILLed. ``inspect_data_dir``
opens that data dir in a fresh subprocess after the collector stopped and counts what was stored.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.unit.ingest.builders import body, next_span_id, sdk_attributes, span

REPO = Path(__file__).parents[3]


@dataclass
class Batch:
    span_ids: list[int]
    payload: bytes


def make_batch(size: int) -> Batch:
    ids = [next_span_id() for _ in range(size)]
    attributes = sdk_attributes()
    return Batch(ids, body([span(attributes, span_id=i) for i in ids], compress=True))


@dataclass
class Load:
    """Threads that keep exporting fresh batches until stopped."""

    url: str
    threads: int = 4
    batch_size: int = 200
    acked: list[int] = field(default_factory=list)
    unacked: list[Batch] = field(default_factory=list)
    sent_batches: list[Batch] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, name=f"load-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                batch = make_batch(self.batch_size)
                status = send(client, self.url, batch)
                with self._lock:
                    self.sent_batches.append(batch)
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status == 200:
                        self.acked.extend(batch.span_ids)
                    else:
                        self.unacked.append(batch)


def send(client: httpx.Client, url: str, batch: Batch) -> int:
    """POST one batch; 0 when the connection failed (the collector died)."""
    try:
        response = client.post(
            f"{url}/v1/traces",
            content=batch.payload,
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        )
    except httpx.TransportError:
        return 0
    return response.status_code


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Any, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout_s}s")
        time.sleep(0.05)


class CollectorProcess:
    """``tiermix collector`` in a subprocess with its own data dir."""

    def __init__(self, data_dir: Path, port: int, **settings: Any) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "TIERMIX_DATA_DIR": str(data_dir),
            "TIERMIX_PORT": str(port),
            "TIERMIX_ALERTS_ENABLED": "false",
            "PYTHONPATH": str(REPO),
            **{f"TIERMIX_{key.upper()}": str(value) for key, value in settings.items()},
        }
        self.env.pop("TIERMIX_CLICKHOUSE_URL", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"collector-{port}.log"

    def start(self, timeout_s: float = 60.0) -> CollectorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed with it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tiermix_server.cli", "collector"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"collector exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"collector not healthy: {self.log_path.read_text()[-2000:]}")

    def metric(self, name: str) -> float:
        for line in httpx.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout_s: float = 60.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_INSPECT = """
import json, sys
from tiermix_server.settings import Settings
from tiermix_server.store.clickhouse import connect
settings = Settings(data_dir=sys.argv[1])
client = connect(settings, create_database=False)
expected = json.load(open(sys.argv[2]))
client.command("CREATE TEMPORARY TABLE acked (span_id UInt64)")
client.insert("acked", [[i] for i in expected], column_names=["span_id"])
one = lambda sql: client.query(sql).result_rows[0][0]
print(json.dumps({
    "rows": one("SELECT count() FROM llm_calls"),
    "distinct": one("SELECT uniqExact(span_id) FROM llm_calls"),
    "calls_1m": one("SELECT sum(calls) FROM llm_calls_1m"),
    "calls_1h": one("SELECT sum(calls) FROM llm_calls_1h"),
    "calls_1d": one("SELECT sum(calls) FROM llm_calls_1d"),
    "calls_by_band": one("SELECT sum(calls) FROM llm_calls_by_band_1d"),
    "missing_acked": one("SELECT count() FROM acked WHERE span_id NOT IN (SELECT span_id FROM llm_calls)"),
    "accepted_stats": one("SELECT sum(spans) FROM ingest_stats WHERE outcome = 'accepted'"),
}))
"""


def inspect_data_dir(data_dir: Path, acked: list[int]) -> dict[str, int]:
    """Counts from a stopped collector's data dir, read by a fresh process (chDB: one per dir)."""
    ids_path = data_dir.parent / "acked.json"
    ids_path.write_text(json.dumps(acked))
    result = subprocess.run(
        [sys.executable, "-c", _INSPECT, str(data_dir), str(ids_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO),
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return counts
