#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: `scripts/postgres.sh install` makes sure the server binaries
# exist; `scripts/postgres.sh start` prints the cluster directory
# (line "dir=...") and, on its last line, a SQLAlchemy URL; `scripts/postgres.sh stop DIR` stops it and
# deletes DIR. Installs Debian's postgresql when no server binaries exist. initdb and pg_ctl refuse to
# run as root, so as root the cluster runs as the `postgres` user.
set -euo pipefail

find_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -n "$found" && -x "$found/initdb" && -x "$found/postgres" ]]; then echo "$found"; return; fi
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then dirname "$(command -v initdb)"; return; fi
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  local bin
  bin=$(find_bin)
  if [[ -z "$bin" ]]; then
    if [[ $(id -u) -ne 0 ]]; then echo "PostgreSQL is not installed and we are not root to install it" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; }
    bin=$(find_bin)
  fi
  [[ -n "$bin" ]] || { echo "no PostgreSQL server binaries found after install" >&2; exit 1; }
  echo "$bin"
}

start() {
  local bin dir port
  bin=$(install)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/tiermix-pg.XXXXXX")
  chmod 755 "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "dir=$dir"
  echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
}

stop() {
  local bin dir=$1
  bin=$(find_bin)
  [[ -d "$dir/data" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-start}" in
  install) echo "PostgreSQL server binaries: $(install)" ;;
  start) start ;;
  stop) stop "${2:?usage: postgres.sh stop DIR}" ;;
  *) echo "usage: $0 install | start | stop DIR" >&2; exit 2 ;;
esac
