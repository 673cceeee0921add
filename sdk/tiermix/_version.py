"""Package version, in one place (kept equal to pyproject.toml)."""

VERSION = "0.1.0"
