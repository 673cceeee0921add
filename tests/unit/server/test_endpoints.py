"""Every HTTP route is declared one way (api/endpoint.py), in api/, with a scope: none is open by accident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tiermix_server.api.endpoint import PUBLIC, Endpoint
from tiermix_server.app import create_app
from tiermix_server.settings import load_settings

# The one route anyone may call whatever the keys: a liveness probe has no key (docs/security.md).
OPEN = {"/healthz"}
INGEST = {"/v1/traces", "/v1/metrics", "/v1/logs"}


@pytest.fixture()
def routes(tmp_path: Path) -> list[Any]:
    return list(create_app(load_settings(data_dir=tmp_path)).routes)


def test_every_route_is_declared_with_endpoint_and_a_scope(routes: list[Any]) -> None:
    undeclared = [route.path for route in routes if not isinstance(route, Endpoint)]
    assert undeclared == []
    assert len(routes) > 30


def test_only_healthz_is_public_and_only_otlp_takes_the_ingest_scope(routes: list[Any]) -> None:
    by_scope: dict[str, set[str]] = {}
    for route in routes:
        by_scope.setdefault(route.scope, set()).add(route.path)
    assert by_scope[PUBLIC] == OPEN
    assert by_scope["ingest"] == INGEST
    assert set(by_scope) == {PUBLIC, "ingest", "read", "admin"}


def test_every_change_needs_an_admin_key(routes: list[Any]) -> None:
    writes = [
        (route.path, route.scope)
        for route in routes
        if route.methods and route.methods & {"POST", "PUT", "PATCH", "DELETE"} and route.path not in INGEST
    ]
    assert writes and all(scope == "admin" for _, scope in writes), writes


def test_every_handler_lives_under_api(routes: list[Any]) -> None:
    modules = {route.handler.__module__ for route in routes}
    assert all(module.startswith("tiermix_server.api.") for module in modules), modules
