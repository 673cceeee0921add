"""Benchmarks (docs/performance.md): ``python -m bench`` and the one-question modules beside it."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An argparse type: a count of senders, rows or rounds below 1 would measure nothing, silently."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value
