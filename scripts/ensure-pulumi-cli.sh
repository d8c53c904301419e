#!/usr/bin/env bash
# Builds the real Pulumi engine the engine tests drive, from Go source, into a
# cache outside the clone (the CLI's installer downloads from a host these
# machines cannot reach):
#   - pulumi: the CLI, github.com/pulumi/pulumi/pkg/v3/cmd/pulumi at
#     $PULUMI_CLI_VERSION, built as a dependency of a throwaway module (the
#     CLI's own `replace` directives make `go install pkg@version` refuse it);
#   - pulumi-language-nodejs: the Node.js language host, from the upstream
#     source in ../shared/third_party/pulumi-language-nodejs (v3.259.0; its
#     go.mod requires pkg/sdk $PULUMI_CLI_VERSION), built from a writable copy;
#   - pulumi-resource-pulumi-nodejs: the two-line shim Pulumi's installer ships
#     for the dynamic-provider host (runs @pulumi/pulumi's cmd/dynamic-provider
#     from the program's directory).
# Policy packs need no shim: this language host runs a `runtime: nodejs` pack
# itself (the CLI's RunPlugin call).
# Idempotent: a second run finds the binaries and returns. The cache key
# includes a hash of the host's source, so a changed shared/ rebuilds it.
set -euo pipefail

PULUMI_CLI_VERSION="v3.260.0"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOST_SRC="${PD_LANGUAGE_HOST_SRC:-$ROOT/../shared/third_party/pulumi-language-nodejs}"
CACHE="${PD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery/tools}"

if [ ! -f "$HOST_SRC/go.mod" ]; then
  echo "ensure-pulumi-cli: the Node.js language host source is not at $HOST_SRC (expected ../shared/third_party/pulumi-language-nodejs beside the clone, or set PD_LANGUAGE_HOST_SRC)" >&2
  exit 1
fi
HOST_KEY="$(cat "$HOST_SRC"/go.mod "$HOST_SRC"/go.sum "$HOST_SRC"/*.go | sha256sum | cut -c1-12)"
DEST="$CACHE/pulumi-$PULUMI_CLI_VERSION-nodejs-$HOST_KEY"

write_shims() {
  local dir="$1"
  printf '#!/bin/sh\n# Plugin shim: runs @pulumi/pulumi'"'"'s dynamic-provider host with the engine'"'"'s arguments.\nexec node "$(node -p '"'"'require.resolve("@pulumi/pulumi/cmd/dynamic-provider")'"'"')" "$@"\n' > "$dir/pulumi-resource-pulumi-nodejs.tmp"
  chmod +x "$dir/pulumi-resource-pulumi-nodejs.tmp"
  mv "$dir/pulumi-resource-pulumi-nodejs.tmp" "$dir/pulumi-resource-pulumi-nodejs"
}

if [ -x "$DEST/pulumi" ] && [ -x "$DEST/pulumi-language-nodejs" ]; then
  write_shims "$DEST"
  ln -sfn "$DEST" "$CACHE/pulumi"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-pulumi-cli: Go is needed to build the Pulumi CLI (install Go and retry)" >&2
  exit 1
fi
mkdir -p "$CACHE"
tmp="$(mktemp -d)"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out"
started=$(date +%s)

ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_CLI_VERSION"
echo "ensure-pulumi-cli: building pulumi from github.com/pulumi/pulumi/pkg/v3@$PULUMI_CLI_VERSION (once; a few minutes; cached in $CACHE)" >&2
mkdir -p "$tmp/cli"
printf 'module throwaway/pulumi\n\ngo 1.22\n\nrequire github.com/pulumi/pulumi/pkg/v3 %s\n' "$PULUMI_CLI_VERSION" > "$tmp/cli/go.mod"
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > "$tmp/cli/tools.go"
(cd "$tmp/cli" && go mod tidy && go build -trimpath -ldflags "$ldflags" -o "$tmp/out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)

echo "ensure-pulumi-cli: building pulumi-language-nodejs from $HOST_SRC" >&2
cp -r "$HOST_SRC/." "$tmp/host"
chmod -R u+w "$tmp/host"
(cd "$tmp/host" && go build -mod=mod -trimpath -ldflags "$ldflags" -o "$tmp/out/pulumi-language-nodejs" .)
write_shims "$tmp/out"

rm -rf "$DEST"
mv "$tmp/out" "$DEST"
ln -sfn "$DEST" "$CACHE/pulumi"
echo "ensure-pulumi-cli: $("$DEST/pulumi" version) with the Node.js language host ($HOST_KEY) ready in $DEST after $(( $(date +%s) - started )) s" >&2
