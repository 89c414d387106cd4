#!/usr/bin/env bash
# Storage benchmark: appends and reads per second through the bus for each backend, against
# the raw request/reply rate of the same broker in the same run. Starts a private RabbitMQ
# (scripts/rabbitmq.sh) and, when tests/node has Azurite installed, a private Azurite (the
# azurite fixture script); runs BUILD/bench/bench_storage; stops both.
#   tests/bench/storage/run.sh BUILD_DIR [SECONDS_PER_PHASE]
set -euo pipefail
here=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$here/$build
seconds=${2:-5}
bin=$build/bench/bench_storage
[[ -x $bin ]] || cmake --build "$build" --target bench_storage >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/aos-bench-storage.XXXXXX")
azurite_fixture=$here/tests/fixtures/azurite/fixture.sh
source "$here/tests/bench/broker.sh"
bench_on_exit "[[ -f '$work/azurite/connection_string' ]] && '$azurite_fixture' cleanup '$work/azurite' '$here' >/dev/null 2>&1; rm -rf '$work'"
bench_broker_start "$work/rabbitmq"
url=$bench_url
azure_cs=
if [[ -f $here/tests/node/node_modules/azurite/dist/src/azurite.js ]] &&
  "$azurite_fixture" setup "$work/azurite" "$here" >/dev/null 2>&1; then
  azure_cs=$(cat "$work/azurite/connection_string")
fi
echo "storage bench: ${seconds}s per phase, RabbitMQ $url${azure_cs:+, Azurite}"
TMPDIR=$work "$bin" "$url" "$seconds" "$azure_cs"
