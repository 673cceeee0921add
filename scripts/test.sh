#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then lint, types and pytest.
#   bash scripts/test.sh            everything (what CI runs)
#   bash scripts/test.sh -k drift   extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[dev]"

# System packages the tests drive for real: Debian's chromium (dashboard tests) and PostgreSQL.
bash scripts/install_browser.sh
bash scripts/postgres.sh install

echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"
set +e
python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  # pytest's 5 means it collected no test at all: for this suite that is a broken run, not a pass.
  echo "pytest collected no tests: treating as a failure" >&2
  exit 1
fi
exit "$status"
