#!/usr/bin/env bash
# A release tag vX.Y.Z must name the version everywhere a user sees it: the
# npm package (package.json "version"), the chart (Chart.yaml "version") and
# the image the chart deploys by default (Chart.yaml "appVersion"; the image
# tag defaults to it). The release workflow runs this on the pushed tag before
# building anything; run it yourself before tagging.
#
# Usage: scripts/check-release-version.sh vX.Y.Z
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

tag="${1:-}"
if [[ ! "$tag" =~ ^v([0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?)$ ]]; then
  echo "usage: $0 vX.Y.Z (a 'v' and a semantic version; got '$tag')" >&2
  exit 2
fi
want="${BASH_REMATCH[1]}"

# Top-level scalar of Chart.yaml, quotes removed (the chart quotes appVersion).
chart_field() {
  awk -v key="$1" '/^[^ \t]/ && $1 == key":" { v = $2; gsub(/^["'\'']|["'\'']$/, "", v); print v; exit }' \
    "$repo/charts/sidecar-injector/Chart.yaml"
}

wheres=("package.json version" "charts/sidecar-injector/Chart.yaml version" "charts/sidecar-injector/Chart.yaml appVersion")
values=("$(node -p 'require(process.argv[1]).version' "$repo/package.json")" "$(chart_field version)" "$(chart_field appVersion)")
status=0
for i in "${!wheres[@]}"; do
  if [[ "${values[$i]}" != "$want" ]]; then
    echo "${wheres[$i]} is '${values[$i]}', the tag $tag says $want" >&2
    status=1
  fi
done
if ((status == 0)); then
  echo "$tag matches package.json and Chart.yaml (version and appVersion)" >&2
fi
exit "$status"
