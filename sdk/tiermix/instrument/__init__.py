"""``tiermix.instrument()`` / ``tiermix.uninstrument()``: patch the official provider clients.

Provider libraries are optional: a library that is not installed is skipped with one log line.
Both calls are idempotent, and ``uninstrument`` restores the original methods.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._args import share, text
from .._capture import INSTRUMENT_CAPTURE
from .._log import internal_error, safe_repr, warn_once
from . import anthropic, openai
from ._patch import Target, patch, unpatch

LIBRARIES: dict[str, list[Target]] = {"openai": openai.TARGETS, "anthropic": anthropic.TARGETS}


def _selected(libraries: Iterable[str] | None) -> list[str]:
    if libraries is None:
        names = list(LIBRARIES)
    elif isinstance(libraries, str):
        names = [libraries]  # instrument("openai") means what it says
    else:
        try:
            names = [name for name in (text(n, "instrument library") for n in libraries) if name]
        except Exception:  # not iterable at all
            warn_once(
                "instrument:args",
                "tiermix: instrument(%s) ignored: want a list of library names",
                safe_repr(libraries),
            )
            return []
    unknown = [n for n in names if n not in LIBRARIES]
    for name in unknown:
        warn_once(
            "instrument:" + name, "tiermix: no instrumentation for %r (known: %s)", name, list(LIBRARIES)
        )
    return [n for n in names if n in LIBRARIES]


def instrument(libraries: Iterable[str] | None = None, *, capture: float | bool | None = None) -> list[str]:
    """Patch the clients of ``libraries`` (default: all known); returns those that were patched.

    ``capture=0.02`` sends the prompt and answer of 2% of the instrumented calls (those not inside an
    ``observe`` with a ``capture`` of its own) for shadow replay; ``None`` leaves it to
    ``init(capture_content=...)``."""
    if capture is not None:
        INSTRUMENT_CAPTURE[0] = share(capture, "capture")
    done = []
    for name in _selected(libraries):
        try:
            if patch(LIBRARIES[name]):
                done.append(name)
        except Exception:
            internal_error("instrument " + name)
    return done


def uninstrument(libraries: Iterable[str] | None = None) -> None:
    """Restore the original client methods of ``libraries`` (default: all); un-instrumenting them all
    also forgets ``instrument(capture=...)``."""
    if libraries is None:
        INSTRUMENT_CAPTURE[0] = None
    for name in _selected(libraries):
        try:
            unpatch(LIBRARIES[name])
        except Exception:
            internal_error("uninstrument " + name)
