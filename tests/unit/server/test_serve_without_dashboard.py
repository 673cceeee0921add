"""A server installed without its dashboard extra says what to install instead of a ModuleNotFoundError."""

from __future__ import annotations

import pytest

from tiermix_server import cli
from tiermix_server.commands import serve


def test_tiermix_dashboard_without_the_package_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(serve, "dashboard_installed", lambda: False)
    assert cli.main(["dashboard"]) == 2
    assert 'pip install "tiermix-server[dashboard]"' in capsys.readouterr().err


def test_the_dashboard_is_found_when_installed() -> None:
    assert serve.dashboard_installed()
