"""Settings: flags over environment over defaults, validated with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiermix_server.errors import SettingsError
from tiermix_server.settings import load_settings


def test_defaults_put_embedded_storage_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.clickhouse_url == f"chdb://{tmp_path / 'clickhouse'}"
    assert settings.database_url == f"sqlite:///{tmp_path / 'tiermix.db'}"
    assert settings.spool_dir == tmp_path / "spool"
    assert settings.embedded and settings.listens_on_loopback
    assert (settings.port, settings.dashboard_port) == (4318, 8501)


def test_environment_variables_are_read_and_flags_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERMIX_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("TIERMIX_PORT", "5000")
    monkeypatch.setenv("TIERMIX_CLICKHOUSE_URL", "http://ch.internal:8123")
    settings = load_settings(port=6000)
    assert settings.data_dir == tmp_path / "from-env"
    assert settings.port == 6000
    assert settings.clickhouse_url == "http://ch.internal:8123"
    assert not settings.embedded


def test_flags_given_as_none_fall_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERMIX_PORT", "5001")
    assert load_settings(port=None).port == 5001


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("clickhouse_url", "mysql://db:3306", "TIERMIX_CLICKHOUSE_URL"),
        ("clickhouse_url", "http://:8123", "has no host"),
        ("clickhouse_url", "http://ch:notaport", "invalid port"),
        ("database_url", "oracle://x", "TIERMIX_DATABASE_URL"),
        ("port", "70000", "TIERMIX_PORT"),
        ("clickhouse_database", "drop table;", "TIERMIX_CLICKHOUSE_DATABASE"),
        ("clickhouse_cluster", "c ON CLUSTER x; DROP TABLE llm_calls", "TIERMIX_CLICKHOUSE_CLUSTER"),
        ("clickhouse_cluster", "two words", "TIERMIX_CLICKHOUSE_CLUSTER"),
        ("replicas", "several", "TIERMIX_REPLICAS"),
        ("merge_window_s", "-1", "TIERMIX_MERGE_WINDOW_S"),
    ],
)
def test_bad_values_raise_one_line_errors_naming_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**{name: value})
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_non_loopback_host_is_detected() -> None:
    assert not load_settings(host="0.0.0.0").listens_on_loopback
    assert load_settings(host="::1").listens_on_loopback
    assert load_settings(host="localhost").listens_on_loopback
