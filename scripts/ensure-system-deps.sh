#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real (HAProxy, Prometheus,
# and ShellCheck, which actionlint runs over the workflows' scripts) when they
# are missing. Idempotent: a second run only checks and exits.
set -euo pipefail

need=()
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "ensure-system-deps: installing ${need[*]} from Debian's packages" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-system-deps: need root (or sudo) to install ${need[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "ensure-system-deps: installed $(haproxy -v | head -1 | cut -d' ' -f1-3); $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3); shellcheck $(shellcheck --version | sed -n 2p | cut -d' ' -f2)" >&2
