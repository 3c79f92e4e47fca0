#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler (the
# control plane) plus kubelet and kube-proxy (the node's Kubernetes half; its
# container runtime comes from test/e2e/node/build.sh) and kubectl (the image of
# the chart's `helm test` pod) from the Go module proxy into
# <repo>/.cache/control-plane/<k8s-version>/bin/ for the e2e tests.
#
# Skips the build when the binaries there were built from the same inputs
# (go.mod, go.sum, cmd/ sources and this script; recorded in bin/.inputs-hash).
# Progress goes to stderr; the only stdout line is the bin directory, so
# callers can do: bin=$(test/e2e/cluster/build.sh)
#
# `build.sh oldest` builds only kube-apiserver and kube-controller-manager of
# the oldest minor the chart claims, from the same cmd/ mains against
# oldest/go.mod (go build -modfile), into .cache/control-plane/<that version>/bin/;
# the harness runs them with this build's etcd (E2E_KUBERNETES=oldest).
#
# Env: E2E_CONTROL_PLANE_CACHE overrides <repo>/.cache/control-plane.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/../../.." && pwd -P)"
cd "$here"

log() { echo "[control-plane build] $*" >&2; }

case "${1:-}" in
  '')
    modfile=go.mod
    binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
    ;;
  oldest)
    modfile=oldest/go.mod
    binaries=(kube-apiserver kube-controller-manager)
    ;;
  *)
    log "usage: build.sh [oldest]"
    exit 2
    ;;
esac
modflags=("-modfile=$modfile")
modsum="${modfile%.mod}.sum"

k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$modfile")"
if [[ ! "$k8s_version" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]]; then
  log "cannot read the k8s.io/kubernetes version from $modfile (got '$k8s_version')"
  exit 1
fi
major="${BASH_REMATCH[1]}"
minor="${BASH_REMATCH[2]}"

cache_root="${E2E_CONTROL_PLANE_CACHE:-$repo/.cache/control-plane}"
bin_dir="$cache_root/$k8s_version/bin"

inputs_hash="$(cat "$modfile" "$modsum" build.sh $(for b in "${binaries[@]}"; do find "cmd/$b" -name '*.go'; done | LC_ALL=C sort) | sha256sum | cut -c1-16)"

# shellcheck source=../lib/cached-build.sh
source "$here/../lib/cached-build.sh"
cached_build_reuse_or_lock

# Upstream stamps these via hack/lib/version.sh. Without them the apiserver
# reports v0.0.0-master, which kubectl, discovery and the emulation-version /
# feature-gate logic (component-base/compatibility) read as a bogus version.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

# CGO off like upstream's release builds of these server binaries (static,
# pure-Go DNS resolver); also means no C toolchain is needed. Upstream links
# only the kubelet against glibc, and in v1.37 the sole cgo users in its
# dependency graph are the standard library's net and os/user (glibc resolver
# and NSS lookups); the pure-Go ones do for a test node that resolves nothing
# beyond /etc/hosts and the apiserver's address.
export CGO_ENABLED=0

tmp_dir="$cache_root/$k8s_version/bin.tmp.$$"
rm -rf "$tmp_dir"
mkdir -p "$tmp_dir"
trap 'rm -rf "$tmp_dir"' EXIT

total_start=$SECONDS
if [[ ! -d "$(go env GOMODCACHE)/k8s.io/kubernetes@$k8s_version" ]]; then
  log "downloading Go modules for kubernetes $k8s_version…"
fi
go mod download "${modflags[@]}" >&2
for b in "${binaries[@]}"; do
  if [[ "$b" == etcd ]]; then
    what="etcd $(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$modfile")"
  else
    what="$b $k8s_version"
  fi
  log "building $what (a cold build takes several minutes)…"
  start=$SECONDS
  # -buildvcs=false: no git metadata needed (and none of ours belongs in these binaries).
  go build "${modflags[@]}" -trimpath -buildvcs=false -ldflags="$ldflags" -o "$tmp_dir/$b" "./cmd/$b" >&2
  log "built $b in $((SECONDS - start))s"
done
log "done in $((SECONDS - total_start))s: $bin_dir"
cached_build_install "$tmp_dir"
