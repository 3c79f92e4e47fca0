#!/usr/bin/env bash
# Builds actionlint, pinned in go.mod (upstream's
# github.com/rhysd/actionlint/cmd/actionlint, from the Go module proxy), into
# <repo>/.cache/actionlint/<version>/bin/actionlint, the way
# test/chart/helm/build.sh builds helm.
#
# Skips the build when the binary there was built from the same inputs
# (go.mod, go.sum and this script; recorded in bin/.inputs-hash). Progress
# goes to stderr; the only stdout line is the bin directory.
#
# Env: ACTIONLINT_CACHE overrides <repo>/.cache/actionlint.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/../.." && pwd -P)"
cd "$here"

log() { echo "[actionlint build] $*" >&2; }

version="$(awk '$1 == "github.com/rhysd/actionlint" { print $2; exit }' go.mod)"
if [[ ! "$version" =~ ^v1\.[0-9]+\.[0-9]+$ ]]; then
  log "cannot read the github.com/rhysd/actionlint version from go.mod (got '$version')"
  exit 1
fi

cache_root="${ACTIONLINT_CACHE:-$repo/.cache/actionlint}"
bin_dir="$cache_root/$version/bin"
binaries=(actionlint)
inputs_hash="$(cat go.mod go.sum build.sh | sha256sum | cut -c1-16)"

# shellcheck source-path=SCRIPTDIR source=../../test/e2e/lib/cached-build.sh
source "$repo/test/e2e/lib/cached-build.sh"
cached_build_reuse_or_lock

tmp_dir="$cache_root/$version/bin.tmp.$$"
rm -rf "$tmp_dir"
mkdir -p "$tmp_dir"
trap 'rm -rf "$tmp_dir"' EXIT

start=$SECONDS
log "building actionlint $version from the Go module proxy…"
go mod download >&2
# Stamped as distributions' packages do; unstamped, -version reads the module's.
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags="-s -w -X github.com/rhysd/actionlint.version=$version" \
  -o "$tmp_dir/actionlint" github.com/rhysd/actionlint/cmd/actionlint >&2
log "built actionlint $version in $((SECONDS - start))s"
cached_build_install "$tmp_dir"
