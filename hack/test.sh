#!/usr/bin/env bash
# The one test command (`npm test` / `make test`): installs what it needs, then runs static checks,
# the unit suite with the coverage gate (Node 20) and again on Node 24, the PostgreSQL integration
# suite on a throwaway server, and the end-to-end suite on a real kube-apiserver + etcd built from
# source. Ends with one line `N passed, N failed` totalled over every suite.
#
#   SYNCFLOW_SKIP_E2E=1      skip the control-plane suite (fast local loop)
#   SYNCFLOW_SKIP_NODE24=1   skip the Node 24 run of the unit suite
#   SYNCFLOW_SKIP_PERF_GATE=1  skip the performance regression gate
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
summary="$(mktemp "${TMPDIR:-/tmp}/syncflow-summary.XXXXXX")"
export SYNCFLOW_TEST_SUMMARY="$summary"
failed_steps=()

step() { echo; echo "=== $*" >&2; }
record() { # record NAME STATUS: a failed non-mocha step counts as one failed test
  if [[ $2 -ne 0 ]]; then failed_steps+=("$1"); fi
}
check() { # check NAME CMD...: a static check counted as one test
  local name=$1; shift
  step "$name"
  if "$@"; then echo "check:$name 1 0 0" >>"$summary"; else echo "check:$name 0 1 0" >>"$summary"; failed_steps+=("$name"); fi
}

step "npm packages"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund || { echo "npm ci failed" >&2; exit 1; }
fi

check typecheck npx tsc --noEmit
check lint npx eslint --max-warnings 0 .
check format npx prettier --check --log-level warn .
check dead-exports npx knip --no-progress
check crds-up-to-date npx tsx hack/generate-crds.ts --check
check validators-up-to-date npx tsx hack/generate-validators.ts --check
check openapi-up-to-date npx tsx hack/generate-openapi.ts --check
check chart-up-to-date npx tsx hack/generate-chart.ts --check
# helm, promtool and jaeger (the tracing e2e's backend) from their Go modules (hack/tools.sh; cached under ~/.cache/syncflow/tools).
check go-tools bash -c 'bash hack/tools.sh helm >/dev/null && bash hack/tools.sh promtool >/dev/null && bash hack/tools.sh jaeger >/dev/null'
check alert-rules bash -c 'p="$(bash hack/tools.sh promtool)" && "$p" check rules charts/syncflow/prometheus/syncflow-rules.yaml && "$p" test rules charts/syncflow/prometheus/syncflow-rules.test.yaml'
step "supply chain (npm audit, CycloneDX SBOM, licences, Dockerfile lint)"
bash hack/supply-chain.sh
record supply-chain $?
# The console runs the validator in the browser: core's model, validation, templates and planner
# bundle for the browser (esbuild fails on any Node built-in they pull in).
check browser-bundle-core npx esbuild core/validation/validate.ts core/plan/planner.ts core/model/execution.ts --bundle --platform=browser --format=esm --outdir=.cache/browser-bundle --log-level=error
# The compiled build the image runs (hack/build.sh), smoke-tested by running its CLI on the examples.
# The web console (console/, its own npm project): packages when its lockfile changed, type checks,
# the Vite build that syncflow console and /console/ serve; Debian's Chromium for its browser test.
check console-build bash hack/console.sh
if ! command -v chromium >/dev/null; then
  step "chromium for the console's browser test"
  { apt-get update -qq && apt-get install -y -qq chromium; } >&2 || echo "could not install chromium" >&2
fi
check compiled-build bash -c 'out=.cache/build-check && bash hack/build.sh "$out" && test -f "$out/history/migrations/001_initial.sql" && node "$out/cli/bin.js" validate examples'

step "unit suite on $(node --version) with coverage"
rm -rf coverage
SYNCFLOW_TEST_SUITE=unit npx c8 --check-coverage=false --reporter=none npm run -s test:unit
record unit $?

step "console unit suite (data layer, stream client, graph model and layout, timeline, replay, diff) with coverage"
# Its own gate (console/.c8rc.json: the data layer, the graph model and layout and the pure modules,
# lines >= 90%); React components and hooks are covered by the browser test.
SYNCFLOW_TEST_SUITE=console npx c8 --config console/.c8rc.json npx mocha 'console/test/*.test.ts'
record console $?

step "adversarial suite (hostile upstreams, secret encodings, URL injection, names, CEL cost, overload)"
SYNCFLOW_TEST_SUITE=adversarial npx c8 --clean=false --check-coverage=false --reporter=none npx mocha 'test/adversarial/**/*.test.ts'
record adversarial $?

if [[ -z "${SYNCFLOW_SKIP_NODE24:-}" ]]; then
  step "unit suite on Node 24"
  if node24="$(bash hack/node24.sh)"; then
    SYNCFLOW_TEST_SUITE=unit-node24 "$node24" node_modules/mocha/bin/mocha.js \
      'core/**/*.test.ts' 'cli/**/*.test.ts' 'client/**/*.test.ts' 'admission/**/*.test.ts' 'apiserver/**/*.test.ts' 'history/**/*.test.ts' 'controller/**/*.test.ts' 'kube/**/*.test.ts' 'adapters/**/*.test.ts' 'test/unit/**/*.test.ts'
    record unit-node24 $?
  else
    record node24-install 1
  fi
fi

if [[ -d test/integration ]]; then
  step "integration suite on a throwaway PostgreSQL"
  SYNCFLOW_TEST_SUITE=integration npx c8 --clean=false --check-coverage=false --reporter=none \
    bash hack/postgres.sh run npx mocha 'test/integration/**/*.integration.test.ts'
  record integration $?
fi

# CPU per execution of the engine and the gateway against the same-run baseline, compared with the
# committed ratios (bench/results/gate.json); fails on a ratio more than 25% worse (~2 min). The
# gateway records its history in a throwaway PostgreSQL, as in production (the chart's default).
if [[ -z "${SYNCFLOW_SKIP_PERF_GATE:-}" ]]; then
  check perf-gate bash hack/postgres.sh run npx tsx bench/gate.ts
fi

if [[ -z "${SYNCFLOW_SKIP_E2E:-}" ]]; then
  step "end-to-end suite on a real control plane"
  # Under c8 too: the server processes the suites start report their coverage of apiserver/.
  SYNCFLOW_TEST_SUITE=e2e npx c8 --clean=false --check-coverage=false --reporter=none bash hack/e2e.sh
  record e2e $?
fi

step "coverage gate (core, cli, admission, apiserver, history, controller, kube, adapters: lines >= 90%)"
npx c8 report --reporter=text-summary --reporter=json-summary && npx c8 check-coverage --lines 90
cov=$?
if [[ $cov -eq 0 ]]; then echo "check:coverage 1 0 0" >>"$summary"; else echo "check:coverage 0 1 0" >>"$summary"; failed_steps+=(coverage); fi


passed=0; failed=0; skipped=0
while read -r _ p f s; do passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s)); done <"$summary"
echo
echo "--- per suite (name passed failed pending):" >&2
cat "$summary" >&2
rm -f "$summary"
# A step that crashed before mocha could report still fails the run.
for name in "${failed_steps[@]}"; do echo "failed step: $name" >&2; done
if ((${#failed_steps[@]} > 0 && failed == 0)); then failed=${#failed_steps[@]}; fi
echo "${passed} passed, ${failed} failed"
((failed == 0 && ${#failed_steps[@]} == 0))
