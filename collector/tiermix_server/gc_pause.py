"""Pause Python's cycle collector around an allocation-heavy, cycle-free computation.

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
