"""``tiermix.stats()``: what this process has recorded, delivered and dropped, for importers and ops.

A snapshot read without stopping anything: counts are exact once ``tiermix.flush()`` returned ``True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ExportStats:
    """Counts since the current configuration (``init()``) started."""

    queued: int = 0  # calls waiting in memory for the export worker
    exported_calls: int = 0  # calls the collector acknowledged
    dropped: dict[str, int] = field(default_factory=dict)  # by reason (see docs/wire.md)
