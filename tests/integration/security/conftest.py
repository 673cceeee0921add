"""The metadata-DB fixtures of ``tests/integration/meta`` (SQLite and PostgreSQL), for the fuzzer."""

from tests.integration.meta.conftest import fresh_postgres, meta_settings

__all__ = ["fresh_postgres", "meta_settings"]
