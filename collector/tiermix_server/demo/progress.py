"""A progress line on stderr: calls sent, requests, recent rate, and for a backfill the share done and ETA.

No dependency: on a terminal the line is redrawn in place (``\\r``) at most every ``redraw_s``; on a
pipe or log file a full line is written every ``log_every_s`` so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

_BAR_WIDTH = 24
RATE_WINDOW_S = 30.0


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
        self._samples: deque[tuple[float, int]] = deque([(self._started, 0)])

    def update(self, requests: int, calls: int, *, force: bool = False) -> None:
        self.requests, self.calls = requests, calls
        now = self._clock()
        samples = self._samples
        if not samples or now - samples[-1][0] >= 1.0:
            samples.append((now, calls))
            while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_S:
                samples.popleft()
        if self._enabled and (force or now - self._last_draw >= self._every_s):
            self._last_draw = now
            self._draw(self.render(now))

    def render(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed_s = max(1e-9, now - self._started)
        rate = self._recent_rate(now)
        shown = f"{rate:,.1f}" if rate < 10 else f"{rate:,.0f}"
        text = f"{self.label}: {self.calls:,} calls ({self.requests:,} requests), {shown} calls/s"
        if self.total:
            done = min(1.0, self.requests / self.total)
            filled = int(done * _BAR_WIDTH)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            remaining_s = elapsed_s * (1 - done) / done if done > 0 else float("nan")
            eta = f"ETA {remaining_s:,.0f}s" if remaining_s == remaining_s else "ETA ?"
            text = f"{self.label}: [{bar}] {done:4.0%} {self.calls:,} calls, {shown} calls/s, {eta}"
        return text

    def _recent_rate(self, now: float) -> float:
        """Calls per second over about the last ``RATE_WINDOW_S`` (a live catch-up burst fades out)."""
        since, calls_then = self._samples[0]
        return (self.calls - calls_then) / max(1.0, now - since)  # no absurd rate in the first second

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
