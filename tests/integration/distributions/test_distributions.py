"""The three distributions, as users install them: built into wheels, installed into fresh venvs.

The SDK is what an application team adds to its own environment, so its wheel must pull none of the
server's dependencies and must not claim the ``tiermix`` command. The server and dashboard wheels are
checked by their metadata here; scripts/test.sh installs them from wheels in CI and the whole suite
runs against that install.
"""

from __future__ import annotations

import email
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.fakes.otlp_sink import OtlpSink

REPO = Path(__file__).resolve().parents[3]
VERSION = (REPO / "sdk" / "tiermix" / "VERSION").read_text(encoding="utf-8").strip()
SERVER_ONLY = {"clickhouse-connect", "chdb", "streamlit", "pandas", "sqlalchemy", "pydantic", "starlette",
               "uvicorn", "alembic", "plotly", "genai-prices", "psycopg"}  # fmt: skip


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out),
         str(REPO / "sdk"), str(REPO / "collector"), str(REPO / "dashboard")],
        check=True,
    )  # fmt: skip
    found = {path.name.split("-")[0]: path for path in out.glob("*.whl")}
    assert set(found) == {"tiermix", "tiermix_server", "tiermix_dashboard"}, found
    return found


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def requirement_names(wheel: Path, *, with_extras: bool = False) -> set[str]:
    names = set()
    for requirement in metadata(wheel).get_all("Requires-Dist") or []:
        if "extra ==" in requirement and not with_extras:
            continue
        names.add(requirement.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip())
    return names


def test_all_three_carry_the_one_version(wheels: dict[str, Path]) -> None:
    assert {metadata(wheel)["Version"] for wheel in wheels.values()} == {VERSION}
    server_requires = metadata(wheels["tiermix_server"]).get_all("Requires-Dist") or []
    assert f"tiermix=={VERSION}" in server_requires
    assert any(r.startswith(f"tiermix-dashboard=={VERSION}") for r in server_requires)


def test_the_sdk_wheel_declares_no_server_dependency_and_no_command(wheels: dict[str, Path]) -> None:
    sdk = wheels["tiermix"]
    assert requirement_names(sdk) == set(), "the SDK writes OTLP itself: no runtime dependency"
    assert not requirement_names(sdk, with_extras=True) & SERVER_ONLY
    with zipfile.ZipFile(sdk) as archive:
        assert not [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        assert all(n.startswith(("tiermix/", "tiermix-")) for n in archive.namelist())


def test_the_server_wheel_ships_migrations_and_the_command_but_not_the_dashboard(
    wheels: dict[str, Path],
) -> None:
    server = wheels["tiermix_server"]
    assert not requirement_names(server) & {"streamlit", "pandas", "plotly"}
    # it decodes OTLP with the protobuf classes, which the SDK no longer pulls in for it
    assert {"opentelemetry-proto", "protobuf"} <= requirement_names(server)
    with zipfile.ZipFile(server) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "tiermix = tiermix_server.cli:main" in entry_points
    assert any(n.startswith("tiermix_migrations/clickhouse/") and n.endswith(".sql") for n in names)
    assert any(n.startswith("tiermix_migrations/metadata/versions/") for n in names)
    assert "tiermix_server/pricing/default_tiers.toml" in names
    assert not [n for n in names if n.startswith(("tiermix/", "tiermix_dashboard/"))]


def test_the_dashboard_wheel_contains_no_server_code(wheels: dict[str, Path]) -> None:
    dashboard = wheels["tiermix_dashboard"]
    assert "tiermix-server" not in requirement_names(dashboard)
    with zipfile.ZipFile(dashboard) as archive:
        assert all(n.startswith(("tiermix_dashboard/", "tiermix_dashboard-")) for n in archive.namelist())


def test_installing_the_sdk_wheel_in_a_fresh_venv_pulls_nothing_of_the_server(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheels["tiermix"])], check=True)
    installed = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'].lower() "
         "for d in m.distributions()))"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert set(installed) - {"pip", "setuptools"} == {"tiermix"}, installed

    # Recorded in the bare venv (no protobuf anywhere), delivered to a real OTLP receiver, decoded there
    # by the protobuf classes.
    with OtlpSink() as sink:
        used = subprocess.run(
            [str(python), "-c", f"import tiermix\ntiermix.init(service='s', endpoint='{sink.endpoint}')\n"
             "with tiermix.call(model='gpt-4o-mini', provider='openai') as c:\n"
             "    c.set_usage(input_tokens=12, output_tokens=3)\n"
             "assert tiermix.flush(10)\n"
             "import sys\nassert 'google.protobuf' not in sys.modules\n"
             "print(tiermix.__version__)"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        [span] = sink.wait_for_spans(1)
    assert used.stdout.strip() == VERSION
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        12,
        3,
    )
    assert span.resource["service.name"] == "s"
    assert not (env / "bin" / "tiermix").exists()

    pointer = subprocess.run([str(python), "-m", "tiermix"], capture_output=True, text=True)
    assert pointer.returncode == 2
    assert "pip install" in pointer.stderr and "tiermix-server" in pointer.stderr
