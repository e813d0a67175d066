#!/usr/bin/env bash
# Compiles the server and CLI to JavaScript in dist/ (what the image runs: no TypeScript loader at
# run time), with the history migrations next to the code that reads them and the fingerprint of
# the sources it was built from (bin/build-stamp.js; bin/syncflow.js runs dist/ only while it holds).
#   bash hack/build.sh [OUT_DIR] [TSCONFIG]    (defaults: dist, tsconfig.build.json)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out="${1:-dist}"
config="${2:-tsconfig.build.json}"
# The sources' fingerprint, taken before compiling: bin/syncflow.js runs this build only while the
# sources still match it (an edit made during the build reads as stale).
stamp="$(node bin/build-stamp.js print "$config")"
rm -rf "$out"
npx tsc -p "$config" --outDir "$out"
mkdir -p "$out/history"
cp -R history/migrations "$out/history/"
printf '%s\n' "$stamp" >"$out/build-stamp.json"
echo "build: $(find "$out" -name '*.js' | wc -l) modules in $out" >&2
