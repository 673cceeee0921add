"""bench.thread_cpu: a process's CPU by group of threads, its child processes as decode workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.thread_cpu import DECODE_WORKERS, PYTHON_THREADS, children, cpu_by_group


def test_a_busy_child_counts_as_decode_workers_and_this_thread_as_python() -> None:
    busy = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", busy])
    try:
        deadline = time.monotonic() + 10
        while child.pid not in children(os.getpid()) and time.monotonic() < deadline:
            time.sleep(0.05)
        before = cpu_by_group(os.getpid())
        started = time.process_time()
        while time.process_time() - started < 0.3:  # this thread busy too
            pass
        spent = cpu_by_group(os.getpid())
        spent.subtract(before)
    finally:
        child.kill()
        child.wait()

    assert child.pid not in children(os.getpid())
    assert spent[DECODE_WORKERS] > 0.1
    assert spent[PYTHON_THREADS] > 0.1
