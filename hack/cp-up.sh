#!/usr/bin/env bash
# Brings up a real Kubernetes control plane (etcd + kube-apiserver, no nodes, no Docker) on 127.0.0.1
# with free ports in a fresh directory, installs syncflow's CRDs and aggregated API registration, and
# writes $dir/env.sh (see docs/development.md for the variables). Tear down with hack/cp-down.sh $dir.
#
#   hack/cp-up.sh [--dir DIR] [--examples] [--no-crds] [--owner-pid PID] [--print-env]
#     --dir DIR        state directory (must not exist or be empty); default: a new mktemp directory
#     --examples       also apply examples/ (the README's "run it" flow)
#     --no-crds        leave out syncflow's CRDs, like a cluster nothing was installed on (the Helm
#                      test's chart brings them); cannot be combined with --examples
#     --owner-pid PID  tear everything down by itself once process PID exits (used by the test harness
#                      so that nothing survives a killed test run)
#     --print-env      print only the env.sh path on stdout (for scripts); progress goes to stderr
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="" with_examples=0 with_crds=1 owner_pid="" print_env=0
while (($#)); do
  case "$1" in
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --examples) with_examples=1; shift ;;
    --no-crds) with_crds=0; shift ;;
    --owner-pid) owner_pid="${2:?--owner-pid needs a value}"; shift 2 ;;
    --print-env) print_env=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "cp-up: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "cp-up: $*" >&2; }
((with_crds || !with_examples)) || { echo "cp-up: --examples needs the CRDs; drop --no-crds" >&2; exit 2; }

bin="$("$repo/hack/controlplane/build.sh")"
# shellcheck source=/dev/null
. "$repo/hack/controlplane/versions.env"

if [[ -z "$dir" ]]; then
  dir="$(mktemp -d "${TMPDIR:-/tmp}/syncflow-cp.XXXXXX")"
else
  mkdir -p "$dir"
  [[ -z "$(ls -A "$dir")" ]] || { log "$dir is not empty"; exit 2; }
  dir="$(cd "$dir" && pwd)"
fi
mkdir -p "$dir/pids" "$dir/logs"
# Any failure (or interruption) from here on shows the logs' tails and removes what was started.
on_exit() {
  local rc=$?
  ((rc == 0)) && return
  log "failed (exit $rc)"
  local file
  for file in "$dir"/logs/*.log; do
    [[ -s "$file" ]] && { echo "--- last lines of $(basename "$file")" >&2; tail -n 20 "$file" >&2; }
  done
  "$repo/hack/cp-down.sh" "$dir" >&2 || true
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
etcd_port="$(free_port)" etcd_peer_port="$(free_port)" apiserver_port="$(free_port)" syncflow_port="$(free_port)"

# Starts a process in the background with its own session (so a terminal's Ctrl-C reaches only the
# foreground script, whose trap then tears down in order) and records its PID before anything else.
start() { # name command...
  local name="$1"; shift
  setsid "$@" > "$dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name.pid"
}

wait_for() { # what seconds command...
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" > /dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$what not ready after ${seconds}s; last log lines:"
      tail -n 30 "$dir/logs/$what.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

if [[ -n "$owner_pid" ]]; then
  # Watchdog: when the owner (e.g. the test process) is gone, tear down even if it was SIGKILLed.
  start watchdog bash -c 'while kill -0 "$1" 2>/dev/null && [[ -d "$2" ]]; do sleep 1; done; [[ -d "$2" ]] && exec "$3" "$2"' \
    watchdog "$owner_pid" "$dir" "$repo/hack/cp-down.sh"
fi

pki="$dir/pki"
"$repo/hack/controlplane/pki.sh" "$pki"

# kube-apiserver presents the webhook-client certificate to admission webhooks (any host: '*'), so
# the syncflow server can tell its reviews from anyone else's (--admission-client-ca).
cat > "$dir/webhook-client.kubeconfig" <<YAML
apiVersion: v1
kind: Config
users:
- name: '*'
  user:
    client-certificate: $pki/webhook-client.crt
    client-key: $pki/webhook-client.key
YAML
cat > "$dir/admission-config.yaml" <<YAML
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ValidatingAdmissionWebhook
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: $dir/webhook-client.kubeconfig
YAML

start_time=$SECONDS
start etcd "$bin/etcd" --name=syncflow-dev --data-dir="$dir/etcd" \
  --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster="syncflow-dev=http://127.0.0.1:$etcd_peer_port" \
  --unsafe-no-fsync --log-level=warn
wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health"

start kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$etcd_port" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$apiserver_port" \
  --cert-dir="$dir/apiserver" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/client-ca.crt" \
  --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-cluster-ip-range=10.0.0.0/24 \
  --endpoint-reconciler-type=none \
  --enable-aggregator-routing=false \
  --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User \
  --requestheader-uid-headers=X-Remote-Uid \
  --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key" \
  --admission-control-config-file="$dir/admission-config.yaml" \
  --profiling=false --v=1

curl_admin=(curl -fsS --cacert "$pki/serving-ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
server="https://127.0.0.1:$apiserver_port"
wait_for kube-apiserver 90 "${curl_admin[@]}" "$server/readyz"
log "kube-apiserver ready on $server after $((SECONDS - start_time))s"

write_kubeconfig() { # file user cert key
  cat > "$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: syncflow-dev
  cluster:
    server: $server
    certificate-authority: $pki/serving-ca.crt
users:
- name: $2
  user:
    client-certificate: $pki/$3.crt
    client-key: $pki/$3.key
contexts:
- name: syncflow-dev
  context: {cluster: syncflow-dev, user: $2, namespace: default}
current-context: syncflow-dev
YAML
}
write_kubeconfig "$dir/kubeconfig" syncflow-dev-admin admin
write_kubeconfig "$dir/syncflow-server.kubeconfig" syncflow-server syncflow-server

kubectl=("$bin/kubectl" --kubeconfig "$dir/kubeconfig")
if ((with_crds)); then
  "${kubectl[@]}" apply -f "$repo/manifests/crds/" >&2
  "${kubectl[@]}" wait --for condition=Established --timeout=60s -f "$repo/manifests/crds/" >&2
fi

ca_bundle="$(base64 -w0 < "$pki/syncflow-ca.crt")"
"${kubectl[@]}" apply -f - >&2 <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: syncflow-system}
---
# The aggregator resolves an ExternalName Service to externalName:port, i.e. to the syncflow server
# running as a local process on 127.0.0.1:$syncflow_port (it checks the cert for syncflow.syncflow-system.svc).
apiVersion: v1
kind: Service
metadata: {name: syncflow, namespace: syncflow-system}
spec:
  type: ExternalName
  externalName: localhost
  ports:
  - {name: https, port: $syncflow_port, protocol: TCP}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.execution.syncflow.io}
spec:
  group: execution.syncflow.io
  version: v1alpha1
  service: {namespace: syncflow-system, name: syncflow, port: $syncflow_port}
  caBundle: $ca_bundle
  groupPriorityMinimum: 1000
  versionPriority: 15
YAML
"${kubectl[@]}" apply -f "$repo/hack/controlplane/dev-rbac.yaml" >&2

if ((with_examples)); then
  "${kubectl[@]}" apply -f "$repo/examples/" >&2
fi

cat > "$dir/env.sh" <<ENV
# Written by hack/cp-up.sh. Source it: . $dir/env.sh
export SYNCFLOW_CONTROLPLANE_DIR=$dir
export SYNCFLOW_KUBERNETES_VERSION=$KUBERNETES_VERSION
export SYNCFLOW_KUBECONFIG=$dir/kubeconfig
export SYNCFLOW_KUBECTL=$bin/kubectl
export SYNCFLOW_APISERVER_URL=$server
export KUBECONFIG=$dir/kubeconfig
# For the syncflow server (a local process standing in for the Service syncflow-system/syncflow):
export SYNCFLOW_SERVER_PORT=$syncflow_port
export SYNCFLOW_SERVER_KUBECONFIG=$dir/syncflow-server.kubeconfig
export SYNCFLOW_TLS_CERT_FILE=$pki/syncflow-serving.crt
export SYNCFLOW_TLS_KEY_FILE=$pki/syncflow-serving.key
export SYNCFLOW_REQUESTHEADER_CLIENT_CA_FILE=$pki/front-proxy-ca.crt
export SYNCFLOW_REQUESTHEADER_ALLOWED_NAMES=front-proxy-client
export SYNCFLOW_CLIENT_CA_FILE=$pki/client-ca.crt
export SYNCFLOW_ADMISSION_CLIENT_CA_FILE=$pki/webhook-client-ca.crt
ENV

trap - EXIT
log "control plane up in $dir (Kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION)"
if ((print_env)); then
  echo "$dir/env.sh"
else
  cat >&2 <<MSG

  Point kubectl at it:   . $dir/env.sh   # sets KUBECONFIG; or: export KUBECONFIG=$dir/kubeconfig
  Matching kubectl:      $bin/kubectl
  syncflow server port:  $syncflow_port (APIService v1alpha1.execution.syncflow.io -> localhost:$syncflow_port)
  Tear down:             hack/cp-down.sh $dir
MSG
fi
