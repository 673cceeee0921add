"""A decode worker's answer as bytes: ``Processed`` → ``marshal`` and back (``decode_pool.py``).

Each answer crosses the pipe from a worker once per request, a row and a set of keys per call. Left to
``ProcessPoolExecutor`` it is pickled, which pays per object for the memo and rebuilds each ``CallKeys``
through a class look-up. Everything a ``Processed`` holds is plain tuples, lists, dicts and scalars (a
span's values are what ``decode.any_value`` returns), which ``marshal`` writes and reads in C without
either: measured on the benchmark's requests, 1.5 against 2.9 µs a call to write in the worker and
1.2 against 1.7 µs to read in the collector, for a fifth more bytes through the pipe (docs/performance.md).
The executor then pickles one ``bytes``. Both ends are the same interpreter, the one condition
``marshal`` sets on its format.

The call rows and their sources are packed apart, and stay packed in the collector until something
needs a row (``processed.py``): the batch's insert reads them straight from these bytes, and the spool's
record holds them as they are.
"""

from __future__ import annotations

import marshal
from collections import Counter

from tiermix_server.ingest.identity import CallKeys
from tiermix_server.ingest.processed import Processed


def pack(processed: Processed) -> bytes:
    """``processed`` as bytes; raises ``ValueError`` if it holds a value ``marshal`` cannot write."""
    return marshal.dumps(
        (
            marshal.dumps(processed.calls),
            marshal.dumps(processed.scopes),
            processed.starts(),
            processed.drops,
            [tuple(keys) for keys in processed.keys],
            processed.captures,
            processed.contents,
            dict(processed.outcomes),
        )
    )


def unpack(data: bytes) -> Processed:
    calls, scopes, starts, drops, keys, captures, contents, outcomes = marshal.loads(data)
    return Processed.with_packed_calls(
        calls,
        scopes,
        starts,
        drops=drops,
        keys=list(map(CallKeys._make, keys)),
        captures=captures,
        contents=contents,
        outcomes=Counter(outcomes),
    )
