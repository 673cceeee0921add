"""Only what pyproject.toml cannot say: the version from the one VERSION file, exact pins on the
SDK (the wire format) and the dashboard (the API it reads) of that same version, and the optional C
extensions that read OTLP bodies and hash call keys."""

from pathlib import Path

from setuptools import Extension, setup

VERSION = (Path(__file__).parent / "VERSION").read_text(encoding="utf-8").strip()

setup(
    version=VERSION,
    install_requires=[
        f"tiermix=={VERSION}",
        # OTLP decoding (ingest/decode.py, receive.py); the SDK writes its bytes without them
        "opentelemetry-proto>=1.27",
        "protobuf>=4.25",
        "clickhouse-connect>=0.8",
        "chdb>=3.0",
        "starlette>=0.40",
        "uvicorn>=0.30",
        "pydantic>=2.6",
        "pydantic-settings>=2.3",
        "sqlalchemy>=2.0",
        "alembic>=1.13",
        "genai-prices>=0.0.30",
        "httpx>=0.27",
        "psycopg[binary]>=3.1",
        # shadow replay: candidates and LLM judges through the providers' own clients; JSON-schema judge
        "openai>=1.40",
        "anthropic>=0.34",
        "jsonschema>=4.20",
        # the memory of recent call keys (ingest/recent.py): 8 bytes a key in sorted arrays, not ~70 in a set
        "numpy>=1.26",
    ],
    extras_require={"dashboard": [f"tiermix-dashboard=={VERSION}"]},
    # Reads OTLP protobuf bodies straight into spans (ingest/decode.py uses it when it is there).
    # Optional: without a C compiler the install still succeeds, and decode.flatten does the same work
    # in Python at ~3x its CPU per call (docs/performance.md).
    # Hashes the identity keys of each call (ingest/identity.py uses it when it is there; hashlib when not).
    ext_modules=[
        Extension(
            "tiermix_server.ingest._otlp_wire",
            ["tiermix_server/ingest/_otlp_wire.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        Extension(
            "tiermix_server.ingest._call_key",
            ["tiermix_server/ingest/_call_key.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ],
)
