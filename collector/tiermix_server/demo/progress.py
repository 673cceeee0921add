"""A progress line on stderr: calls sent, requests, rate, and for a backfill the share done and ETA.

No dependency: on a terminal the line is redrawn in place (``\\r``) at most every ``redraw_s``; on a
pipe or log file a full line is written every ``log_every_s`` so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

_BAR_WIDTH = 24


class Progress:
    def __init__(
        self,
        label: str,
        total_requests: float | None = None,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        redraw_s: float = 0.2,
        log_every_s: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = total_requests
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._every_s = redraw_s if self._tty else log_every_s
        self._enabled = enabled
        self._started = clock()
        self._last_draw = float("-inf")
        self.requests = 0
        self.calls = 0

    def update(self, requests: int, calls: int, *, force: bool = False) -> None:
        self.requests, self.calls = requests, calls
        now = self._clock()
        if self._enabled and (force or now - self._last_draw >= self._every_s):
            self._last_draw = now
            self._draw(self.render(now))

    def render(self, now: float | None = None) -> str:
        elapsed_s = max(1e-9, (self._clock() if now is None else now) - self._started)
        rate = self.calls / elapsed_s
        text = f"{self.label}: {self.calls:,} calls ({self.requests:,} requests), {rate:,.0f} calls/s"
        if self.total:
            done = min(1.0, self.requests / self.total)
            filled = int(done * _BAR_WIDTH)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            remaining_s = elapsed_s * (1 - done) / done if done > 0 else float("nan")
            eta = f"ETA {remaining_s:,.0f}s" if remaining_s == remaining_s else "ETA ?"
            text = f"{self.label}: [{bar}] {done:4.0%} {self.calls:,} calls, {rate:,.0f} calls/s, {eta}"
        return text

    def finish(self, note: str = "") -> None:
        if not self._enabled:
            return
        line = self.render() + (f" — {note}" if note else "")
        self._draw(line)
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, line: str) -> None:
        if self._tty:
            self._stream.write("\r\x1b[2K" + line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
