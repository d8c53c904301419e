#!/usr/bin/env bash
# Builds the Go tools the test suite runs from their Go modules, at pinned
# versions, into a cache outside the clone:
#   - actionlint (lints .github/workflows)
#   - psa-oracle (test/psa-oracle: the upstream Pod Security admission library,
#     the oracle for the policy pack's Pod Security verdicts)
# Idempotent: a second run finds the binaries and exits in milliseconds.
set -euo pipefail

ACTIONLINT_VERSION="v1.7.12"
CACHE="${PD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery/tools}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ACTIONLINT="$CACHE/actionlint-$ACTIONLINT_VERSION"
# The oracle is rebuilt whenever its source or module versions change.
ORACLE_KEY="$(cat "$ROOT/test/psa-oracle/go.mod" "$ROOT/test/psa-oracle/go.sum" "$ROOT/test/psa-oracle/main.go" | sha256sum | cut -c1-16)"
ORACLE="$CACHE/psa-oracle-$ORACLE_KEY"

if [ -x "$ACTIONLINT" ] && [ -x "$ORACLE" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-go-tools: Go is needed to build actionlint and test/psa-oracle (install Go and retry)" >&2
  exit 1
fi
mkdir -p "$CACHE"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ ! -x "$ACTIONLINT" ]; then
  echo "ensure-go-tools: building actionlint $ACTIONLINT_VERSION from its Go module (once; cached in $CACHE)" >&2
  GOBIN="$tmp" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  mv "$tmp/actionlint" "$ACTIONLINT"
fi
if [ ! -x "$ORACLE" ]; then
  echo "ensure-go-tools: building test/psa-oracle (k8s.io/pod-security-admission; once; cached in $CACHE)" >&2
  (cd "$ROOT/test/psa-oracle" && go build -mod=readonly -o "$tmp/psa-oracle" .)
  mv "$tmp/psa-oracle" "$ORACLE"
fi
ln -sfn "$ACTIONLINT" "$CACHE/actionlint"
ln -sfn "$ORACLE" "$CACHE/psa-oracle"
echo "ensure-go-tools: actionlint $("$ACTIONLINT" -version | head -1), psa-oracle $ORACLE_KEY ready in $CACHE" >&2
