#!/usr/bin/env bash
# End-to-end benchmark: turns/s and p50/p99 through POST /v1/messages (router -> bus ->
# runner (offline provider) -> storage) at concurrency 1, 16 and 128, next to raw bus
# request/reply on the same broker in the same run. Starts a private RabbitMQ on a free port
# (scripts/rabbitmq.sh); bench_e2e starts aos-storage, aos-agent-runner and aos-router, and
# prints CPU ms per turn of each process (the broker included) and the services' idle RSS.
#   tests/bench/e2e/run.sh BUILD_DIR [SECONDS_PER_RUN]
set -euo pipefail
here=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$here/$build
seconds=${2:-5}
bin=$build/bench/bench_e2e
[[ -x $bin ]] || cmake --build "$build" --target bench_e2e >/dev/null
source "$here/tests/bench/broker.sh"
bench_broker_start "$(mktemp -d "${TMPDIR:-/tmp}/aos-bench-rmq.XXXXXX")"
url=$bench_url
AOS_BIN_DIR=$build/bin AOS_SOURCE_DIR=$here "$bin" "$url" "$seconds"
