"""The local spool: batches that are acknowledged but not yet in ClickHouse.

Every batch is written here before it is inserted (write-ahead) and removed once inserted; while
ClickHouse is down records accumulate up to the disk budget. One record per batch (the batcher already
groups many requests into a batch, so one fsync covers them all: group commit). A record is written
to a temporary file, fsync'ed, renamed into place, and the directory is fsync'ed, so after a crash a
record is either whole or absent — never torn. Records carry the batch's dedup token, so draining one
twice (crash between insert and unlink) stores it once.

Format: a magic, CRC32 of the payload, then ``marshal`` of the batch (only ints, floats, str, bytes,
bools, None, dicts, lists and tuples — no code objects, unlike pickle). ``TMX1``: token, calls, drops,
stats, keys, captures (records of older releases stop after stats, or after keys). ``TMX2`` adds the
call rows decode workers packed (``Batch.packed_calls``: each part ``marshal`` of a list of rows),
written as the bytes they are; a batch without them is still written as ``TMX1``, so a spool of
inline-decoded batches stays readable by the releases before. An older release that meets a ``TMX2``
record moves it to ``corrupt/`` and counts it rather than drop its packed calls unnoticed: drain the
spool (``/readyz`` ready, ``tiermix_spool_bytes`` 0) before going back to one. A record that fails its
checksum is moved aside to ``corrupt/`` and counted (``corrupt_records``: ``/metrics`` and data
health), never silently dropped nor retried forever. Files that are not records (an operator's note, a
``.batch`` file of another name) are left alone and never stop start-up; a record that cannot be written
whole (ENOSPC) leaves no temporary file behind.
"""

from __future__ import annotations

import itertools
import logging
import marshal
import os
import re
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiermix_server.ingest.write import Batch, Refused

log = logging.getLogger("tiermix.ingest")

_MAGIC = b"TMX1"
_MAGIC_PACKED = b"TMX2"  # with packed call rows (see the module's docstring)
_SUFFIX = ".batch"
_RECORD_NAME = re.compile(r"(\d{16})-[0-9A-Za-z_-]+\.batch")


class Spool:
    def __init__(
        self, directory: Path, max_bytes: int, on_corrupt: Callable[[str], None] | None = None
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.corrupt_records = 0
        self.on_corrupt = on_corrupt
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*.tmp"):
            leftover.unlink()  # never renamed into place: its batch was never acknowledged
        self._lock = threading.Lock()
        self._held: set[Path] = set()  # records whose first insert is in progress: not for draining
        records = self.records()
        self._bytes = sum(path.stat().st_size for path in records)
        last = int(records[-1].name[:16]) if records else 0
        self._sequence = itertools.count(last + 1)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def has_room(self, nbytes: int) -> bool:
        return self._bytes + nbytes <= self.max_bytes

    def records(self) -> list[Path]:
        """Spooled records, oldest first (records held by an insert in progress are left out)."""
        # List first, then read the held set: a record appended meanwhile is held before its file exists.
        found = sorted(
            path for path in self.directory.glob(f"*{_SUFFIX}") if _RECORD_NAME.fullmatch(path.name)
        )
        with self._lock:
            return [path for path in found if path not in self._held]

    def encode(self, batch: Batch) -> bytes:
        parts: tuple[Any, ...] = (
            batch.token,
            batch.calls,
            batch.drops,
            batch.stats,
            batch.keys,
            batch.captures,
        )
        magic = _MAGIC
        if batch.packed_calls:
            magic, parts = _MAGIC_PACKED, (*parts, batch.packed_calls, batch.packed_count)
        payload = marshal.dumps(parts)
        return magic + zlib.crc32(payload).to_bytes(4, "big") + payload

    def append(self, batch: Batch, record: bytes | None = None, *, held: bool = False) -> Path:
        """Write ``batch`` durably; raises OSError when the disk fails (the caller then answers 503).

        ``held``: the caller inserts the batch itself next, so draining skips it until ``release``.
        """
        record = self.encode(batch) if record is None else record
        with self._lock:
            final = self.directory / f"{next(self._sequence):016d}-{batch.token}{_SUFFIX}"
            if held:
                self._held.add(final)
        temporary = final.with_suffix(".tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(record)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except OSError:
            with self._lock:
                self._held.discard(final)
            temporary.unlink(missing_ok=True)  # ENOSPC and friends: a torn temporary helps nobody
            raise
        self._fsync_directory()
        with self._lock:
            self._bytes += len(record)
        return final

    def read(self, path: Path) -> Batch | None:
        """The batch in ``path``; None when it is gone, or (moved to ``corrupt/``) fails its checksum."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # inserted and removed by the writer since it was listed
            return None
        magic, payload = data[:4], data[8:]
        if magic not in (_MAGIC, _MAGIC_PACKED) or zlib.crc32(payload).to_bytes(4, "big") != data[4:8]:
            return self._quarantine(path, len(data))
        try:
            token, calls, drops, stats, *rest = marshal.loads(payload)  # our own checksummed file
            # Records written before call_keys existed have four parts (their calls leave no keys), and
            # before content capture five.
            keys = rest[0] if rest else []
            captures = rest[1] if len(rest) > 1 else []
            if magic == _MAGIC_PACKED:  # rebuilt here, in the order the first insert sent them
                packed = Batch(token, calls, drops, stats, packed_calls=rest[2], packed_count=rest[3])
                calls = packed.call_rows()
                if len(calls) != packed.call_count:
                    raise ValueError("the packed call rows do not add up to their count")
        except (ValueError, EOFError, TypeError, IndexError):
            return self._quarantine(path, len(data))
        return Batch(token=token, calls=calls, drops=drops, stats=stats, keys=keys, captures=captures)

    def keep_refused(self, refused: Refused) -> Path:
        """Keep rows ClickHouse refused on their own where a person can look at them (never re-sent)."""
        folder = self.directory / "refused"
        folder.mkdir(exist_ok=True)
        path = folder / f"{time.time_ns()}-{refused.table}.marshal"
        path.write_bytes(marshal.dumps((refused.table, refused.error, [list(row) for row in refused.rows])))
        return path

    def release(self, path: Path) -> None:
        """Hand a held record over to draining."""
        with self._lock:
            self._held.discard(path)

    def remove(self, path: Path) -> None:
        """Forget a record once its batch is in ClickHouse."""
        with self._lock:  # one step for readers: the record and its bytes go together
            self._held.discard(path)
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:  # the drainer and the writer both finished it: counted once
                return
            self._bytes -= size
        self._fsync_directory()

    def _quarantine(self, path: Path, size: int) -> Batch | None:
        corrupt = self.directory / "corrupt"
        corrupt.mkdir(exist_ok=True)
        os.replace(path, corrupt / path.name)
        with self._lock:
            self._bytes -= size
            self.corrupt_records += 1
        log.error("spool record %s failed its checksum; moved to %s", path.name, corrupt)
        if self.on_corrupt is not None:
            self.on_corrupt(path.name)
        return None

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
