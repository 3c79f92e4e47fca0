#!/usr/bin/env bash
# Tears down an e2e node started by node.ts and puts the host back as it was:
# stops the node's processes by PID, removes its pods through the CRI (so CNI
# releases their addresses and veths), kills whatever of containerd's shims
# and containers is left, unmounts everything under the node's directory,
# removes its cgroups, its bridge, the nftables/iptables rules kubelet,
# kube-proxy and the CNI plugins created, restores the sysctls kubelet and the
# harness changed, and removes the host paths that did not exist before.
#
#   node-teardown.sh NODE_DIR [--keep-dir]
#
# Idempotent, and safe to run from node.ts's stop() and from the watchdog
# after the test process died. Every step reads the facts node.ts recorded in
# NODE_DIR/node.env before it changed anything. Exits 1 and lists what is
# left when something could not be removed.
set -uo pipefail

dir="${1:?usage: node-teardown.sh NODE_DIR [--keep-dir]}"
keep_dir="${2:-}"
env_file="$dir/node.env"
[[ -f "$env_file" ]] || { echo "node-teardown: $env_file not found; nothing to do" >&2; exit 0; }
# shellcheck source=/dev/null
source "$env_file"

log() { echo "[node teardown] $*" >&2; }

alive() { kill -0 "$1" 2>/dev/null; }

# TERM a process group, wait up to $2 seconds, then KILL it.
stop_group() {
  local pid="$1" grace="$2" i
  alive "$pid" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.1; done
}

pid_of() { awk -v n="$1" '$1 == n { print $2 }' "$dir/pids" 2>/dev/null | tail -n 1; }

# 1. The node agents first, so nothing restarts a container behind our back.
for name in kube-proxy kubelet; do
  pid="$(pid_of "$name")"
  [[ -n "$pid" ]] && stop_group "$pid" 10
done

# 2. Pods through the CRI while containerd still runs: CNI DEL releases each
#    pod's address, veth and any portmap rules.
containerd_pid="$(pid_of containerd)"
if [[ -n "$containerd_pid" ]] && alive "$containerd_pid" && [[ -S "$CRI_SOCK" ]]; then
  crictl=(timeout 60 "$RUNTIME_BIN/crictl" --runtime-endpoint "unix://$CRI_SOCK" --timeout 20s)
  pods="$("${crictl[@]}" pods -q 2>/dev/null)"
  if [[ -n "$pods" ]]; then
    log "removing $(wc -w <<<"$pods") pod sandbox(es)"
    # shellcheck disable=SC2086
    "${crictl[@]}" stopp $pods >/dev/null 2>&1
    # shellcheck disable=SC2086
    "${crictl[@]}" rmp -f $pods >/dev/null 2>&1
  fi
fi
[[ -n "$containerd_pid" ]] && stop_group "$containerd_pid" 10

# 3. Shims outlive containerd by design (they re-parent to init); the node's
#    are those given its containerd's address. Container processes are found
#    by cgroup, under the node's cgroup root.
shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "-address $CRI_SOCK " && echo "${p#/proc/}"
  done
}
kill_leftovers() {
  local p pids=()
  while read -r p; do [[ -n "$p" ]] && pids+=("$p"); done < <(shim_pids)
  local procs
  for procs in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d "$procs" ]] || continue
    while read -r p; do [[ -n "$p" ]] && pids+=("$p"); done < <(find "$procs" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  ((${#pids[@]} == 0)) && return 1
  kill -KILL "${pids[@]}" 2>/dev/null
  return 0
}
for _ in 1 2 3 4 5; do kill_leftovers || break; sleep 0.5; done

# 4. Mounts: the node's directory (kubelet volumes, container root
#    filesystems, network namespaces, its own rshared bind mount) and host
#    paths it created. Deepest first; lazily when something still holds one.
unmount_under() {
  local prefix="$1" target
  awk -v p="$prefix" '{ gsub(/\\040/, " ", $5) } $5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo |
    awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2- |
    while read -r target; do
      umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || log "could not unmount $target"
    done
}
unmount_under "$dir"
for path in $CREATED_PATHS; do unmount_under "$path"; done

# 5. Cgroups, deepest first (rmdir fails while a process is still inside).
for root in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
  [[ -d "$root" ]] && find "$root" -depth -type d -exec rmdir {} + 2>/dev/null
done

# 6. Network devices: the bridge (veths left behind by a killed sandbox go
#    with their network namespace, or are found by their master here).
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  for veth in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
    ip link delete "$veth" 2>/dev/null
  done
  ip link delete "$BRIDGE" 2>/dev/null || log "could not delete bridge $BRIDGE"
fi

# 7. Firewall: kube-proxy's own nftables tables, and the KUBE-*/CNI-* chains
#    kubelet and the CNI plugins add through iptables (iptables-nft on this
#    machine, so they live in the ip/ip6 filter/nat/mangle tables); tables
#    that did not exist before the node are removed whole.
if command -v nft >/dev/null; then
  while read -r family table; do
    [[ -z "$table" ]] && continue
    if [[ "$table" == kube-proxy ]] || ! grep -qxF "$family $table" <<<"$NFT_TABLES_BEFORE"; then
      nft delete table "$family" "$table" 2>/dev/null || log "could not delete nftables table $family $table"
    fi
  done < <(nft list tables 2>/dev/null | awk '$1 == "table" { print $2, $3 }')
fi
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in filter nat mangle; do
    rules="$("$ipt" -w 5 -t "$table" -S 2>/dev/null)" || continue
    # Rules in other chains that jump to ours, then our chains themselves.
    grep -E '^-A ' <<<"$rules" | grep -E -- '-j (KUBE|CNI)-' | grep -vE '^-A (KUBE|CNI)-' | while read -r rule; do
      # shellcheck disable=SC2086
      "$ipt" -w 5 -t "$table" -D ${rule#-A } 2>/dev/null
    done
    for chain in $(grep -oE '^-N (KUBE|CNI)-[^ ]+' <<<"$rules" | cut -d' ' -f2); do
      "$ipt" -w 5 -t "$table" -F "$chain" 2>/dev/null
    done
    for chain in $(grep -oE '^-N (KUBE|CNI)-[^ ]+' <<<"$rules" | cut -d' ' -f2); do
      "$ipt" -w 5 -t "$table" -X "$chain" 2>/dev/null
    done
  done
done

# 8. Sysctls back to their values before the node.
for pair in $SYSCTLS_BEFORE; do
  sysctl -q -w "$pair" >/dev/null 2>&1 || log "could not restore sysctl $pair"
done

# 9. Host paths the node created (they did not exist before it started).
for path in $CREATED_PATHS; do rm -rf -- "$path"; done
if [[ -d /var/log/containers ]]; then
  find /var/log/containers -maxdepth 1 -type l -lname "$dir/*" -delete 2>/dev/null
fi
[[ "$(cat /run/sidecar-e2e-node 2>/dev/null)" == "$dir" ]] && rm -f /run/sidecar-e2e-node

# 10. What is left, if anything.
left=()
grep -qF " $dir" /proc/self/mountinfo && left+=("mounts under $dir")
ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("bridge $BRIDGE")
for root in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do [[ -d "$root" ]] && left+=("cgroup $root"); done
command -v nft >/dev/null && nft list tables 2>/dev/null | grep -q 'kube-proxy' && left+=("nftables table kube-proxy")
for p in $(shim_pids); do left+=("shim $p"); done
while read -r name pid; do alive "$pid" && left+=("$name $pid"); done <"$dir/pids"
if ((${#left[@]} > 0)); then
  log "left behind: ${left[*]}"
  exit 1
fi
[[ "$keep_dir" == --keep-dir ]] || rm -rf -- "$dir"
log "done: $dir"
exit 0
