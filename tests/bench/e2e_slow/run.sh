#!/usr/bin/env bash
# Slow-model benchmark: turns/s through aos-agent-runner with the fake model answering after
# 1 s, at 1,000 concurrent conversations, and the runner's peak RSS. Starts a private RabbitMQ
# on a free port (scripts/rabbitmq.sh); bench_e2e_slow starts the fake model, aos-storage and
# aos-agent-runner and drives turns over the bus as the router would. Then bench_model_slow
# measures the runner's model layer alone: 1,000 concurrent 1 s model calls in one process.
#   tests/bench/e2e_slow/run.sh BUILD_DIR [SECONDS] [CONVERSATIONS] [MODEL_DELAY_MS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$here/$build
seconds=${2:-20}
convs=${3:-1000}
delay=${4:-1000}
bin=$build/bench/bench_e2e_slow
[[ -x $bin && -x $build/bench/bench_model_slow ]] ||
  cmake --build "$build" --target bench_e2e_slow bench_model_slow >/dev/null
source "$here/tests/bench/broker.sh"
bench_broker_start "$(mktemp -d "${TMPDIR:-/tmp}/aos-bench-rmq.XXXXXX")"
url=$bench_url
AOS_BIN_DIR=$build/bin AOS_SOURCE_DIR=$here "$bin" "$url" "$seconds" "$convs" "$delay"
AOS_SOURCE_DIR=$here "$build/bench/bench_model_slow" "$convs" "$delay" 3
