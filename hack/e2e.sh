#!/usr/bin/env bash
# Runs the end-to-end suites against a real control plane.
#   hack/e2e.sh                                   all suites: test/e2e/**/*.e2e.test.ts
#   hack/e2e.sh test/e2e/crds.e2e.test.ts -g RBAC  any mocha arguments
# Builds or reuses the control plane binaries, brings a fresh control plane up, runs mocha (its output
# and exit status are ours) and always tears the control plane down, also on failure or Ctrl-C.
# With SYNCFLOW_KUBECONFIG already set (e.g. `. $dir/env.sh` after hack/cp-up.sh) that control plane is
# reused and left running.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if [[ -z "${SYNCFLOW_KUBECONFIG:-}" ]]; then
  dir="$(mktemp -d "${TMPDIR:-/tmp}/syncflow-e2e.XXXXXX")"
  teardown() { "$repo/hack/cp-down.sh" "$dir" || true; }
  trap 'rc=$?; trap - EXIT; teardown; exit $rc' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  started=$SECONDS
  # --owner-pid: should this script be SIGKILLed, the control plane still goes away with it.
  env_file="$("$repo/hack/cp-up.sh" --dir "$dir" --owner-pid $$ --print-env)"
  # shellcheck source=/dev/null
  . "$env_file"
  echo "e2e: control plane ready in $((SECONDS - started))s ($SYNCFLOW_APISERVER_URL)" >&2
else
  echo "e2e: reusing the control plane of $SYNCFLOW_KUBECONFIG" >&2
fi

if (($# == 0)); then set -- 'test/e2e/**/*.e2e.test.ts'; fi
npx mocha "$@"
