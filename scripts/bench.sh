#!/usr/bin/env bash
# Run every benchmark: each tests/bench/<name>/run.sh gets the build dir and prints figures.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$here/$build
for b in "$here"/tests/bench/*/run.sh; do
  [[ -x $b ]] || continue
  echo "==> $(basename "$(dirname "$b")")"
  "$b" "$build"
done
