"""CPU seconds of the collector's threads, grouped by what they do, from ``/proc`` (Linux).

A collector's process holds Python threads (the event loop, the thread that takes the decode workers'
answers: ``comm`` "python", as the interpreter's file is named), the threads that insert into chDB
(the engine renames a thread that runs a query, to "Unknown" in chDB 4.4, so they are told apart by
name; their CPU holds their own Python — the write-ahead, the column encoding — and the engine's
insert alike), the engine's merges ("MergeMutate") and its other pools; its child processes are the
decode workers. A thread that exits between two samples takes its CPU with it, so sample around a
window in which the pools stay up. A thread created by a renamed one inherits its name: in a process
that ran chDB queries outside its main thread (a test runner's), names no longer say what a thread does.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

DECODE_WORKERS = "decode workers"
INSERT_THREADS = "insert threads (write-ahead, encoding, chDB's insert)"
PYTHON_THREADS = "event loop and other Python threads"
MERGES = "ClickHouse merges"
ENGINE_OTHER = "ClickHouse's other threads"
_BY_NAME = {"Unknown": INSERT_THREADS, "MergeMutate": MERGES}


def cpu_by_group(pid: int) -> Counter[str]:
    """CPU seconds so far of ``pid``'s threads by group, and of its child processes (decode workers)."""
    spent: Counter[str] = Counter()
    for name, seconds in _threads(pid):
        # A thread is named after the interpreter's file: python, python3, python3.11.
        spent[PYTHON_THREADS if name.startswith("python") else _BY_NAME.get(name, ENGINE_OTHER)] += seconds
    for child in children(pid):
        spent[DECODE_WORKERS] += sum(seconds for _, seconds in _threads(child))
    return spent


def _threads(pid: int) -> list[tuple[str, float]]:
    tick = os.sysconf("SC_CLK_TCK")
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended while it was read
            continue
        out.append((name, (int(fields[11]) + int(fields[12])) / tick))  # utime + stime
    return out


def children(pid: int) -> list[int]:
    """The child processes of ``pid``."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
