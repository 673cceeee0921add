"""On-disk spool of export batches that could not be delivered.

One file per batch holding the exact gzip'ed request body, written to a temporary name, fsync'ed and
renamed, so a file that exists is complete. Files are resent oldest first and deleted once the
collector accepted them. The directory is bounded by a byte budget; past it a batch is dropped and
counted (``spool_full``). Several processes may share a directory: a sender claims a file by renaming
it to a name carrying its pid, and claims of dead processes are taken back.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time

SUFFIX = ".otlp.gz"
_CLAIM = ".claim-"


class Spool:
    def __init__(self, directory: str, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        os.makedirs(directory, exist_ok=True)
        self._seq = itertools.count()
        self._release_dead_claims()

    def _paths(self) -> list[str]:
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        return [os.path.join(self.directory, n) for n in names]

    def used_bytes(self) -> int:
        total = 0
        for path in self._paths():
            try:
                total += os.path.getsize(path)
            except OSError:
                continue  # claimed or deleted by another process meanwhile
        return total

    def write(self, body: bytes) -> bool:
        """Store ``body`` durably; ``False`` when the byte budget does not allow it."""
        if self.used_bytes() + len(body) > self.max_bytes:
            return False
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}{SUFFIX}"
        final = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, "." + name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        self._fsync_dir()
        return True

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass  # some filesystems refuse fsync on directories; the file itself is synced
        finally:
            os.close(fd)

    def pending(self) -> list[str]:
        """Unclaimed complete batches, oldest first."""
        return sorted(p for p in self._paths() if p.endswith(SUFFIX) and _CLAIM not in os.path.basename(p))

    def claim(self, path: str) -> str | None:
        claimed = f"{path}{_CLAIM}{os.getpid()}"
        try:
            os.rename(path, claimed)
        except OSError:
            return None  # another process took it
        return claimed

    def read(self, claimed: str) -> bytes:
        with open(claimed, "rb") as fh:
            return fh.read()

    def done(self, claimed: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(claimed)

    def unclaim(self, claimed: str) -> None:
        with contextlib.suppress(OSError):
            os.rename(claimed, claimed.split(_CLAIM, 1)[0])

    def _release_dead_claims(self) -> None:
        for path in self._paths():
            base, sep, pid = path.rpartition(_CLAIM)
            if not sep or not pid.isdigit():
                continue
            if int(pid) == os.getpid() or not _alive(int(pid)):
                try:
                    os.rename(path, base)
                except OSError:
                    continue


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
