#!/usr/bin/env bash
# The project's Go programs: go vet and go test for each module. The pause
# test needs root (a new PID namespace), like the e2e node the image is for.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
for module in images/sidecar-http test/e2e/node/images/pause; do
  echo "== go vet + go test: $module"
  (cd "$repo/$module" && go vet ./... && go test -count=1 ./...)
done
