"""Package version. The one source is the ``VERSION`` file next to this module: the three distributions
(tiermix, tiermix-server, tiermix-dashboard) read it at build time, so they always carry the same number."""

from pathlib import Path

VERSION = Path(__file__).with_name("VERSION").read_text(encoding="utf-8").strip()
