#!/usr/bin/env bash
# Runs a command with a current Node.js LTS first on PATH (scripts/ensure-node.sh:
# the machine's node when it is new enough, else a pinned LTS from the tools
# cache). `npm test` goes through here, so the tests, the Pulumi language host
# and the dynamic-provider host all run on that Node whatever started npm.
set -euo pipefail
bin="$(bash "$(dirname "$0")/ensure-node.sh")"
export PATH="$bin:$PATH"
exec "$@"
