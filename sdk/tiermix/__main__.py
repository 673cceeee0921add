"""``python -m tiermix``: the SDK has no command of its own; say where the command lives."""

import sys

MESSAGE = """\
tiermix: this is the SDK (the part your application imports). The `tiermix` command — collector,
query API, alerts, dashboard, `tiermix up --demo` — comes with the server distribution:

    pip install "tiermix-server[dashboard]"
"""

if __name__ == "__main__":
    sys.stderr.write(MESSAGE)
    sys.exit(2)
