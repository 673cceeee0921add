"""Reading docker-compose.yml the way Compose does, for the deploy tests (no Docker engine here).

``services()`` resolves YAML merge keys (pyyaml does) and ``interpolate`` applies Compose's ``${VAR}``,
``${VAR:-default}`` and ``${VAR:?error}`` forms against a given environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.yml"
TIERMIX_SERVICES = ("migrate", "collector", "dashboard")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-|:?\?)([^}]*))?\}")


def load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return load()["services"]


def interpolate(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, form, argument = match.group(1), match.group(2), match.group(3)
        given = env.get(name)
        if form in (":-", "-"):
            return given if given else (argument or "")
        if form in (":?", "?"):
            if not given:
                raise KeyError(f"{name} is required: {argument}")
            return given
        return given or ""

    return _INTERPOLATION.sub(replace, value)


def interpolated_names(text: str) -> set[str]:
    return {match.group(1) for match in _INTERPOLATION.finditer(text)}


def environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): interpolate(str(v), env) for k, v in raw.items()}
