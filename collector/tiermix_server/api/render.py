"""JSON and CSV responses for the query API.

Times render as ISO-8601 timezone.utc with a ``Z`` (microseconds only when present); floats as they are;
``None`` as JSON ``null`` / an empty CSV cell. CSV holds one list of flat rows (``rows`` by default, or
the whole object as one row); list- or dict-valued cells are JSON-encoded so nothing is lost.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timezone
from typing import Any

from starlette.responses import Response

FORMATS = ("json", "csv")


def iso(value: datetime) -> str:
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return value.strftime(pattern)


def plain(value: Any) -> Any:
    """JSON-ready: datetimes to text, non-finite floats to None, containers recursively."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [plain(v) for v in items]
    return value


def json_response(payload: Any, status_code: int = 200) -> Response:
    body = json.dumps(plain(payload), separators=(",", ":"), allow_nan=False)
    return Response(body, status_code=status_code, media_type="application/json")


def csv_text(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(plain(row.get(column))) for column in columns])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def respond(
    payload: dict[str, Any], fmt: str, *, csv_rows: list[dict[str, Any]] | None = None, name: str = "tiermix"
) -> Response:
    """``payload`` as JSON, or as CSV of ``csv_rows`` (default: ``payload["rows"]``, else the object)."""
    if fmt == "json":
        return json_response(payload)
    if csv_rows is None:
        csv_rows = payload["rows"] if isinstance(payload.get("rows"), list) else [payload]
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return Response(csv_text(csv_rows), media_type="text/csv; charset=utf-8", headers=headers)
