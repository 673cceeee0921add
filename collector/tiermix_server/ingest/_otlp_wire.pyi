# The compiled OTLP reader (_otlp_wire.c); decode.read_spans is its one caller.
from typing import Any

def flatten(
    body: bytes, kinds: dict[str, str], prefixes: tuple[str, ...], span_type: type[Any], /
) -> list[Any] | None: ...
