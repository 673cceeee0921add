"""Python's cycle collector on the hot paths: paused around cycle-free bursts, tuned for a serving process.

``cycle_collection_paused``: pause it around an allocation-heavy, cycle-free computation.

An all-tenant opportunities answer builds some 10^5 small tuples and records; Python's generational
collector then runs full collections in the middle of the request (measured: ~50 ms in every other
request at 10M calls, bench/rightsizing.py). Those objects hold no reference cycles, so reference
counting frees them all; the collector is switched back on (if it was on) as soon as the block ends,
whatever happens inside.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# A collection every 100,000 allocations of tracked objects instead of 700 (docs/performance.md).
SERVING_THRESHOLDS = (100_000, 10, 10)


def tune_for_serving() -> None:
    """Once a serving process has started: keep what start-up built out of every later collection,
    and collect the young generation less often.

    What start-up builds (modules, the price book, the ORM) lives as long as the process, and the rows
    that then flow through ingest hold no reference cycles; yet every full collection re-scanned all of
    it, and under load the collector triggered one every few thousand calls. Measured on the ingest
    benchmark (2 cores, 16 senders): 6.1 s of the collector process's 27 s under load went to the
    cycle collector, holding the GIL; frozen and with these thresholds, 0.8 s, and 21.5k → 26.9k
    calls/s. Reference cycles are still collected, only in larger steps.
    """
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
