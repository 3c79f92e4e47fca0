# Sourced by the harness's build scripts (test/e2e/cluster/build.sh,
# test/e2e/node/build.sh): a directory of binaries reused while its inputs are
# unchanged, built by one process at a time, and swapped in whole.
#
# The caller sets: cache_root, bin_dir, inputs_hash (a hash of everything the
# binaries are made from), binaries (paths relative to bin_dir) and log().

# True when bin_dir holds every binary, built from inputs_hash.
cached_build_up_to_date() {
  [[ -f "$bin_dir/.inputs-hash" && "$(cat "$bin_dir/.inputs-hash")" == "$inputs_hash" ]] || return 1
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}

# Prints bin_dir and exits when it is up to date. Otherwise takes the build
# lock (concurrent callers, e.g. several test processes starting at once,
# wait there) and checks again: whoever waited usually finds the work done.
cached_build_reuse_or_lock() {
  if cached_build_up_to_date; then
    log "binaries up to date in $bin_dir"
    echo "$bin_dir"
    exit 0
  fi
  mkdir -p "$cache_root"
  exec 9>"$cache_root/.build.lock"
  flock 9
  if cached_build_up_to_date; then
    log "binaries were built by another process"
    echo "$bin_dir"
    exit 0
  fi
}

# Records the inputs in the freshly built directory $1 and swaps it in for
# bin_dir, so readers never see a half-written set; prints bin_dir.
cached_build_install() {
  echo "$inputs_hash" >"$1/.inputs-hash"
  rm -rf "$bin_dir"
  mv "$1" "$bin_dir"
  echo "$bin_dir"
}
