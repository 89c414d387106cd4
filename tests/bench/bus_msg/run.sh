#!/usr/bin/env bash
# Per-message CPU of the bus's encode/decode without a broker (build/bench/bench_bus_msg).
#   tests/bench/bus_msg/run.sh BUILD_DIR [ITERATIONS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$here/$build
bin=$build/bench/bench_bus_msg
[[ -x $bin ]] || cmake --build "$build" --target bench_bus_msg >/dev/null
"$bin" "${2:-200000}"
