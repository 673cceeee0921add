"""SIGKILL the collector during sustained ingest, restart it: every acknowledged span stored exactly once.

The collector runs as a real subprocess (``tiermix collector``) on its own data dir. After the restart
the load does what an OTLP client does — retries every batch that was never acknowledged — and also
re-sends some acknowledged batches, so the test covers both a crash mid-insert (replayed from the
spool under its first token) and a client re-sending spans that were already stored.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.ingest.harness import (
    CollectorProcess,
    Load,
    free_port,
    inspect_data_dir,
    send,
    wait_for,
)

pytestmark = pytest.mark.slow


# Decoded on the event loop, and by decode workers, whose rows the spool's record holds packed (TMX2).
DECODING = {"inline": {}, "workers": {"decode_workers": 2, "decode_inline_max_bytes": 0}}


@pytest.mark.parametrize("decoding", list(DECODING))
def test_sigkill_during_sustained_ingest_loses_no_acknowledged_span_and_counts_each_once(
    tmp_path: Path, decoding: str
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    spool = data_dir / "spool"
    collector = CollectorProcess(data_dir, port, batch_max_delay_s=0.1, **DECODING[decoding]).start()
    load = Load(collector.url, threads=4, batch_size=250)
    try:
        load.start()
        wait_for(lambda: load.acked_count() >= 20_000, timeout_s=120, what="20k acknowledged spans")
        # Kill while a batch is between its write-ahead record and the end of its insert.
        wait_for(lambda: any(spool.glob("*.batch")), timeout_s=30, what="a batch being inserted")
        collector.kill()
    finally:
        load.stop()
        collector.stop()
    acked_before_kill = list(load.acked)
    left = {path.read_bytes()[:4] for path in spool.glob("*.batch")}
    print(f"records left by the kill ({decoding}): {left or 'none'}")
    if decoding == "workers":
        assert left <= {b"TMX2"}, left  # what workers decoded is spooled with its rows packed

    restarted = CollectorProcess(data_dir, port, batch_max_delay_s=0.1, **DECODING[decoding]).start()
    try:
        with httpx.Client(timeout=30) as client:
            for batch in load.unacked + load.sent_batches[:10]:
                assert send(client, restarted.url, batch) == 200
        wait_for(lambda: restarted.metric("tiermix_spool_bytes") == 0, what="spool drained")
    finally:
        restarted.stop()

    sent = {span_id for batch in load.sent_batches for span_id in batch.span_ids}
    counts = inspect_data_dir(data_dir, acked_before_kill)
    assert counts["missing_acked"] == 0
    assert (
        counts["calls_1m"] == counts["calls_1h"] == counts["calls_1d"] == counts["calls_by_band"] == len(sent)
    )
    assert counts["distinct"] == len(sent)
    assert counts["rows"] == len(sent)


def test_sigkill_while_a_call_waits_for_its_other_spans_loses_nothing_and_counts_it_once(
    tmp_path: Path,
) -> None:
    """A call that another span may still join is answered once spooled, inserted after the window:
    a crash inside the window is replayed from the spool, and the span's retry is a duplicate."""
    from tests.unit.ingest.builders import body, next_span_id, sdk_attributes, span

    data_dir = tmp_path / "data"
    port = free_port()
    # A long window: the kill surely comes while the batch is parked.
    collector = CollectorProcess(data_dir, port, merge_window_s=30).start()
    span_id = next_span_id()
    parked = span(sdk_attributes(**{"gen_ai.response.id": "chatcmpl-kill"}), span_id=span_id)
    try:
        with httpx.Client(timeout=30) as client:
            answer = client.post(
                f"{collector.url}/v1/traces", content=body([parked]),
                headers={"Content-Type": "application/x-protobuf"},
            )  # fmt: skip
            assert answer.status_code == 200  # answered at once, not after the 30 s window
        assert any((data_dir / "spool").glob("*.batch"))
        collector.kill()
    finally:
        collector.stop()
    restarted = CollectorProcess(data_dir, port, merge_window_s=30).start()
    try:
        with httpx.Client(timeout=30) as client:  # the exporter retries what it is unsure of
            assert send_body(client, restarted.url, body([parked])) == 200
        wait_for(lambda: restarted.metric("tiermix_spool_bytes") == 0, what="spool drained")
    finally:
        restarted.stop()
    counts = inspect_data_dir(data_dir, [span_id])
    assert counts["missing_acked"] == 0
    assert (
        counts["calls_1m"]
        == counts["calls_1h"]
        == counts["calls_1d"]
        == counts["calls_by_band"]
        == counts["distinct"]
        == 1
    )


def send_body(client: httpx.Client, url: str, content: bytes) -> int:
    answer = client.post(
        f"{url}/v1/traces", content=content, headers={"Content-Type": "application/x-protobuf"}
    )
    return answer.status_code
