"""The SDK's only way to report its own failures: log once per distinct problem, never raise.

A library must not add handlers (the application decides where logs go), and a failing SDK must not
flood the log on every call, hence one record per ``key``.
"""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger("tiermix")

_seen: set[str] = set()
_lock = threading.Lock()


def warn_once(key: str, message: str, *args: object, exc_info: bool = False) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen in this process."""
    try:
        with _lock:
            if key in _seen:
                return
            _seen.add(key)
        logger.warning(message, *args, exc_info=exc_info)
    except Exception:  # logging itself failed (closed stream at exit): nothing sensible left to do
        pass


def internal_error(where: str) -> None:
    """Report an unexpected SDK exception (called from an ``except`` block) once per place."""
    warn_once(
        "internal:" + where, "tiermix: internal error in %s; the call was not recorded", where, exc_info=True
    )


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread of the parent may have held it at fork time


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def reset_for_tests() -> None:
    with _lock:
        _seen.clear()


def safe_repr(value: object, limit: int = 80) -> str:
    """``repr`` for log lines about the application's arguments: never raises, never floods."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
