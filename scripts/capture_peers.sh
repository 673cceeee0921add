#!/usr/bin/env bash
# Regenerate the peer-instrumentation corpus (tests/peers/corpus/*.json) from the real PyPI packages.
#   bash scripts/capture_peers.sh              every peer
#   bash scripts/capture_peers.sh logfire      one peer
# Each peer gets its own virtualenv under .peers/ (they pin conflicting versions); an existing one is
# reused. Needs the package registry; CI does not run this, it runs the corpus test on what it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then
  for f in tests/peers/requirements/*.txt; do peers+=("$(basename "$f" .txt)"); done
fi
status=0
for peer in "${peers[@]}"; do
  venv=".peers/$peer"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
  fi
  if ! "$venv/bin/python" -m pip install --quiet -r "tests/peers/requirements/$peer.txt"; then
    echo "$peer: install failed" >&2; status=1; continue
  fi
  # OpenLIT and Traceloop phone home at start; there is no internet here, and none is wanted in a capture.
  if ! TRACELOOP_TELEMETRY=false OPENLIT_DISABLE_TELEMETRY=true timeout 300 \
      "$venv/bin/python" tests/peers/capture.py "$peer" "tests/peers/corpus/$peer.json"; then
    echo "$peer: capture failed" >&2; status=1
  fi
done
exit $status
