#!/usr/bin/env bash
# Deletes the kind cluster made by hack/kind-up.sh and its state directory.
set -euo pipefail
cluster="${KIND_CLUSTER:-syncflow}"
if ! command -v kind > /dev/null; then
  echo "kind-down: kind is not installed (this machine has no Docker; see hack/cp-down.sh)" >&2
  exit 1
fi
kind delete cluster --name "$cluster"
rm -rf "${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}/kind/$cluster"
