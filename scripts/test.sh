#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then format, lint, import
# contract, types and pytest. Safe to re-run: each install step is skipped when it is already done.
#   bash scripts/test.sh                 everything (what CI runs)
#   bash scripts/test.sh --unit          the fast inner loop: checks + tests/unit only, no apt installs
#   bash scripts/test.sh -k drift        extra arguments go to pytest
#   TIERMIX_TEST_WORKERS=1 bash scripts/test.sh    no parallel workers (default: one per core, at most 4)
#   bash scripts/test.sh --bench         then python -m bench --quick, the performance guard (CI: always)
# With CI=true (or --wheels) the three distributions are built into wheels and installed from them, so
# the suite runs against what users install; otherwise they are editable installs of this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

unit=0
bench=0
mode=editable
[ "${CI:-}" = "true" ] && mode=wheels && bench=1
args=()
for arg in "$@"; do
  case "$arg" in
    --unit) unit=1 ;;
    --bench) bench=1 ;;
    --wheels) mode=wheels ;;
    *) args+=("$arg") ;;
  esac
done

[ -x .venv/bin/python ] || python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate

# A C compiler and Python's headers build the compiled OTLP reader and call-key hash (collector/setup.py:
# optional for users, whose install falls back to Python). The suite tests both, so here their absence fails.
if [ "$unit" -eq 0 ]; then
  bash scripts/install_compiler.sh
fi
if bash scripts/install_compiler.sh --check; then
  export TIERMIX_EXPECT_COMPILED=1
fi

# Dependencies change only when these files do: a stamp of their hash skips a no-op pip run. The C
# sources are among them: an editable install builds the extensions once, at install.
stamp=.venv/.tiermix-installed
wanted="$mode $(cat requirements-dev.txt sdk/pyproject.toml collector/pyproject.toml collector/setup.py \
  dashboard/pyproject.toml collector/tiermix_server/ingest/_otlp_wire.c \
  collector/tiermix_server/ingest/_call_key.c | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -r requirements-dev.txt
  if [ "$mode" = editable ]; then
    python -m pip install --quiet -e "./sdk[openai,anthropic,otel]" -e "./collector[dashboard]" -e ./dashboard
  fi
  echo "$wanted" >"$stamp"
fi
if [ "$mode" = wheels ]; then
  # Rebuilt every run: the code, not only the dependencies, is what changes between runs.
  rm -rf .venv/wheels && python -m pip wheel --quiet --no-deps -w .venv/wheels ./sdk ./collector ./dashboard
  python -m pip install --quiet --force-reinstall --no-deps .venv/wheels/*.whl
  python -m pip install --quiet ".venv/wheels/$(cd .venv/wheels && ls tiermix_server-*.whl)[dashboard]" \
    --find-links .venv/wheels
fi

if [ "$unit" -eq 0 ]; then
  # System packages the tests drive for real: Debian's chromium (dashboard tests) and PostgreSQL.
  bash scripts/install_browser.sh
  bash scripts/postgres.sh install
fi

echo "== ruff format"; ruff format --check --quiet .
echo "== ruff"; ruff check --quiet .
echo "== import contract"; lint-imports --no-cache
echo "== mypy"; mypy
echo "== pytest"
targets=()
[ "$unit" -eq 1 ] && targets=(tests/unit)
# Test files run in parallel, one process per core up to 4 (each holds its own chDB engine, browser and
# PostgreSQL cluster, ~1.5 GiB): most tests wait on servers, subprocesses and the browser, so 2 workers
# on 2 cores took the suite from 20 to 12 minutes here. A file stays in one worker (--dist loadfile),
# so its module fixtures are built once. TIERMIX_TEST_WORKERS=1 runs everything in this process.
workers=${TIERMIX_TEST_WORKERS:-$(nproc)}
[ "$workers" -gt 4 ] && workers=4
parallel=()
[ "$workers" -gt 1 ] && parallel=(-n "$workers" --dist loadfile)
set +e
python -m pytest -q -p no:cacheprovider "${parallel[@]}" "${targets[@]}" "${args[@]}"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  # pytest's 5 means it collected no test at all: for this suite that is a broken run, not a pass.
  echo "pytest collected no tests: treating as a failure" >&2
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"
if [ "$bench" -eq 1 ] && [ "$unit" -eq 0 ]; then
  # Performance guard: every figure against bench/results/reference-quick.json (3x at most; ratios,
  # never wall-clock asserts in tests). CI runs it; locally: bash scripts/test.sh --bench.
  echo "== python -m bench --quick"
  python -m bench --quick
fi
