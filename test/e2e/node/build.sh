#!/usr/bin/env bash
# Builds the e2e node's container runtime from the Go module proxy into
# <repo>/.cache/node-runtime/<versions>/bin/:
#   containerd, containerd-shim-runc-v2, ctr   (containerd v2)
#   runc                                       (with seccomp)
#   crictl                                     (cri-tools)
#   cni/bridge, cni/host-local, cni/loopback, cni/portmap
# The node's kubelet and kube-proxy come from test/e2e/cluster/build.sh.
#
# The versions are the ones required in runtime/<component>/go.mod, one Go
# module per component (see runtime/containerd/go.mod for why). First makes
# sure the Debian packages are there (install-packages.sh; runc needs a C
# compiler and libseccomp).
#
# Skips the build when the binaries there were built from the same inputs
# (runtime/*/go.mod and go.sum, this script, install-packages.sh and the Go
# version; recorded in bin/.inputs-hash). Progress goes to stderr; the only
# stdout line is the bin directory, so callers can do:
#   bin=$(test/e2e/node/build.sh)
#
# Env: E2E_NODE_RUNTIME_CACHE overrides <repo>/.cache/node-runtime.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/../../.." && pwd -P)"
cd "$here"

log() { echo "[node-runtime build] $*" >&2; }

"$here/install-packages.sh"

modules=(containerd runc cni-plugins crictl)

# The version of module $2 that runtime/$1/go.mod requires.
required_version() {
  local v
  v="$(awk -v m="$2" '$1 == m { print $2; exit }' "runtime/$1/go.mod")"
  if [[ ! "$v" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    log "cannot read the $2 version from runtime/$1/go.mod (got '$v')"
    exit 1
  fi
  echo "$v"
}
containerd_version="$(required_version containerd github.com/containerd/containerd/v2)"
runc_version="$(required_version runc github.com/opencontainers/runc)"
cni_version="$(required_version cni-plugins github.com/containernetworking/plugins)"
crictl_version="$(required_version crictl sigs.k8s.io/cri-tools)"

cache_root="${E2E_NODE_RUNTIME_CACHE:-$repo/.cache/node-runtime}"
set_dir="$cache_root/containerd-${containerd_version}_runc-${runc_version}_cni-${cni_version}_crictl-${crictl_version}"
bin_dir="$set_dir/bin"
cni_plugins=(bridge host-local loopback portmap)
binaries=(containerd containerd-shim-runc-v2 ctr runc crictl "${cni_plugins[@]/#/cni/}")

# The Go version is an input too (unlike for the control plane): runc's cgo
# part and these binaries' standard library are what a node runs as root. Each
# module is asked, since its go line may make GOTOOLCHAIN=auto pick a newer Go.
inputs_hash="$(
  {
    for m in "${modules[@]}"; do (cd "runtime/$m" && go env GOVERSION); done
    cat build.sh install-packages.sh $(find runtime -name 'go.mod' -o -name 'go.sum' | LC_ALL=C sort)
  } | sha256sum | cut -c1-16
)"

# shellcheck source=../lib/cached-build.sh
source "$here/../lib/cached-build.sh"
cached_build_reuse_or_lock

tmp_dir="$set_dir/bin.tmp.$$"
rm -rf "$tmp_dir"
mkdir -p "$tmp_dir/cni"
trap 'rm -rf "$tmp_dir"' EXIT

# go build, in runtime/$1, of package $2 into $tmp_dir/$3; the rest are flags.
# -buildvcs=false: no git metadata needed (and none of ours belongs in these
# binaries). -trimpath like every upstream release build here.
build() {
  local module="$1" pkg="$2" out="$3"
  shift 3
  local start=$SECONDS
  (cd "runtime/$module" && go build -trimpath -buildvcs=false "$@" -o "$tmp_dir/$out" "$pkg") >&2
  log "built $out in $((SECONDS - start))s"
}

total_start=$SECONDS
for m in "${modules[@]}"; do
  (cd "runtime/$m" && go mod download) >&2
done

# containerd as its Makefile builds it, minus cgo: the only cgo package left in
# the daemon would be PKCS#11 for encrypted images; btrfs (cgo), devmapper and
# zfs snapshotters are left out, as the node uses overlayfs. Makefile's
# VERSION/PACKAGE stamping; REVISION (a git commit) is unknown from the module
# proxy and left empty.
log "building containerd $containerd_version (a cold build takes a few minutes)…"
pkg=github.com/containerd/containerd/v2
ldflags="-s -w -X $pkg/version.Version=$containerd_version -X $pkg/version.Package=$pkg"
for b in containerd ctr; do
  CGO_ENABLED=0 build containerd "$pkg/cmd/$b" "$b" \
    -tags "urfave_cli_no_docs no_btrfs no_devmapper no_zfs" -ldflags "$ldflags"
done
# The shim is static and gRPC-free upstream too (SHIM_CGO_ENABLED=0, no_grpc).
CGO_ENABLED=0 build containerd "$pkg/cmd/containerd-shim-runc-v2" containerd-shim-runc-v2 \
  -tags "urfave_cli_no_docs no_grpc" -ldflags "$ldflags"

# runc as `make runc` builds it: cgo (nsenter is C), dynamically linked PIE,
# tags seccomp (Pod Security restricted pods get RuntimeDefault seccomp
# profiles, which runc can only apply with libseccomp) and urfave_cli_no_docs.
# Its default libpathrs tag is dropped: libpathrs is a Rust library Debian 12
# does not package; without it runc uses its pure-Go path-resolution fallback.
# The version comes from the module's VERSION file (go:embed), nothing to stamp.
log "building runc $runc_version…"
CGO_ENABLED=1 build runc github.com/opencontainers/runc runc \
  -buildmode=pie -tags "seccomp urfave_cli_no_docs" -ldflags "-s -w"
# A runc without seccomp would build and run fine, then fail every restricted
# pod; make sure libseccomp really got linked in.
if ! "$tmp_dir/runc" --version | grep -q '^libseccomp: '; then
  log "runc was built without seccomp support:"
  "$tmp_dir/runc" --version >&2
  exit 1
fi

# The CNI plugins as their release builds them: static, version stamped.
log "building CNI plugins $cni_version (${cni_plugins[*]})…"
pkg=github.com/containernetworking/plugins
for p in "${cni_plugins[@]}"; do
  case "$p" in
    host-local) dir=ipam ;;
    portmap) dir=meta ;;
    *) dir=main ;;
  esac
  CGO_ENABLED=0 build cni-plugins "$pkg/plugins/$dir/$p" "cni/$p" \
    -ldflags "-s -w -X $pkg/pkg/utils/buildversion.BuildVersion=$cni_version"
done

# crictl as its Makefile builds it (static; the version without its "v").
log "building crictl $crictl_version…"
CGO_ENABLED=0 build crictl sigs.k8s.io/cri-tools/cmd/crictl crictl \
  -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${crictl_version#v}"

log "done in $((SECONDS - total_start))s: $bin_dir"
cached_build_install "$tmp_dir"
