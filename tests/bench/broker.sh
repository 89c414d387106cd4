# Sourced by tests/bench/*/run.sh: a private RabbitMQ for one benchmark run.
#   bench_broker_start DATA_DIR   -> sets bench_url and exports AOS_BENCH_BROKER_PID (the
#                                    broker's beam.smp, for CPU per operation); stops the broker
#                                    and removes DATA_DIR on exit (more clean-up:
#                                    bench_on_exit "command"; run last-first)
# Expects $here (the source tree) to be set by the caller.
bench_exit_cmds=()
bench_on_exit() { bench_exit_cmds+=("$1"); }
bench_run_exit() {
  local i
  for ((i = ${#bench_exit_cmds[@]} - 1; i >= 0; i--)); do eval "${bench_exit_cmds[i]}" || true; done
}
trap bench_run_exit EXIT

# A port p whose derived ports (p+1000 distribution, p+2000 CLI, p+3000 management;
# scripts/rabbitmq.sh) are free too, all below the kernel's ephemeral range (32768+).
bench_free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 9000))
    if ! ss -Hltn "sport = :$p" | grep -q . && ! ss -Hltn "sport = :$((p + 1000))" | grep -q . \
      && ! ss -Hltn "sport = :$((p + 2000))" | grep -q . \
      && ! ss -Hltn "sport = :$((p + 3000))" | grep -q .; then
      echo "$p"
      return 0
    fi
  done
  echo "no free port" >&2
  return 1
}

bench_broker_start() {
  local data=$1 port
  port=$(bench_free_port)
  mkdir -p "$data"
  bench_on_exit "'$here/scripts/rabbitmq.sh' stop '$data' '$port' >/dev/null 2>&1; rm -rf '$data'"
  # the benchmarks' queues (aos.test.*, aos.agent.rt*) are the tests' own entities
  bench_url=$(AOS_RABBITMQ_DEFINITIONS=$here/tests/fixtures/rabbitmq/test-definitions.json \
    "$here/scripts/rabbitmq.sh" start "$data" "$port" | tail -n 1)
  AOS_BENCH_BROKER_PID=$(tr -dc 0-9 <"$data/rabbitmq.pid" 2>/dev/null || true)
  export AOS_BENCH_BROKER_PID
}
