"""docker-compose.yml's services, run here as the processes they are: migrate, key bootstrap, collector,
demo traffic, dashboard — with each service's own command and environment from the compose file.

Substitutions, and why: PostgreSQL is a throwaway local cluster instead of the postgres container; chDB
replaces the ClickHouse server (no usable server package here); listeners bind 127.0.0.1 on free ports
instead of 0.0.0.0:4318/8501 (the compose values are checked in tests/unit/deploy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from deploy_support import compose_model

from tests.conftest import free_port

pytestmark = pytest.mark.postgres

TEST_ENV = {"CLICKHOUSE_PASSWORD": "unused", "POSTGRES_PASSWORD": "unused", "DASHBOARD_API_KEY": ""}


def service_env(name: str, overrides: dict[str, str]) -> dict[str, str]:
    model = compose_model()
    env = model.environment(model.services()[name], TEST_ENV)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TIERMIX_", "OTEL_"))}
    return {**base, **env, **overrides}


def command(name: str) -> list[str]:
    argv = list(compose_model().services()[name]["command"])
    assert argv[0] == "tiermix"
    if "--host" in argv:
        argv[argv.index("--host") + 1] = "127.0.0.1"
    return [sys.executable, "-m", "tiermix_server.cli", *argv[1:]]


def tiermix(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180, check=False)


def http(url: str, key: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
            return response.status, json.loads(body) if body.startswith(b"{") else body
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def wait_for(url: str, process: subprocess.Popen[str], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        if http(url)[0] == 200:
            return
        time.sleep(0.2)
    raise TimeoutError(url)


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def test_compose_services_migrate_bootstrap_a_key_ingest_serve_and_show_the_dashboard(
    postgres_url: str, tmp_path: Path
) -> None:
    port = free_port()
    storage = {
        "TIERMIX_CLICKHOUSE_URL": f"chdb://{tmp_path / 'clickhouse'}",
        "TIERMIX_DATABASE_URL": postgres_url,
        "TIERMIX_DATA_DIR": str(tmp_path / "data"),
    }
    migrated = tiermix(command("migrate"), service_env("migrate", storage))
    assert migrated.returncode == 0, migrated.stderr
    assert "ClickHouse: applied" in migrated.stdout

    # The documented bootstrap (docs/deploy.md): the first key, from the migrate service's image and env.
    keys_cmd = [sys.executable, "-m", "tiermix_server.cli", "keys", "create", "--all-tenants"]
    admin = tiermix([*keys_cmd, "--scope", "admin"], service_env("migrate", storage))
    assert admin.returncode == 0, admin.stderr
    admin_key = admin.stdout.strip().splitlines()[-1]
    read_key = (
        tiermix([*keys_cmd, "--scope", "read"], service_env("migrate", storage))
        .stdout.strip()
        .splitlines()[-1]
    )

    collector_env = service_env(
        "collector", {**storage, "TIERMIX_HOST": "127.0.0.1", "TIERMIX_PORT": str(port)}
    )
    assert collector_env["TIERMIX_ALERTS_ENABLED"] == "true"
    collector = subprocess.Popen(command("collector"), env=collector_env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)  # fmt: skip
    dashboard: subprocess.Popen[str] | None = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", collector)  # the compose healthcheck's URL
        assert http(f"{base}/api/v1/summary")[0] == 401  # keys exist: the API is closed
        assert http(f"{base}/readyz")[0] == 401  # readiness details need a key too
        assert http(f"{base}/readyz", read_key)[0] == 200

        demo = tiermix(
            [sys.executable, "-m", "tiermix_server.cli", "demo", "--endpoint", base, "--backfill", "0.02",
             "--duration", "0", "--no-progress"],
            {**service_env("collector", {}), "TIERMIX_API_KEY": admin_key},
        )  # fmt: skip
        assert demo.returncode == 0, demo.stderr
        sent = int(demo.stdout.strip().splitlines()[-1].split("sent ")[1].split(" calls")[0].replace(",", ""))

        def stored() -> int:
            start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * 86400))
            status, body = http(f"{base}/api/v1/summary?start={start}", read_key)
            return body["calls"] if status == 200 else -1

        deadline = time.monotonic() + 30
        while stored() != sent and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stored() == sent > 0

        dashboard_port = free_port()
        dashboard_env = service_env(
            "dashboard",
            {
                "TIERMIX_API_URL": base,
                "TIERMIX_DASHBOARD_PORT": str(dashboard_port),
                "TIERMIX_API_KEY": read_key,
            },
        )
        dashboard = subprocess.Popen(command("dashboard"), env=dashboard_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)  # fmt: skip
        wait_for(f"http://127.0.0.1:{dashboard_port}/_stcore/health", dashboard)  # its healthcheck's URL
    finally:
        if dashboard is not None:
            stop(dashboard)
        stop(collector)
