#!/usr/bin/env bash
# Builds the helm CLI pinned in go.mod (upstream's helm.sh/helm/v3/cmd/helm,
# from the Go module proxy) into <repo>/.cache/helm/<version>/helm for the
# chart checks, like test/e2e/cluster/build.sh does for the control plane.
#
# Skips the build when the binary there was built from the same inputs
# (go.mod, go.sum and this script; recorded in .inputs-hash). Progress goes to
# stderr; the only stdout line is the binary's path, so callers can do:
# helm=$(test/chart/helm/build.sh)
#
# Env: CHART_HELM_CACHE overrides <repo>/.cache/helm.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/../../.." && pwd -P)"
cd "$here"

log() { echo "[helm build] $*" >&2; }

version="$(awk '$1 == "helm.sh/helm/v3" { print $2; exit }' go.mod)"
if [[ ! "$version" =~ ^v3\.[0-9]+\.[0-9]+$ ]]; then
  log "cannot read the helm.sh/helm/v3 version from go.mod (got '$version')"
  exit 1
fi

cache_root="${CHART_HELM_CACHE:-$repo/.cache/helm}"
out_dir="$cache_root/$version"
inputs_hash="$(cat go.mod go.sum build.sh | sha256sum | cut -c1-16)"

up_to_date() {
  [[ -x "$out_dir/helm" && -f "$out_dir/.inputs-hash" && "$(cat "$out_dir/.inputs-hash")" == "$inputs_hash" ]]
}

if up_to_date; then
  log "helm $version up to date in $out_dir"
  echo "$out_dir/helm"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock 9
if up_to_date; then
  log "helm $version was built by another process"
  echo "$out_dir/helm"
  exit 0
fi

# Upstream stamps the version via its Makefile; without it `helm version`
# says v3.x-dev and `helm lint` checks kubeVersion against a wrong value.
# The Kubernetes version helm assumes without a cluster (`helm template`,
# `helm lint`'s deprecation check) comes from client-go's, as upstream's
# Makefile does (K8S_MODULES_VER); unstamped it is v1.20.
client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' go.mod)"
if [[ ! "$client_go" =~ ^v0\.([0-9]+)\.[0-9]+$ ]]; then
  log "cannot read the k8s.io/client-go version from go.mod (got '$client_go')"
  exit 1
fi
k8s_minor="${BASH_REMATCH[1]}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
export CGO_ENABLED=0

tmp_dir="$cache_root/$version.tmp.$$"
rm -rf "$tmp_dir"
mkdir -p "$tmp_dir"
trap 'rm -rf "$tmp_dir"' EXIT

start=$SECONDS
log "building helm $version from the Go module proxy (a cold build takes a few minutes)…"
go mod download >&2
go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$tmp_dir/helm" helm.sh/helm/v3/cmd/helm >&2
echo "$inputs_hash" >"$tmp_dir/.inputs-hash"
rm -rf "$out_dir"
mv "$tmp_dir" "$out_dir"
log "built helm $version in $((SECONDS - start))s: $out_dir/helm"
echo "$out_dir/helm"
