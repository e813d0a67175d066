#!/usr/bin/env bash
# Builds the web console (console/, its own npm project) into console/dist, which `syncflow console`
# and `syncflow server` (at /console/) serve. Installs its packages with `npm ci` only when its
# lockfile changed since the last install; the build needs the root packages too (the console
# bundles core/'s validator).
#   bash hack/console.sh          install when needed, type-check (the app and its browser test), build
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo/console"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "console: installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi
npx tsc --noEmit -p tsconfig.json
# Its unit tests and the browser test run in Node with the DOM's and playwright-core's types.
npx tsc --noEmit -p tsconfig.node.json
npx vite build --logLevel warn
echo "console: built $(find dist -type f | wc -l) files in console/dist" >&2
