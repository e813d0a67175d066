#!/usr/bin/env bash
# The README's "run it" command (`npm run dev` / `make dev`): brings up a real Kubernetes control plane
# (kube-apiserver + etcd built from source, no Docker), installs the CRDs and the examples, starts the
# bundled demo upstream and the syncflow server (embedded PGlite history), waits until the aggregated
# API is Available, runs an example execution with kubectl and prints it with the next commands.
#
#   hack/dev.sh          bring everything up (reuses what is already running) and run the example
#   hack/dev.sh down     stop everything and remove the state in .syncflow/dev
#   hack/dev.sh status   show what is running
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
state="$repo/.syncflow/dev"
ns=demo
demo_address=127.0.0.88

log() { echo "dev: $*" >&2; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

down() {
  for name in console server demo-upstream; do
    if pid_alive "$state/$name.pid"; then
      kill "$(cat "$state/$name.pid")" 2>/dev/null || true
      log "stopped $name"
    fi
  done
  if [[ -f "$state/cp/env.sh" ]]; then "$repo/hack/cp-down.sh" "$state/cp" || true; fi
  rm -rf "$state"
  log "everything stopped; state removed"
}

case "${1:-up}" in
  down) down; exit 0 ;;
  status)
    for name in console server demo-upstream; do
      if pid_alive "$state/$name.pid"; then echo "$name: running (pid $(cat "$state/$name.pid"))"; else echo "$name: stopped"; fi
    done
    if [[ -f "$state/cp/env.sh" ]]; then echo "control plane: $state/cp"; else echo "control plane: down"; fi
    exit 0 ;;
  up) ;;
  *) echo "usage: hack/dev.sh [up|down|status]" >&2; exit 2 ;;
esac

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund >&2
fi
mkdir -p "$state"

# 1. The control plane (built from the Go module proxy on first use; cached afterwards).
if [[ -f "$state/cp/env.sh" ]] && KUBECONFIG="$state/cp/kubeconfig" "$(. "$state/cp/env.sh"; echo "$SYNCFLOW_KUBECTL")" get --raw /readyz >/dev/null 2>&1; then
  log "reusing the control plane in $state/cp"
else
  rm -rf "$state/cp"
  log "starting the control plane (the first run builds kube-apiserver and etcd: several minutes)"
  "$repo/hack/cp-up.sh" --dir "$state/cp" >&2
fi
# shellcheck source=/dev/null
. "$state/cp/env.sh"
kubectl="$SYNCFLOW_KUBECTL"

# 2. Definitions and the demo Secret.
"$kubectl" get namespace "$ns" >/dev/null 2>&1 || "$kubectl" create namespace "$ns" >&2
"$kubectl" -n "$ns" get secret demo-api >/dev/null 2>&1 || "$kubectl" -n "$ns" create secret generic demo-api --from-literal=token=demo-token >&2
"$kubectl" -n "$ns" apply -f examples/ >&2

# 3. The demo upstream the examples call (demo.syncflow-system.svc -> $demo_address:8080).
if ! pid_alive "$state/demo-upstream.pid"; then
  nohup npx tsx examples/demo-upstream/server.ts --host "$demo_address" --port 8080 >"$state/demo-upstream.log" 2>&1 &
  echo $! >"$state/demo-upstream.pid"
  log "demo upstream started (log: $state/demo-upstream.log)"
fi

# 4. The syncflow server, where the APIService points.
if ! pid_alive "$state/server.pid"; then
  nohup node bin/syncflow.js server \
    --secure-port="$SYNCFLOW_SERVER_PORT" --bind-address=127.0.0.1 \
    --tls-cert-file="$SYNCFLOW_TLS_CERT_FILE" --tls-private-key-file="$SYNCFLOW_TLS_KEY_FILE" \
    --kubeconfig="$SYNCFLOW_SERVER_KUBECONFIG" --embedded-data-dir="$state/history" \
    --egress-allow-loopback --host-alias="demo.syncflow-system.svc=$demo_address" \
    --leader-elect=false >"$state/server.log" 2>&1 &
  echo $! >"$state/server.pid"
  log "syncflow server started (log: $state/server.log)"
fi

log "waiting for the APIService v1alpha1.execution.syncflow.io to be Available"
for _ in $(seq 1 240); do
  if "$kubectl" get --raw "/apis/execution.syncflow.io/v1alpha1/namespaces/$ns/workflowexecutions?limit=1" >/dev/null 2>&1; then
    ready=1
    break
  fi
  if ! pid_alive "$state/server.pid"; then
    log "the server exited; its log:"; tail -20 "$state/server.log" >&2; exit 1
  fi
  sleep 0.5
done
if [[ -z "${ready:-}" ]]; then log "not Available after 120 s; server log:"; tail -20 "$state/server.log" >&2; exit 1; fi

# 5a. The web console (hack/console.sh builds it when console/dist is missing), on loopback with the
# admin kubeconfig's identity; its URL carries a secret made for this launch.
if ! pid_alive "$state/console.pid"; then
  [[ -f console/dist/index.html ]] || bash hack/console.sh >&2
  nohup node bin/syncflow.js console --kubeconfig "$SYNCFLOW_KUBECONFIG" --port 0 >"$state/console.log" 2>&1 &
  echo $! >"$state/console.pid"
  for _ in $(seq 1 40); do grep -q 'open http' "$state/console.log" 2>/dev/null && break; sleep 0.25; done
fi
console_url="$(grep -o 'http://[^ ]*' "$state/console.log" | head -1 || true)"

# 5. Run an example, synchronously, with kubectl.
echo
echo "\$ kubectl -n $ns create -f examples/runs/user-profile.yaml -o yaml"
"$kubectl" -n "$ns" create -f examples/runs/user-profile.yaml -o yaml
cat <<EOF

syncflow is running. Point kubectl at it and try:

  export KUBECONFIG=$SYNCFLOW_KUBECONFIG
  alias kubectl=$kubectl        # the kubectl of the same Kubernetes release
  kubectl -n $ns get workflows
  kubectl -n $ns create -f examples/runs/loan-quote.yaml -o yaml
  kubectl -n $ns create -f examples/runs/checkout.yaml --dry-run=server -o yaml   # the plan, nothing called
  kubectl -n $ns get wfx -o wide
  kubectl -n $ns get wfx -w
  kubectl explain wfx.status.tasks

Console: ${console_url:-(not started: see $state/console.log)}

Logs: $state/server.log    Stop everything: npm run dev -- down   (or: bash hack/dev.sh down)
EOF
