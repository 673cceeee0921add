"""bench.thread_cpu: a process's CPU by group of threads, its child processes as decode workers.

Measured on a process of its own, as the benchmark measures the collector: the test runner's own
threads may carry a name chDB gave them (a thread that ran a query is renamed, and its new threads
inherit the name).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from bench.thread_cpu import DECODE_WORKERS, PYTHON_THREADS, children, cpu_by_group

# A parent that starts a busy child, then keeps its own main thread busy: ~1 core each for 30 s (half
# of one on a loaded 2-core machine: the test asks for a tenth).
BUSY = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"
PARENT = f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {BUSY!r}])\n{BUSY}"


def test_the_main_thread_counts_as_python_and_a_child_process_as_decode_workers() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT])
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 10
        while not workers and time.monotonic() < deadline:
            time.sleep(0.05)
            workers = children(parent.pid)
        before = cpu_by_group(parent.pid)
        time.sleep(1.0)
        spent = cpu_by_group(parent.pid)
        spent.subtract(before)
    finally:
        for pid in [parent.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait()

    assert workers
    assert spent[DECODE_WORKERS] > 0.1
    assert spent[PYTHON_THREADS] > 0.1
