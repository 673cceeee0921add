"""What one request becomes (``process.py``), and how a decode worker's answer stays bytes on its way.

A request decoded in a worker (``decode_pool.py``) comes back as bytes (``handoff.py``). Its call rows
and their sources are only needed again to be inserted — or, rarely, to skip a copy or merge a second
span of a call — so they stay the bytes the worker wrote (``marshal`` of the rows: ``packed_calls``)
until one of those needs them: the batch's insert turns them into columns, the spool's write-ahead
record holds them as they are, and a row is rebuilt only when asked for (``calls``). In the collector's
event loop a worker's answer is then a few objects per call (its keys) instead of a row tuple and its
values: no unpacking there, nothing for the cycle collector to scan while the batch waits for its
insert, and no second encoding of the rows for the spool (docs/performance.md).
"""

from __future__ import annotations

import marshal
from collections import Counter
from typing import Any

from tiermix_server.ingest.capture import CaptureRow
from tiermix_server.ingest.identity import CallKeys, Sources
from tiermix_server.ingest.write import TS_INDEX, CallRow, DropRow

ACCEPTED = "accepted"
REJECTED = "rejected"
SKIPPED = "skipped"
CLIPPED = "clipped"


class Processed:
    """``calls``, ``keys`` and ``scopes`` are parallel: one entry per call.

    - ``drops``: the SDK's drop reports, as ``sdk_drops`` rows;
    - ``keys``: how each call is recognised when it comes again (``identity.py``);
    - ``scopes``: the instrumentations each call is from (``identity.merge_two``);
    - ``captures``: one per call (``capture.py``); ``contents``: one per call while capture is pending
      (``keep_content``), the span's content attributes, turned into ``captures`` by ``take_captures``
      in the process that holds the capture budget;
    - ``outcomes``: (tenant, outcome, reason) → spans; clipped counts values, not spans.
    """

    __slots__ = (
        "_calls",
        "_packed",
        "_scopes",
        "_starts",
        "captures",
        "contents",
        "drops",
        "keys",
        "outcomes",
    )

    def __init__(
        self,
        calls: list[CallRow] | None = None,
        drops: list[DropRow] | None = None,
        keys: list[CallKeys] | None = None,
        scopes: list[Sources] | None = None,
        captures: list[CaptureRow | None] | None = None,
        contents: list[dict[str, Any] | None] | None = None,
        outcomes: Counter[tuple[str, str, str]] | None = None,
    ) -> None:
        self._calls: list[CallRow] | None = [] if calls is None else calls
        self._scopes: list[Sources] | None = [] if scopes is None else scopes
        # While rows are packed: (rows, scopes) as marshal bytes, and each call's start (``ts``, µs).
        self._packed: tuple[bytes, bytes] | None = None
        self._starts: list[int] = []
        self.drops: list[DropRow] = [] if drops is None else drops
        self.keys: list[CallKeys] = [] if keys is None else keys
        self.captures: list[CaptureRow | None] = [] if captures is None else captures
        self.contents: list[dict[str, Any] | None] = [] if contents is None else contents
        self.outcomes: Counter[tuple[str, str, str]] = Counter() if outcomes is None else outcomes

    @classmethod
    def with_packed_calls(cls, calls: bytes, scopes: bytes, starts: list[int], **parts: Any) -> Processed:
        """A worker's answer whose rows stay ``calls`` (``marshal`` of the row tuples) until needed;
        ``starts``: each call's ``ts`` (epoch µs), which the duplicate checks and ``call_keys`` need."""
        processed = cls(**parts)
        processed._calls = processed._scopes = None
        processed._packed = (calls, scopes)
        processed._starts = starts
        return processed

    # -- the rows, rebuilt when asked for --------------------------------------------------------------
    @property
    def calls(self) -> list[CallRow]:
        if self._calls is None:
            self._unpack()
        assert self._calls is not None
        return self._calls

    @calls.setter
    def calls(self, rows: list[CallRow]) -> None:
        self._unpack_scopes()
        self._calls, self._packed, self._starts = rows, None, []

    @property
    def scopes(self) -> list[Sources]:
        if self._scopes is None:
            self._unpack_scopes()
        assert self._scopes is not None
        return self._scopes

    @scopes.setter
    def scopes(self, scopes: list[Sources]) -> None:
        self._scopes = scopes

    def _unpack(self) -> None:
        self._unpack_scopes()
        if self._packed is not None:
            self._calls = list(marshal.loads(self._packed[0]))
            self._packed, self._starts = None, []

    def _unpack_scopes(self) -> None:
        if self._scopes is None and self._packed is not None:
            self._scopes = list(marshal.loads(self._packed[1]))

    @property
    def call_count(self) -> int:
        """How many call rows, without rebuilding them."""
        return len(self._calls) if self._calls is not None else len(self._starts)

    @property
    def packed_calls(self) -> bytes | None:
        """The rows as the worker packed them (``marshal``), while no row was asked for; else None."""
        return self._packed[0] if self._packed is not None else None

    def starts(self) -> list[int]:
        """Each call's start (its row's ``ts``, epoch µs), without rebuilding the rows."""
        if self._packed is not None:
            return self._starts
        return [row[TS_INDEX] for row in self.calls]

    # -- what the request's answer says ----------------------------------------------------------------
    @property
    def rejected(self) -> int:
        return sum(n for (_, outcome, _), n in self.outcomes.items() if outcome == REJECTED)

    def rejection_summary(self) -> str:
        reasons: Counter[str] = Counter()
        for (_, outcome, reason), n in self.outcomes.items():
            if outcome == REJECTED:
                reasons[reason] += n
        return "; ".join(f"{n} span(s) rejected: {reason}" for reason, n in reasons.most_common())

    def _parts(self) -> tuple[Any, ...]:
        return (self.calls, self.drops, self.keys, self.scopes, self.captures, self.contents, self.outcomes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Processed):
            return NotImplemented
        return self._parts() == other._parts()

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaced

    def __repr__(self) -> str:
        return f"Processed(calls={self.call_count}, drops={len(self.drops)}, outcomes={dict(self.outcomes)})"
