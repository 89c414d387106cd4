#!/usr/bin/env bash
# Request/reply benchmark of the bus against raw Proton: starts a private RabbitMQ on a free
# port (scripts/rabbitmq.sh), runs build/bench/bench_bus_rr, stops the broker.
#   tests/bench/bus_rr/run.sh BUILD_DIR [SECONDS_PER_RUN]
set -euo pipefail
here=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$here/$build
seconds=${2:-3}
bin=$build/bench/bench_bus_rr
[[ -x $bin ]] || cmake --build "$build" --target bench_bus_rr >/dev/null
source "$here/tests/bench/broker.sh"
bench_broker_start "$(mktemp -d "${TMPDIR:-/tmp}/aos-bench-rmq.XXXXXX")"
url=$bench_url
"$bin" "$url" "$seconds"
