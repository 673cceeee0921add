"""Resident memory of a process, for the collector's ``/metrics`` (docs/deploy.md).

Read from ``/proc/<pid>/statm`` (Linux): microseconds, no dependency, safe to call on every scrape. The
collector's own figure includes embedded ClickHouse, which runs inside its process; its decode workers
are separate processes and are reported apart, so a growth can be told to one side or the other.
"""

from __future__ import annotations

import math
import os

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes(pid: int | None = None) -> float:
    """RSS of ``pid`` (this process by default); 0 once it has exited, NaN where there is no ``/proc``."""
    try:
        with open(f"/proc/{pid or os.getpid()}/statm", "rb") as statm:
            return float(int(statm.read().split()[1]) * _PAGE_BYTES)
    except FileNotFoundError:
        return 0.0 if os.path.isdir("/proc/self") else math.nan
    except (OSError, IndexError, ValueError):
        return math.nan
