#!/usr/bin/env bash
# The same CRDs, aggregated API registration and e2e suites against a kind cluster, for machines with
# Docker and kind. (The syncflow development machine has no Docker: use hack/cp-up.sh there.)
#
#   hack/kind-up.sh [--examples]    creates cluster "${KIND_CLUSTER:-syncflow}" and writes $dir/env.sh
#   . "$dir/env.sh" && hack/e2e.sh  runs the e2e suites against it (SYNCFLOW_KUBECONFIG is set, so reused)
#   hack/kind-down.sh               deletes the cluster
#
# In kind the syncflow server is expected in-cluster behind Service syncflow-system/syncflow (port 443),
# so no ExternalName Service is created; apply the server's Deployment from manifests/ when it exists.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="${KIND_CLUSTER:-syncflow}"
with_examples=0
[[ "${1:-}" == "--examples" ]] && with_examples=1

for tool in docker kind; do
  if ! command -v "$tool" > /dev/null; then
    echo "kind-up: '$tool' is not installed. This script needs Docker and kind; on machines without them" >&2
    echo "         use hack/cp-up.sh (kube-apiserver + etcd as local processes)." >&2
    exit 1
  fi
done
docker info > /dev/null 2>&1 || { echo "kind-up: Docker is not running" >&2; exit 1; }

# shellcheck source=/dev/null
. "$repo/hack/controlplane/versions.env"
dir="${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}/kind/$cluster"
mkdir -p "$dir"
# kubectl of the pinned release (built or reused), so kind and cp-up runs use the same client.
bin="$("$repo/hack/controlplane/build.sh")"
kubectl=("$bin/kubectl" --kubeconfig "$dir/kubeconfig")

if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --image "kindest/node:${KIND_NODE_IMAGE_TAG:-$KUBERNETES_VERSION}" \
    --kubeconfig "$dir/kubeconfig" --wait 120s
else
  kind get kubeconfig --name "$cluster" > "$dir/kubeconfig"
fi

"${kubectl[@]}" apply -f "$repo/manifests/crds/"
"${kubectl[@]}" wait --for condition=Established --timeout=60s -f "$repo/manifests/crds/"
"${kubectl[@]}" create namespace syncflow-system --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
"${kubectl[@]}" apply -f "$repo/hack/controlplane/dev-rbac.yaml"
if ((with_examples)); then "${kubectl[@]}" apply -f "$repo/examples/"; fi

cat > "$dir/env.sh" <<ENV
# Written by hack/kind-up.sh. Source it: . $dir/env.sh
export SYNCFLOW_KUBECONFIG=$dir/kubeconfig
export SYNCFLOW_KUBECTL=$bin/kubectl
export SYNCFLOW_KUBERNETES_VERSION=$KUBERNETES_VERSION
export KUBECONFIG=$dir/kubeconfig
ENV
echo "kind-up: cluster '$cluster' ready; point kubectl at it with: . $dir/env.sh"
