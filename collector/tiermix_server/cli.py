"""``tiermix``: the command line. Each subcommand lives in ``commands/<name>.py`` with ``register()``.

Settings are read once here (flags → ``TIERMIX_*`` → defaults) and passed down. Expected failures
(bad settings, a data dir in use, a failed migration) end the process with one line on stderr and exit
status 2 — a traceback is reserved for bugs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from tiermix_server.errors import TiermixError

# Order is the order of `tiermix --help`.
COMMAND_MODULES = (
    "serve",
    "migrate",
    "keys",
    "prices",
    "tiers",
    "alerts",
    "replay",
    "budgets",
    "bills",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiermix", description="tiermix: model mix as a production metric for LLM applications."
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"tiermix_server.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tiermix_server.commands.{name}":
                continue  # command not part of this build
            raise
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.run(args) or 0)
    except TiermixError as exc:
        print(f"tiermix: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
