"""The key command the dashboard suggests works as printed: the CLI's own parser accepts it."""

from __future__ import annotations

import shlex

from tiermix_dashboard.config import READ_KEY_COMMAND
from tiermix_server.cli import build_parser


def test_the_suggested_read_key_command_parses_with_the_real_cli() -> None:
    words = shlex.split(READ_KEY_COMMAND)
    assert words[0] == "tiermix"
    args = build_parser().parse_args(words[1:])  # SystemExit (a failure) on a missing or unknown flag
    assert args.scope == "read"
