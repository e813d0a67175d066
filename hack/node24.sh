#!/usr/bin/env bash
# Prints the path of a Node 24 binary (the image's Node major: the machine's node may be older),
# installing the npm package node@24 into the cache first when it is not there yet.
#   bash hack/node24.sh            → ~/.cache/syncflow/node24/node_modules/node/bin/node
# Exits 1 (with the reason on stderr) when it cannot be installed (no registry access).
set -euo pipefail
cache="${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}"
node24="$cache/node24/node_modules/node/bin/node"
if [[ ! -x "$node24" ]]; then
  npm install --prefix "$cache/node24" --no-audit --no-fund --no-save node@24 >/dev/null || true
fi
if [[ ! -x "$node24" ]] || [[ "$("$node24" --version)" != v24.* ]]; then
  echo "node@24 could not be installed into $cache/node24 (npm registry reachable?)" >&2
  exit 1
fi
echo "$node24"
