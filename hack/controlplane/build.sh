#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd for the pinned release (hack/controlplane/versions.env) into
#   ${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}/controlplane/<kubernetes version>/
# and prints that directory on stdout (progress goes to stderr). A warm cache, whose stamp matches the
# wrapper modules, is reused without invoking the Go toolchain. SYNCFLOW_CONTROLPLANE_REBUILD=1 forces a build.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
. "$here/versions.env"
cache_root="${SYNCFLOW_CACHE:-$HOME/.cache/syncflow}/controlplane"
out="$cache_root/$KUBERNETES_VERSION"
binaries=(kube-apiserver kubectl etcd)

# The stamp covers everything that decides the binaries' content.
stamp="$(cat "$here/versions.env" "$here/kubernetes/go.mod" "$here/kubernetes/go.sum" \
  "$here/etcd/go.mod" "$here/etcd/go.sum" "$here/build.sh" | sha256sum | cut -d' ' -f1) $(go env GOVERSION 2>/dev/null || echo go-unknown)"

is_warm() {
  [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" ]] || return 1
  local b
  for b in "${binaries[@]}"; do [[ -x "$out/$b" ]] || return 1; done
}

if [[ "${SYNCFLOW_CONTROLPLANE_REBUILD:-0}" != 1 ]] && is_warm; then
  echo "controlplane: reusing $out" >&2
  echo "$out"
  exit 0
fi

mkdir -p "$cache_root"
# One build at a time per cache (two test runs started together share the result).
exec 9>"$cache_root/.build.lock"
flock 9
if [[ "${SYNCFLOW_CONTROLPLANE_REBUILD:-0}" != 1 ]] && is_warm; then
  echo "controlplane: reusing $out (built concurrently)" >&2
  echo "$out"
  exit 0
fi

if [[ ! "$KUBERNETES_VERSION" =~ ^v([0-9]+)\.([0-9]+)\. ]]; then
  echo "controlplane: bad KUBERNETES_VERSION '$KUBERNETES_VERSION'" >&2
  exit 2
fi
major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# The module zip carries no git metadata; KUBERNETES_GIT_COMMIT may supply the release commit.
git_commit="${KUBERNETES_GIT_COMMIT:-}"

# The same -X flags Kubernetes' own build sets (hack/lib/version.sh), for both version packages:
# component-base serves /version on the server, client-go's is what kubectl reports as its client.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitCommit=$git_commit -X $pkg.gitTreeState=archive -X $pkg.buildDate=$build_date"
done

tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp" && mkdir -p "$tmp"
start=$SECONDS
echo "controlplane: building Kubernetes $KUBERNETES_VERSION (kube-apiserver, kubectl) and etcd $ETCD_VERSION into $out" >&2
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath"
(cd "$here/kubernetes" && nice go build -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
(cd "$here/etcd" && nice go build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}" \
  -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
echo "$stamp" > "$tmp/.stamp"
rm -rf "$out" && mv "$tmp" "$out"
echo "controlplane: built in $((SECONDS - start))s" >&2
echo "$out"
