#!/usr/bin/env bash
# Builds a pinned Go command-line tool from its Go module and prints the binary's path on stdout
# (progress goes to stderr):
#   hack/tools.sh helm       helm.sh/helm/v3/cmd/helm                    (hack/tools/helm/go.mod)
#   hack/tools.sh promtool   github.com/prometheus/prometheus/cmd/promtool (hack/tools/promtool/go.mod)
#   hack/tools.sh jaeger     github.com/jaegertracing/jaeger/cmd/jaeger   (hack/tools/jaeger/go.mod)
# The wrapper module pins the release; the binary goes to
#   ${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}/tools/<tool>/<version>/<tool>
# and a warm cache, whose stamp matches the wrapper module, is reused without invoking the Go
# toolchain (as hack/controlplane/build.sh does for kube-apiserver). SYNCFLOW_TOOLS_REBUILD=1 forces a
# build. To move to another release: edit the version in the wrapper's go.mod, then `go mod tidy` there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tool="${1:?usage: tools.sh helm|promtool|jaeger}"
case "$tool" in
  helm)
    module=helm.sh/helm/v3
    package=helm.sh/helm/v3/cmd/helm
    ;;
  promtool)
    module=github.com/prometheus/prometheus
    package=github.com/prometheus/prometheus/cmd/promtool
    ;;
  jaeger)
    module=github.com/jaegertracing/jaeger
    package=github.com/jaegertracing/jaeger/cmd/jaeger
    ;;
  *)
    echo "tools: unknown tool '$tool' (helm, promtool or jaeger)" >&2
    exit 2
    ;;
esac
wrapper="$here/tools/$tool"
version="$(awk -v m="$module" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$wrapper/go.mod")"
[[ -n "$version" ]] || { echo "tools: no version of $module in $wrapper/go.mod" >&2; exit 1; }
cache_root="${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}/tools/$tool"
out="$cache_root/$version"

# The stamp covers everything that decides the binary's content.
stamp="$(cat "$wrapper/go.mod" "$wrapper/go.sum" "$here/tools.sh" | sha256sum | cut -d' ' -f1) $(go env GOVERSION 2>/dev/null || echo go-unknown)"
is_warm() { [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" && -x "$out/$tool" ]]; }

if [[ "${SYNCFLOW_TOOLS_REBUILD:-0}" != 1 ]] && is_warm; then
  echo "$out/$tool"
  exit 0
fi

mkdir -p "$cache_root"
# One build at a time per tool (two test runs started together share the result).
exec 9>"$cache_root/.build.lock"
flock 9
if [[ "${SYNCFLOW_TOOLS_REBUILD:-0}" != 1 ]] && is_warm; then
  echo "$out/$tool"
  exit 0
fi

# The version flags each project's own release build sets (helm's Makefile, Prometheus' .promu.yml).
ldflags="-s -w"
case "$tool" in
  helm)
    # helm's default Capabilities (helm template, lint) follow the Kubernetes modules it is built with.
    k8s="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$wrapper/go.mod")"
    [[ "$k8s" =~ ^v0\.([0-9]+)\. ]] || { echo "tools: no k8s.io/client-go version in $wrapper/go.mod" >&2; exit 1; }
    k8s_minor="${BASH_REMATCH[1]}"
    ldflags+=" -X helm.sh/helm/v3/internal/version.version=$version -X helm.sh/helm/v3/internal/version.gitTreeState=archive"
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
    done
    ;;
  promtool)
    # Prometheus 3.x is published as module v0.3XX.Y: v0.316.0 is Prometheus 3.16.0.
    [[ "$version" =~ ^v0\.3([0-9]{2})\.([0-9]+)$ ]] || { echo "tools: unexpected Prometheus module version $version" >&2; exit 1; }
    ldflags+=" -X github.com/prometheus/common/version.Version=3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"
    ;;
  jaeger)
    # The version Jaeger's Makefile stamps into its release builds.
    ldflags+=" -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$version"
    ;;
esac

tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp" && mkdir -p "$tmp"
start=$SECONDS
echo "tools: building $tool $version into $out" >&2
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath"
(cd "$wrapper" && nice go build -ldflags "$ldflags" -o "$tmp/$tool" "$package")
echo "$stamp" > "$tmp/.stamp"
rm -rf "$out" && mv "$tmp" "$out"
echo "tools: built $tool in $((SECONDS - start))s" >&2
echo "$out/$tool"
