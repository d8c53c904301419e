#!/usr/bin/env bash
# Builds the real Pulumi engine the engine tests drive, from its Go modules,
# into a cache outside the clone (the CLI's installer downloads from a host
# these machines cannot reach):
#   - pulumi: the CLI, github.com/pulumi/pulumi/pkg/v3/cmd/pulumi at
#     $PULUMI_CLI_VERSION (the newest pkg/v3 whose module zip the Go module
#     proxy serves here; 3.260 and 3.270 are refused with 403);
#   - pulumi-language-nodejs: the Node.js language host, from
#     github.com/pulumi/pulumi/sdk/v3 at $PULUMI_LANGUAGE_VERSION, the last
#     release that still carried it inside sdk/v3 (later ones moved it to its
#     own module, which the proxy here refuses at every version);
#   - two small plugin shims like those Pulumi's installer ships, which run
#     the entry points of the @pulumi/pulumi package the program or pack
#     uses: the dynamic-provider host (pulumi-resource-pulumi-nodejs) and a
#     policy-pack host for the runtime name "node" (pulumi-analyzer-policy-node;
#     test/engine/pack/README.md says why the engine tests' pack uses it).
# Each build happens as a dependency of a throwaway module in a temp dir, so
# the CLI's own `replace` directives (which `go install pkg@version` refuses)
# do not apply. Idempotent: a second run finds the binaries and returns.
set -euo pipefail

PULUMI_CLI_VERSION="v3.250.0"
PULUMI_LANGUAGE_VERSION="v3.68.0"
CACHE="${PD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery/tools}"
DEST="$CACHE/pulumi-$PULUMI_CLI_VERSION-nodejs-$PULUMI_LANGUAGE_VERSION"

# The shims resolve @pulumi/pulumi from the directory the engine starts them in
# (the program's for providers, the pack's for policies), like Pulumi's own.
# Rewritten on every run: two lines each.
write_shims() {
  local dir="$1" pair name entry
  for pair in "pulumi-resource-pulumi-nodejs:dynamic-provider" "pulumi-analyzer-policy-node:run-policy-pack"; do
    name="${pair%%:*}"
    entry="${pair##*:}"
    printf '#!/bin/sh\n# Plugin shim: runs @pulumi/pulumi'"'"'s %s with the engine'"'"'s arguments.\nexec node "$(node -p '"'"'require.resolve("@pulumi/pulumi/cmd/%s")'"'"')" "$@"\n' "$entry" "$entry" > "$dir/$name.tmp"
    chmod +x "$dir/$name.tmp"
    mv "$dir/$name.tmp" "$dir/$name"
  done
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
trap 'rm -rf "$tmp"' EXIT

# build NAME MODULE VERSION PACKAGE LDFLAGS: one binary from a throwaway module.
build() {
  local name="$1" module="$2" version="$3" package="$4" ldflags="$5"
  local dir="$tmp/$name"
  mkdir -p "$dir"
  printf 'module throwaway/%s\n\ngo 1.22\n\nrequire %s %s\n' "$name" "$module" "$version" > "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$package" > "$dir/tools.go"
  echo "ensure-pulumi-cli: building $name from $module@$version (once; a few minutes; cached in $CACHE)" >&2
  (cd "$dir" && go mod tidy && go build -trimpath -ldflags "$ldflags" -o "$tmp/out/$name" "$package")
}

mkdir -p "$tmp/out"
build pulumi github.com/pulumi/pulumi/pkg/v3 "$PULUMI_CLI_VERSION" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_CLI_VERSION"
build pulumi-language-nodejs github.com/pulumi/pulumi/sdk/v3 "$PULUMI_LANGUAGE_VERSION" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_LANGUAGE_VERSION"
write_shims "$tmp/out"

rm -rf "$DEST"
mv "$tmp/out" "$DEST"
ln -sfn "$DEST" "$CACHE/pulumi"
echo "ensure-pulumi-cli: $("$DEST/pulumi" version) with pulumi-language-nodejs $PULUMI_LANGUAGE_VERSION ready in $DEST" >&2
