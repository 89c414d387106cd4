#!/usr/bin/env bash
# Storage's CPU and allocations per turn operation, in-process, no broker
# (build/bench/bench_storage_turn).   tests/bench/storage_turn/run.sh BUILD_DIR [TURNS] [CONVERSATIONS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$here/$build
bin=$build/bench/bench_storage_turn
[[ -x $bin ]] || cmake --build "$build" --target bench_storage_turn >/dev/null
"$bin" "${2:-2000}" "${3:-100}"
