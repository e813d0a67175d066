#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests and benchmarks: initdb + pg_ctl in a temp dir, on a free
# loopback port, owned by an unprivileged user (initdb refuses to run as root).
#
#   hack/postgres.sh start          start one; prints `export TEST_DATABASE_URL=...` and
#                                   `export SYNCFLOW_PG_DIR=...` (eval the output to use them)
#   hack/postgres.sh stop [DIR]     stop it and remove its temp dir (DIR defaults to $SYNCFLOW_PG_DIR)
#   hack/postgres.sh run CMD...     start one, run CMD with TEST_DATABASE_URL (and SYNCFLOW_PG_DIR,
#                                   SYNCFLOW_PG_CTL for fault tests) set, always stop and remove it,
#                                   and exit with CMD's exit code
#
# Server binaries are looked up on PATH and under /usr/lib/postgresql/*/bin; if initdb is missing they
# are installed with apt (postgresql-15, or the distribution's postgresql when 15 is not packaged).
set -euo pipefail

PG_USER="${SYNCFLOW_PG_USER:-syncflow-pg}"
PG_DB_NAME="syncflow_test"

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local candidate
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_binaries() {
  local bindir
  if bindir="$(find_bindir)"; then
    echo "$bindir"
    return 0
  fi
  log "initdb not found; installing PostgreSQL server binaries with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  if ! apt-get install -y -qq postgresql-15 >&2; then
    apt-get install -y -qq postgresql >&2
  fi
  find_bindir || { log "PostgreSQL binaries still missing after apt-get install"; return 1; }
}

ensure_user() {
  if [[ "$(id -u)" != "0" ]]; then
    PG_USER="$(id -un)"
    return 0
  fi
  if ! id "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
  fi
}

# Runs a command as the database user (or as ourselves when we are not root).
as_pg() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local bindir dir port
  bindir="$(ensure_binaries)"
  ensure_user
  dir="$(mktemp -d /tmp/syncflow-pg.XXXXXX)"
  chmod 755 "$dir"
  if [[ "$(id -u)" == "0" ]]; then chown "$PG_USER" "$dir"; fi
  port="$(free_port)"
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; return 1; }
  # Durability settings stay at their defaults (fsync, synchronous_commit) so benchmarks are honest.
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 100
shared_buffers = 128MB
EOF
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null \
    || { cat "$dir/server.log" >&2; rm -rf "$dir"; return 1; }
  as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$PG_DB_NAME"
  echo "$bindir" >"$dir/bindir"
  echo "$port" >"$dir/port"
  log "PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)"
  echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/$PG_DB_NAME"
  echo "export SYNCFLOW_PG_DIR=$dir"
}

stop() {
  local dir="${1:-${SYNCFLOW_PG_DIR:-}}"
  if [[ -z "$dir" || ! -d "$dir" ]]; then
    log "nothing to stop (give the temp dir or set SYNCFLOW_PG_DIR)"
    return 0
  fi
  case "$dir" in /tmp/syncflow-pg.*) ;; *) log "refusing to remove $dir: not a postgres.sh temp dir"; return 1 ;; esac
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_pg "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

run() {
  local out rc=0
  out="$(start)"
  PG_RUN_DIR="$(sed -n 's/^export SYNCFLOW_PG_DIR=//p' <<<"$out")"
  trap 'stop "$PG_RUN_DIR"' EXIT
  trap 'exit 130' INT TERM
  eval "$out"
  # A helper for fault tests: `$SYNCFLOW_PG_CTL stop|start` controls this very server.
  export SYNCFLOW_PG_CTL="$0 ctl $PG_RUN_DIR"
  "$@" || rc=$?
  return "$rc"
}

# ctl DIR stop|start: stop (fast) or start the server of a postgres.sh temp dir, for fault tests.
ctl() {
  local dir="$1" action="$2" bindir
  bindir="$(cat "$dir/bindir")"
  case "$action" in
    stop) as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
    start) as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null ;;
    *) log "ctl: unknown action '$action' (use stop or start)"; return 2 ;;
  esac
}

case "${1:-}" in
  start) start ;;
  stop) shift; stop "$@" ;;
  run)
    shift
    [[ $# -gt 0 ]] || { log "usage: hack/postgres.sh run <command...>"; exit 2; }
    run "$@"
    ;;
  ctl) shift; ctl "$@" ;;
  *) log "usage: hack/postgres.sh start | stop [DIR] | run <command...>"; exit 2 ;;
esac
