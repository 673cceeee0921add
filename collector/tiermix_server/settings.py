"""One settings object per server process.

Resolved as flag → ``TIERMIX_*`` environment variable → default, once, at the entry point (``cli.py``)
and passed down; nothing below the entry point reads ``os.environ``. Validation happens here so a bad
value stops the process with one clear line (see ``SettingsError``) instead of a traceback deep inside
a storage driver.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tiermix_server.errors import SettingsError

_CLICKHOUSE_SCHEMES = ("chdb", "http", "https", "clickhouse", "clickhouses")


class Settings(BaseSettings):
    """Everything a tiermix server process needs to know about its environment."""

    model_config = SettingsConfigDict(env_prefix="TIERMIX_", extra="ignore", validate_default=True)

    data_dir: Path = Field(Path(".tiermix"), description="where embedded data (chDB, SQLite, spool) lives")
    clickhouse_url: str = Field("", description="ClickHouse DSN; default chdb:///<data_dir>/clickhouse")
    clickhouse_database: str = Field("tiermix", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # An identifier, checked like the database name: it is written into DDL (ON CLUSTER, Distributed()).
    clickhouse_cluster: str = Field(
        "",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$",
        description="cluster name for ON CLUSTER migrations; empty: none",
    )
    database_url: str = Field("", description="metadata DB URL; default sqlite:///<data_dir>/tiermix.db")

    host: str = "127.0.0.1"
    port: int = Field(4318, ge=0, le=65535)
    dashboard_port: int = Field(8501, ge=0, le=65535)
    api_url: str = Field("", description="query API the dashboard reads; default http://<host>:<port>")
    dashboard_url: str = Field("", description="public dashboard address used in alert links")
    insecure: bool = Field(False, description="allow a non-loopback listener without API keys")

    raw_ttl_days: int = Field(90, ge=1, description="how long per-call rows are kept")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="OTLP body limit after decompression")
    spool_dir: Path | None = Field(None, description="collector spool; default <data_dir>/spool")
    spool_max_bytes: int = Field(2 * 1024**3, ge=1024**2)
    queue_max_requests: int = Field(256, ge=1)
    queue_max_bytes: int = Field(256 * 1024**2, ge=1024**2)
    queue_share: float = Field(
        0.5, gt=0, le=1, description="the most of the ingest queue one API key (or client) may hold"
    )
    body_timeout_s: float = Field(30.0, gt=0, description="a request body not read in full by then gets 408")
    decode_workers: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = Field(
        "auto",
        description="processes that decode OTLP bodies beside the event loop; auto: one per core (none "
        "on one core); 0: decode on the event loop only",
    )
    decode_inline_max_bytes: int = Field(
        16 * 1024,
        ge=0,
        description="a body up to this size (as received) is decoded on the event loop: for a few spans "
        "the hand-off to a worker costs more than the work",
    )
    compiled_decode: bool = Field(
        True,
        description="read protobuf bodies with the compiled reader when the install built it (the same "
        "spans as the Python one, a fraction of its CPU); false: the Python reader only",
    )
    batch_max_rows: int = Field(50_000, ge=1)
    batch_max_delay_s: float = Field(0.5, gt=0)
    batch_min_delay_s: float = Field(
        0.25,
        ge=0,
        description="a batch whose senders all wait for it still waits this long from its first request "
        "(at most batch_max_delay_s), so other senders' requests share its insert",
    )
    replicas: Literal["one", "many"] = Field(
        "one",
        description="many: several collectors write this database, so every batch is checked for "
        "duplicates in ClickHouse (a retry may have reached another replica)",
    )
    recent_keys_max: int = Field(
        8_000_000,
        ge=1_000,
        description="call keys the collector remembers to tell re-sends and second instrumentations from "
        "new calls without asking ClickHouse (8 bytes each: the default is ~73 MiB)",
    )
    merge_window_s: float = Field(
        1.0, ge=0, description="how long a call another span may still join waits before it is written"
    )
    capture_ttl_days: int = Field(
        14, ge=1, le=365, description="how long captured content (replay_captures, replay_samples) is kept"
    )
    capture_max_bytes: int = Field(
        256 * 1024 * 1024,
        ge=0,
        description="captured content kept per tenant at most; past it, calls are not captured",
    )
    capture_redact: str = Field(
        "",
        description="module:function (str -> str) applied to captured content before it is written; "
        "default: e-mail addresses and API-key-looking strings",
    )
    bills_sync_interval_s: float = Field(
        6 * 3600.0,
        ge=0,
        description="seconds between syncs of the providers' bills (docs/reconciliation.md); 0: on demand",
    )
    replay_python_judges: str = Field(
        "",
        description="comma-separated modules whose functions replay runs may use as python judges "
        "(none by default: an admin key must not import arbitrary code)",
    )

    @property
    def python_judge_modules(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.replay_python_judges.split(",") if part.strip())

    ignore_scopes: str = Field(
        "",
        description="comma-separated instrumentation scopes whose spans are skipped at ingest "
        "(e.g. com.anthropic.sdk.python when another instrumentation reports the same calls)",
    )
    channel_allow: str = Field(
        "",
        description="networks and host names every alert channel may reach, comma-separated "
        "(tenant-scoped rules may not reach private or loopback addresses otherwise)",
    )
    alerts_enabled: bool = True
    alerts_interval_s: float = Field(30.0, gt=0)

    @property
    def ignored_scopes(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.ignore_scopes.split(",") if part.strip())

    @field_validator("clickhouse_url")
    @classmethod
    def _clickhouse_url_is_a_dsn(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in _CLICKHOUSE_SCHEMES:
            raise ValueError(
                f"{value!r} is not a ClickHouse URL: use chdb:///<dir>, chdb://memory or http://host:8123"
            )
        if parts.scheme != "chdb" and not parts.hostname:
            raise ValueError(f"{value!r} has no host")
        try:
            parts.port  # noqa: B018 - urlsplit validates the port lazily
        except ValueError as exc:
            raise ValueError(f"{value!r} has an invalid port") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_is_sqlalchemy(cls, value: str) -> str:
        if value and not urlsplit(value).scheme.startswith(("sqlite", "postgresql")):
            raise ValueError(f"{value!r} is not a SQLite or PostgreSQL URL")
        return value

    @model_validator(mode="after")
    def _fill_defaults_from_data_dir(self) -> Settings:
        data_dir = self.data_dir.expanduser().absolute()
        self.data_dir = data_dir
        if not self.clickhouse_url:
            self.clickhouse_url = f"chdb://{data_dir / 'clickhouse'}"
        if not self.database_url:
            self.database_url = f"sqlite:///{data_dir / 'tiermix.db'}"
        if self.spool_dir is None:
            self.spool_dir = data_dir / "spool"
        if not self.api_url:
            api_host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
            self.api_url = f"http://{api_host}:{self.port}"
        if not self.dashboard_url:
            self.dashboard_url = f"http://127.0.0.1:{self.dashboard_port}"
        return self

    @property
    def embedded(self) -> bool:
        """True when ClickHouse runs in this process (chDB): one process owns the data dir."""
        return self.clickhouse_url.startswith("chdb:")

    @property
    def listens_on_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus explicit overrides (flags); ``None`` means not given."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        env_name = f"TIERMIX_{field.upper()}" if first["loc"] else "settings"
        raise SettingsError(f"invalid setting {env_name}: {first['msg']}") from None
