"""The queue cap holds exactly under racing application threads, and every call beyond it is counted."""

from __future__ import annotations

import threading
from collections.abc import Callable

import tiermix
from tests.fakes import providers
from tests.fakes.otlp_sink import OtlpSink
from tiermix import _runtime

CAP = 25


class RacingCap(int):
    """A cap whose "is the queue full?" check waits for the other thread: both get past it together.

    That is the interleaving a preempted application thread can produce; here it happens every time.
    """

    barrier = threading.Barrier(2, timeout=5)

    def __le__(self, queued: object) -> bool:  # ``len(queue) >= cap`` asks the cap (an int subclass)
        self.barrier.wait()
        return int(self) <= int(queued)  # type: ignore[call-overload]


def test_two_threads_racing_past_the_full_check_cannot_overfill_and_the_eviction_is_counted(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    # The worker sleeps (long interval, batches larger than the cap) until flush().
    sdk(max_queue=CAP, batch_size=10 * CAP, export_interval_s=60.0)
    response = providers.chat_completion("gpt-4o-mini")

    @tiermix.observe(route="race")
    def answer() -> dict[str, object]:
        return response

    for _ in range(CAP - 1):
        answer()
    rt = _runtime.RT
    assert rt is not None and len(rt.queue) == CAP - 1
    rt.max_queue = RacingCap(CAP)
    racers = [threading.Thread(target=answer) for _ in range(2)]
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join()
    rt.max_queue = CAP
    assert len(rt.queue) == CAP  # both passed the check; the second append evicted the oldest call
    assert tiermix.flush(10) is False  # everything left was exported; the evicted call was not
    assert sink.wait_for(lambda s: [r.attributes["tiermix.drop.count"] for r in s.drop_reports()] == [1])
    assert len(sink.call_spans()) == CAP
    assert sink.drop_reports()[0].attributes["tiermix.drop.reason"] == "queue_full"
