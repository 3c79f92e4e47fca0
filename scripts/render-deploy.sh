#!/usr/bin/env bash
# Renders deploy/sidecar-injector.yaml, the plain manifests for those who do
# not use Helm, from the chart with its default values (self-managed
# certificates: nothing else to install), in the namespace sidecar-injector,
# with the SidecarTemplate CRD and without the `helm test` objects.
#
#   scripts/render-deploy.sh           rewrite deploy/
#   scripts/render-deploy.sh --check   exit 1 (with a diff) if deploy/ is stale
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
out="$repo/deploy/sidecar-injector.yaml"
helm="${HELM_BIN:-$(bash "$repo/test/chart/helm/build.sh")}"

generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
{
  cat <<'HEADER'
# Plain manifests of sidecar-injector, rendered from charts/sidecar-injector
# with its default values by scripts/render-deploy.sh; do not edit (CI fails
# on any difference). Self-contained: the SidecarTemplate CRD, and
# self-managed certificates (the webhook makes its CA and serving
# certificate and fills the webhook configuration's caBundle):
#   kubectl apply -f deploy/sidecar-injector.yaml
# Other settings: use the chart, or `helm template` with your values.
apiVersion: v1
kind: Namespace
metadata:
  name: sidecar-injector
HEADER
  # HELM_* from the caller's environment could change the output: drop them.
  env -u KUBECONFIG $(env | awk -F= '/^HELM_/ { printf "-u %s ", $1 }') \
    "$helm" template sidecar-injector "$repo/charts/sidecar-injector" \
    --namespace sidecar-injector --no-hooks --include-crds --set tests.enabled=false
} >"$generated"

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -u "$out" "$generated"; then
    echo "deploy/sidecar-injector.yaml differs from the chart's rendering; run scripts/render-deploy.sh" >&2
    exit 1
  fi
  echo "deploy/sidecar-injector.yaml matches the chart" >&2
else
  cp "$generated" "$out"
  echo "wrote $out" >&2
fi
