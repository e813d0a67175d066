#!/usr/bin/env bash
# Stops a control plane started by hack/cp-up.sh and removes its directory.
#   hack/cp-down.sh [DIR]      (default: $SYNCFLOW_CONTROLPLANE_DIR)
# Only processes recorded in DIR/pids whose command line mentions DIR are signalled, so a recycled PID
# is never hit. kube-apiserver goes first (it is etcd's client), then etcd, then the watchdog.
set -euo pipefail

dir="${1:-${SYNCFLOW_CONTROLPLANE_DIR:-}}"
[[ -n "$dir" ]] || { echo "usage: cp-down.sh DIR (or set SYNCFLOW_CONTROLPLANE_DIR)" >&2; exit 2; }
[[ -d "$dir" ]] || exit 0
dir="$(cd "$dir" && pwd)"
[[ -d "$dir/pids" ]] || { echo "cp-down: $dir is not a control plane directory (no pids/)" >&2; exit 2; }

ours() { # pid -> true if it is alive and one of ours
  [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$dir"
}

stop() { # name
  local file="$dir/pids/$1.pid" pid
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  [[ "$pid" == "$BASHPID" || "$pid" == "$PPID" ]] && return 0   # the watchdog calling us
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do ours "$pid" || break; sleep 0.2; done
    if ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    # An exited process lingers as a zombie until its (re)parent reaps it; give that a moment so
    # that a process listing right after teardown shows nothing of ours.
    for _ in $(seq 1 25); do [[ -e "/proc/$pid" ]] || break; sleep 0.2; done
  fi
  rm -f "$file"
}

stop kube-apiserver
stop etcd
stop watchdog
rm -rf "$dir"
echo "cp-down: stopped and removed $dir" >&2
