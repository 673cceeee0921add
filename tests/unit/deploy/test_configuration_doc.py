"""docs/configuration.md lists every TIERMIX_* variable the code reads, and nothing else."""

from __future__ import annotations

import re

from compose_model import REPO

from tiermix_server.settings import Settings

DOC = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", DOC, re.MULTILINE | re.DOTALL)
    assert match is not None, f"no '## {title}' section"
    return match.group(1)


def table_variables(text: str) -> set[str]:
    rows = [line for line in text.splitlines() if line.startswith("| `TIERMIX_")]
    return {name for row in rows for name in re.findall(r"`(TIERMIX_[A-Z0-9_]+)`", row.split("|")[1])}


def read_by(path: str) -> set[str]:
    return set(re.findall(r"\bTIERMIX_[A-Z][A-Z0-9_]*\b", (REPO / path).read_text(encoding="utf-8")))


def test_every_server_setting_has_a_row_and_every_row_is_a_setting() -> None:
    fields = {f"TIERMIX_{name.upper()}" for name in Settings.model_fields}
    assert table_variables(section("Server")) == fields


def test_every_dashboard_variable_has_a_row() -> None:
    assert table_variables(section("Dashboard")) == read_by("dashboard/tiermix_dashboard/config.py")


def test_every_sdk_variable_has_a_row() -> None:
    assert table_variables(section(r"SDK \(in your application; see docs/sdk.md\)")) == read_by(
        "sdk/tiermix/_config.py"
    )


def test_server_defaults_in_the_table_match_the_code() -> None:
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(
            r"^\| `(TIERMIX_[A-Z0-9_]+)` \| `([^`]*)` \|", section("Server"), re.MULTILINE
        )
    }
    for name, field in Settings.model_fields.items():
        documented = rows.get(f"TIERMIX_{name.upper()}")
        if documented is None or documented.startswith(("./", "chdb", "sqlite", "http", "<")):
            continue  # derived defaults are described, not literal
        default = field.default
        expected = (
            str(default).lower()
            if isinstance(default, bool)
            else f"{default:g}"
            if isinstance(default, float)
            else str(default)
        )
        assert documented == expected, name
