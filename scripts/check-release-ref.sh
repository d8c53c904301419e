#!/usr/bin/env bash
# Refuses to deploy a git ref that is not on the default branch's history:
#   scripts/check-release-ref.sh REF [DEFAULT_BRANCH]
# A deployment workflow checks out a ref given as input; GitHub's environment
# rules (which branches and tags may deploy) are evaluated against the run's own
# ref, not that input. So before anything of REF runs, this (from the default
# branch's checkout) resolves REF to a commit and checks that the commit is
# reachable from origin/DEFAULT_BRANCH: a tag cut from main, a commit of main.
# Prints the commit on stdout; exits 1 with the reason otherwise.
set -euo pipefail

ref="${1:-}"
default="${2:-main}"
if [ -z "$ref" ]; then
  echo "check-release-ref: no ref given" >&2
  exit 1
fi
case "$ref" in
  -*) echo "check-release-ref: refusing a ref that starts with '-': $ref" >&2; exit 1 ;;
esac
if ! git rev-parse --verify --quiet "refs/remotes/origin/$default" >/dev/null; then
  git fetch --quiet --no-tags origin "+refs/heads/$default:refs/remotes/origin/$default"
fi
# Tags of the remote, so a tag given by name resolves to what the remote says.
git fetch --quiet --tags --force origin 2>/dev/null || true
if ! commit="$(git rev-parse --verify --quiet --end-of-options "$ref^{commit}")"; then
  echo "check-release-ref: $ref is not a tag or commit of this repository" >&2
  exit 1
fi
if ! git merge-base --is-ancestor "$commit" "refs/remotes/origin/$default"; then
  echo "check-release-ref: $ref ($commit) is not on $default's history: only tags and commits of $default are deployed" >&2
  exit 1
fi
echo "$commit"
