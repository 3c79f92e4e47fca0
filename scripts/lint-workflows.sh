#!/usr/bin/env bash
# Lints .github/workflows/ with actionlint (built from the Go module proxy by
# scripts/actionlint/build.sh), which also runs shellcheck on every `run:`
# script. Without shellcheck actionlint would skip that silently, so this
# script installs Debian's shellcheck package when it is missing (root) or
# fails saying how (not root). The workflows cannot run here: this checks
# their syntax, expressions, action inputs and shell, nothing more.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

log() { echo "[lint:workflows] $*" >&2; }

if ! command -v shellcheck >/dev/null 2>&1; then
  if ((EUID != 0)) || ! command -v apt-get >/dev/null 2>&1; then
    log "shellcheck is missing; install it (Debian: sudo apt-get install --no-install-recommends shellcheck)"
    exit 1
  fi
  log "installing Debian's shellcheck package…"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for, rather than fail on, another apt/dpkg run.
  apt-get -o DPkg::Lock::Timeout=300 update >&2
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends shellcheck >&2
fi
log "$(shellcheck --version | awk '/^version:/ { print "shellcheck " $2 }')"

bin_dir="$(bash "$repo/scripts/actionlint/build.sh")"
log "actionlint $("$bin_dir/actionlint" -version | head -n 1)"
cd "$repo"
actionlint=("$bin_dir/actionlint" -no-color -pyflakes "")
"${actionlint[@]}" -shellcheck "$(command -v shellcheck)"
# actionlint knows the inputs and outputs of popular actions by major tag
# (docker/build-push-action@v6), not by commit, so it cannot check a step
# pinned to a commit SHA. Lint each file once more with every
# `@<sha> # vN.x.y` pin read as `@vN`, so that a misspelt input fails too.
mapfile -t workflows < <(find .github/workflows -name '*.y*ml' | LC_ALL=C sort)
for workflow in "${workflows[@]}"; do
  sed -E 's/@[0-9a-f]{40} # (v[0-9]+)(\.[0-9]+)*/@\1/' "$workflow" |
    "${actionlint[@]}" -shellcheck "" -stdin-filename "$workflow (pins read as major tags)" -
done
log "${workflows[*]}: no findings"
