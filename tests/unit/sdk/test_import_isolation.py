"""Importing the SDK must not pull in anything server-side or any provider library."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FORBIDDEN = (
    "clickhouse_connect",
    "chdb",
    "streamlit",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "opentelemetry.sdk",
    "opentelemetry.trace",
    "openai",
    "anthropic",
    "tiermix_server",
    "tiermix_dashboard",
    "pydantic",
    "requests",
    "httpx",
)


def test_import_tiermix_loads_no_server_or_provider_module() -> None:
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import tiermix; "
        "tiermix.observe(lambda: None)(); tiermix.flush(0.1); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {**os.environ, "TIERMIX_ENDPOINT": "http://127.0.0.1:9", "TIERMIX_DISABLED": ""}
    out = subprocess.run(
        [sys.executable, "-c", code, os.path.join(ROOT, "sdk")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    leaked = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert leaked == []
    assert "tiermix" in loaded


def test_import_tiermix_does_not_load_protobuf() -> None:
    # protobuf and the OTLP classes cost ~40 ms; the export worker loads them at its first export.
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import tiermix; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, os.path.join(ROOT, "sdk")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "tiermix" in loaded
    assert [m for m in loaded if m.startswith(("google.protobuf", "opentelemetry.proto"))] == []
