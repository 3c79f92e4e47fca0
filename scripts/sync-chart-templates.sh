#!/usr/bin/env bash
# Copies templates/*.yaml (the built-in SidecarTemplates) into the chart's
# values.yaml as the default `sidecarTemplates`, between the BEGIN/END marker
# lines, so `helm install` ships exactly the templates `npm start` loads.
#
#   scripts/sync-chart-templates.sh           rewrite values.yaml
#   scripts/sync-chart-templates.sh --check   exit 1 (with a diff) if it is stale
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
values="$repo/charts/sidecar-injector/values.yaml"

begin='^# BEGIN sidecarTemplates'
end='^# END sidecarTemplates'
grep -q "$begin" "$values" && grep -q "$end" "$values" || { echo "markers missing in $values" >&2; exit 1; }

block() {
  echo "sidecarTemplates:"
  local file
  for file in $(cd "$repo/templates" && LC_ALL=C ls -- *.yaml); do
    # A literal block scalar; empty lines stay empty (no trailing spaces).
    echo "  $file: |"
    sed -e 's/^\(.\)/    \1/' "$repo/templates/$file"
  done
}

generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
awk -v begin="$begin" -v end="$end" -v blockfile=/dev/stdin '
  $0 ~ begin { print; while ((getline line < blockfile) > 0) print line; skipping = 1; next }
  $0 ~ end   { skipping = 0 }
  !skipping  { print }
' "$values" < <(block) >"$generated"

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -u "$values" "$generated"; then
    echo "charts/sidecar-injector/values.yaml: sidecarTemplates differ from templates/*.yaml; run scripts/sync-chart-templates.sh" >&2
    exit 1
  fi
  echo "charts/sidecar-injector/values.yaml: sidecarTemplates match templates/*.yaml" >&2
else
  cp "$generated" "$values"
fi
