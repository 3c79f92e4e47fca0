#!/usr/bin/env bash
# Installs the Debian packages that building and running the e2e node need
# (see the list below for who needs each one). Idempotent: installs only what
# is missing, running `apt-get update` once first; with everything present it
# changes nothing and needs no root. Missing packages and not root: exits 1
# naming them and the command to run.
#
# Everything goes to stderr (stdout stays free for callers such as
# test/e2e/node/build.sh, whose only stdout line is its bin directory).
#
# Usage: test/e2e/node/install-packages.sh [--check]
#   --check  only report: exit 0 if all are installed, 1 if not.
set -euo pipefail

log() { echo "[node packages] $*" >&2; }

# package  why (build = test/e2e/node/build.sh; run = the node at run time)
packages=(
  "gcc              build: runc is cgo (its nsenter and seccomp code are C)"
  "libc6-dev        build: C headers and crt files for gcc"
  "pkg-config       build: libseccomp-golang finds libseccomp through pkg-config"
  "libseccomp-dev   build: runc's seccomp support (Pod Security restricted pods use RuntimeDefault); pulls in libseccomp2, which runc links at run time"
  "iptables         run: kube-proxy's iptables mode (iptables-restore) and the CNI bridge (ipMasq) and portmap plugins"
  "nftables         run: kube-proxy's nftables mode runs nft (knftables); also for inspecting the rules"
  "conntrack        run: listing/flushing conntrack entries when debugging and tearing down Service traffic (kube-proxy itself uses netlink)"
  "iproute2         run: the harness's network teardown and debugging (ip link/netns)"
  "busybox-static   run: the harness builds its busybox container image from /bin/busybox"
  "buildah          run: the harness builds the webhook's image from the Dockerfile (test/e2e/harness/webhook-image.ts)"
)

check_only=false
case "${1:-}" in
  "") ;;
  --check) check_only=true ;;
  *) log "unknown argument '$1' (usage: $0 [--check])"; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  log "this script needs a Debian-based system (dpkg-query and apt-get); install the equivalents of:"
  for p in "${packages[@]}"; do log "  $p"; done
  exit 1
fi

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for p in "${packages[@]}"; do
  name="${p%% *}"
  installed "$name" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  log "all ${#packages[@]} required Debian packages are installed"
  exit 0
fi

log "missing Debian packages:"
for p in "${missing[@]}"; do log "  $p"; done
names=("${missing[@]%% *}")

if $check_only; then
  exit 1
fi
if ((EUID != 0)); then
  log "not root, so cannot install them; run: sudo $0"
  log "(or: sudo apt-get install --no-install-recommends ${names[*]})"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for, rather than fail on, another apt/dpkg run (e.g. a parallel caller).
apt_opts=(-o DPkg::Lock::Timeout=300)
log "apt-get update…"
apt-get "${apt_opts[@]}" update >&2
log "installing: ${names[*]}"
# busybox-static replaces the dynamically linked busybox package if present.
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${names[@]}" >&2

for n in "${names[@]}"; do
  if ! installed "$n"; then
    log "apt-get finished but $n is still not installed"
    exit 1
  fi
done
log "installed: ${names[*]}"
