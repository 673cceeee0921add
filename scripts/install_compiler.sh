#!/usr/bin/env bash
# A C compiler and this Python's headers, which build the compiled OTLP reader and call-key hash
# (collector/setup.py).
#   bash scripts/install_compiler.sh            install them from Debian when missing
#   bash scripts/install_compiler.sh --check    exit 0 when both are there, 1 when not; installs nothing
set -euo pipefail
python=$(command -v python || command -v python3)
ready() {
  command -v cc >/dev/null 2>&1 &&
    "$python" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
}
if ready; then
  [ "${1:-}" = --check ] || echo "C compiler and Python headers already installed: $(cc --version | head -1)"
  exit 0
fi
[ "${1:-}" = --check ] && exit 1
export DEBIAN_FRONTEND=noninteractive
packages="gcc libc6-dev"
# Debian's own Python keeps its headers in a package; a Python built from source (pyenv, python.org) has them.
case "$("$python" -c 'import sys; print(sys.base_prefix)')" in /usr) packages="$packages python3-dev" ;; esac
# shellcheck disable=SC2086
apt-get install -y -q $packages || { apt-get update -q && apt-get install -y -q $packages; }
ready || { echo "a C compiler and Python.h are still missing after installing: $packages" >&2; exit 1; }
