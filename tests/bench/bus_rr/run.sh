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
data=$(mktemp -d "${TMPDIR:-/tmp}/aos-bench-rmq.XXXXXX")
port=
for _ in $(seq 1 200); do
  p=$((20000 + RANDOM % 10000))
  if ! ss -Hltn "sport = :$p" | grep -q . && ! ss -Hltn "sport = :$((p + 20000))" | grep -q . \
    && ! ss -Hltn "sport = :$((p + 30000))" | grep -q .; then
    port=$p
    break
  fi
done
[[ -n $port ]] || { echo "no free port" >&2; exit 1; }
cleanup() {
  "$here/scripts/rabbitmq.sh" stop "$data" "$port" >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT
url=$("$here/scripts/rabbitmq.sh" start "$data" "$port" | tail -n 1)
"$bin" "$url" "$seconds"
