"""docker-compose.yml must match the code: services, commands, ports, variables, health and ordering.

No Docker engine runs here, so the file is checked against what it drives: the CLI parser
(``build_parser``), the server ``Settings`` fields, the dashboard's and SDK's own variables, the
collector's routes and the Dockerfile. tests/integration/deploy runs the same services as processes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from compose_model import (
    COMPOSE_FILE,
    REPO,
    TIERMIX_SERVICES,
    environment,
    interpolated_names,
    load,
    services,
)

from tiermix_server.cli import build_parser
from tiermix_server.settings import Settings, load_settings

TEST_ENV = {
    "CLICKHOUSE_PASSWORD": "chpw",
    "POSTGRES_PASSWORD": "pgpw",
    "OTELCOL_INGEST_KEY": "tmx_ingest",
    "DASHBOARD_API_KEY": "tmx_read",
}
SERVER_VARIABLES = {f"TIERMIX_{name.upper()}" for name in Settings.model_fields}


def source_variables(path: str) -> set[str]:
    """``TIERMIX_*`` names a module reads (the dashboard's config, the SDK's config)."""
    return set(re.findall(r"\bTIERMIX_[A-Z][A-Z0-9_]*\b", (REPO / path).read_text(encoding="utf-8")))


CLIENT_VARIABLES = source_variables("dashboard/tiermix_dashboard/config.py") | source_variables(
    "sdk/tiermix/_config.py"
)


def published(service: dict, container_port: int) -> int:
    for mapping in service.get("ports", []):
        host, _, container = str(mapping).rpartition(":")
        if int(container) == container_port:
            return int(host)
    raise AssertionError(f"port {container_port} is not published")


def test_the_single_host_shape_has_every_service_and_the_otel_collector_is_optional() -> None:
    found = services()
    assert set(found) == {"clickhouse", "postgres", "migrate", "collector", "dashboard", "otelcol"}
    assert found["otelcol"].get("profiles") == ["otelcol"]
    assert all("profiles" not in found[name] for name in found if name != "otelcol")
    assert found["migrate"]["restart"] == "no"


@pytest.mark.parametrize("name", TIERMIX_SERVICES)
def test_each_tiermix_service_runs_a_real_cli_command_from_the_image_built_here(name: str) -> None:
    service = services()[name]
    command = service["command"]
    assert command[0] == "tiermix"
    args = build_parser().parse_args(command[1:])
    assert args.command == name
    assert service["build"] == "."
    assert (REPO / "Dockerfile").exists()


def test_every_tiermix_variable_is_a_setting_or_a_documented_client_variable() -> None:
    for name, service in services().items():
        for variable in environment(service, TEST_ENV):
            if variable.startswith("TIERMIX_"):
                allowed = (
                    SERVER_VARIABLES
                    if name in ("migrate", "collector")
                    else SERVER_VARIABLES | CLIENT_VARIABLES
                )
                assert variable in allowed, f"{name}: {variable} is not read by anything"
    # Host-side ${TIERMIX_*} substitutions must name settings too; other host variables must not look
    # like tiermix settings.
    for variable in interpolated_names(COMPOSE_FILE.read_text(encoding="utf-8")):
        if variable.startswith("TIERMIX_"):
            assert variable in SERVER_VARIABLES, variable


@pytest.mark.parametrize("name", ["migrate", "collector"])
def test_server_environment_builds_valid_settings_for_clickhouse_and_postgres(name: str) -> None:
    env = environment(services()[name], TEST_ENV)
    values = {key.removeprefix("TIERMIX_").lower(): value for key, value in env.items()}
    settings = load_settings(**values)
    clickhouse = urlsplit(settings.clickhouse_url)
    assert (clickhouse.scheme, clickhouse.hostname, clickhouse.port) == ("http", "clickhouse", 8123)
    assert clickhouse.password == TEST_ENV["CLICKHOUSE_PASSWORD"]
    database = urlsplit(settings.database_url)
    assert database.scheme.startswith("postgresql") and (database.hostname, database.port) == (
        "postgres",
        5432,
    )
    assert database.password == TEST_ENV["POSTGRES_PASSWORD"]
    assert not settings.embedded


def test_collector_listens_on_the_published_otlp_port_and_checks_readiness() -> None:
    collector = services()["collector"]
    settings = load_settings(**{
        k.removeprefix("TIERMIX_").lower(): v for k, v in environment(collector, TEST_ENV).items()
    })  # fmt: skip
    assert settings.host == "0.0.0.0" and not settings.insecure  # non-loopback: keys are required
    assert settings.port == Settings.model_fields["port"].default == 4318
    assert published(collector, settings.port) == 4318
    probe = " ".join(collector["healthcheck"]["test"])
    # /healthz: the one route open without a key once keys exist (the container probe has none).
    assert f"http://127.0.0.1:{settings.port}/healthz" in probe
    from tiermix_server.api.ops import ops_routes

    assert "/healthz" in {route.path for route in ops_routes()}
    spool_volume = {str(v).split(":")[1] for v in collector["volumes"]}
    assert str(settings.data_dir) in spool_volume  # the spool survives a container restart


def test_dashboard_reads_the_collector_api_and_publishes_its_port() -> None:
    dashboard = services()["dashboard"]
    env = environment(dashboard, TEST_ENV)
    api = urlsplit(env["TIERMIX_API_URL"])
    assert (api.hostname, api.port) == ("collector", Settings.model_fields["port"].default)
    port = int(env["TIERMIX_DASHBOARD_PORT"])
    assert port == Settings.model_fields["dashboard_port"].default == 8501
    assert published(dashboard, port) == port
    assert f"127.0.0.1:{port}/_stcore/health" in " ".join(dashboard["healthcheck"]["test"])
    args = build_parser().parse_args(dashboard["command"][1:])
    assert args.host == "0.0.0.0"
    assert env["TIERMIX_API_KEY"] == TEST_ENV["DASHBOARD_API_KEY"]


def test_start_order_is_storage_then_migrate_then_collector_then_dashboard() -> None:
    found = services()
    assert found["migrate"]["depends_on"] == {
        "clickhouse": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert found["collector"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert found["dashboard"]["depends_on"] == {"collector": {"condition": "service_healthy"}}
    for name in ("clickhouse", "postgres", "collector", "dashboard"):
        assert found[name]["healthcheck"]["test"], name


def test_storage_keeps_its_data_in_named_volumes() -> None:
    data = load()
    declared = set(data["volumes"])
    used = {str(v).split(":")[0] for s in data["services"].values() for v in s.get("volumes", [])}
    assert {v for v in used if not v.startswith(".")} == declared
    assert any(str(v).endswith(":/var/lib/clickhouse") for v in data["services"]["clickhouse"]["volumes"])
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in data["services"]["postgres"]["volumes"])


def test_secrets_come_from_the_environment_never_from_the_file() -> None:
    with pytest.raises(KeyError, match="CLICKHOUSE_PASSWORD"):
        environment(services()["collector"], {})
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "tmx_" not in text
    example = (REPO / "deploy" / "env.example").read_text(encoding="utf-8")
    needed = {v for v in interpolated_names(text) if re.search(rf"\$\{{{v}:\?", text)}
    assert needed <= set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))


def test_dockerfile_exposes_the_ports_the_settings_default_to() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    exposed = {
        int(p) for line in dockerfile.splitlines() if line.startswith("EXPOSE") for p in line.split()[1:]
    }
    assert {Settings.model_fields["port"].default, Settings.model_fields["dashboard_port"].default} <= exposed
    command = re.search(r"^CMD \[(.*)\]", dockerfile, re.MULTILINE)
    assert command is not None
    argv = [part.strip().strip('"') for part in command.group(1).split(",")]
    assert argv[0] == "tiermix" and build_parser().parse_args(argv[1:]).command == "collector"


def test_the_otel_collector_forwards_to_the_tiermix_collector_with_an_ingest_key() -> None:
    import yaml

    otelcol = services()["otelcol"]
    mount = next(v for v in otelcol["volumes"] if str(v).startswith("./deploy/otelcol.yaml:"))
    config_path = mount.split(":")[1]
    assert any(arg == f"--config={config_path}" for arg in otelcol["command"])
    config = yaml.safe_load((REPO / "deploy" / "otelcol.yaml").read_text(encoding="utf-8"))
    exporter = config["exporters"]["otlphttp/tiermix"]
    target = urlsplit(exporter["endpoint"])
    assert (target.hostname, target.port) == ("collector", Settings.model_fields["port"].default)
    header = exporter["headers"]["Authorization"]
    variable = re.search(r"\$\{env:([A-Z_]+)\}", header)
    assert variable is not None and variable.group(1) in environment(otelcol, TEST_ENV)
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlphttp/tiermix"]
    queue_dir = config["extensions"]["file_storage/queue"]["directory"]
    assert any(str(v).endswith(f":{queue_dir}") for v in otelcol["volumes"])  # the queue survives restarts
