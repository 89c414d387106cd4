#!/usr/bin/env bash
# Start (or --stop) the local AOS stack: a private RabbitMQ with the AMQP 1.0 plugin and
# deploy/rabbitmq/definitions.json, the queues of the agents in AOS_CONFIG (aosctl topology
# apply, docs/deploy.md: adding an agent is one edit to the config), then every AOS service
# that has been built:
# aos-storage (SQLite), aos-router on :8080 and one aos-agent-runner serving the sample agents
# of deploy/config/aos.json (offline provider unless a model endpoint is configured).
# State and logs live under .run/ ; `make stop` (scripts/run.sh --stop) stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
run=$here/.run
mkdir -p "$run/logs"

AMQP_PORT=${AOS_RUN_AMQP_PORT:-5672}
HTTP_PORT=${AOS_RUN_HTTP_PORT:-8080}
ADMIN_BASE=${AOS_RUN_ADMIN_BASE:-9090}

stop_all() {
  for pidf in "$run"/*.pid; do
    [[ -f $pidf ]] || continue
    pid=$(cat "$pidf")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidf"
  done
  [[ -x $here/scripts/rabbitmq.sh ]] && "$here/scripts/rabbitmq.sh" stop "$run/rabbitmq" "$AMQP_PORT" >/dev/null 2>&1 || true
}

if [[ ${1:-} == --stop ]]; then
  stop_all
  echo "AOS stopped."
  exit 0
fi

build=${1:-build}
[[ $build = /* ]] || build=$here/$build
bin=$build/bin

stop_all
echo "==> starting RabbitMQ (AMQP 1.0) on 127.0.0.1:$AMQP_PORT"
bus_url=$("$here/scripts/rabbitmq.sh" start "$run/rabbitmq" "$AMQP_PORT" | tail -n 1)

export AOS_BUS_URL=$bus_url
export AOS_BUS_PROFILE=rabbitmq
export AOS_CONFIG=${AOS_CONFIG:-$here/deploy/config/aos.json}
export AOS_LOG_LEVEL=${AOS_LOG_LEVEL:-info}
export AOS_STORAGE_BACKEND=${AOS_STORAGE_BACKEND:-sqlite}
export AOS_SQLITE_PATH=${AOS_SQLITE_PATH:-$run/aos.db}
# Development mode: the local stack has no API keys and uses RabbitMQ's guest account, which
# the services refuse outside it (docs/security.md). Not for anything reachable by others.
export AOS_DEV_MODE=1

# The agents' queues and dead-letter queues come from the configuration, through the broker's
# management API (scripts/rabbitmq.sh puts it on the AMQP port + 3000).
export AOS_RABBITMQ_MANAGEMENT_URL=http://guest:guest@127.0.0.1:$((AMQP_PORT + 3000))
if [[ -x $bin/aosctl ]]; then
  echo "==> provisioning the agents of $AOS_CONFIG"
  "$bin/aosctl" topology apply --config "$AOS_CONFIG" | sed 's/^/    /'
else
  echo "    (aosctl is not built yet: agent queues not provisioned)" >&2
fi

started=()
start_service() { # name admin_port [extra env...]
  local name=$1 admin=$2; shift 2
  if [[ ! -x $bin/$name ]]; then
    echo "    ($name is not built yet: skipped)"
    return
  fi
  env AOS_ADMIN_ADDR="127.0.0.1:$admin" AOS_INSTANCE_ID="$name-local" "$@" \
    "$bin/$name" >>"$run/logs/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
    kill -0 "$(cat "$run/$name.pid")" 2>/dev/null || { echo "$name failed to start; see $run/logs/$name.log" >&2; tail -n 20 "$run/logs/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  started+=("$name (admin http://127.0.0.1:$admin)")
}

echo "==> starting AOS services"
start_service aos-storage $((ADMIN_BASE + 1))
# The sample agents' domain knowledge (deploy/config/knowledge/<agent>/...) goes into the
# "knowledge" container, where the config's domain_knowledge entries point.
if [[ -x $bin/aosctl && -x $bin/aos-storage ]]; then
  (cd "$here/deploy/config/knowledge" && find . -type f -name '*.md' | sed 's|^\./||') |
  while read -r doc; do
    "$bin/aosctl" blob put knowledge "$doc" "$here/deploy/config/knowledge/$doc" >/dev/null ||
      echo "    (could not store knowledge/$doc)" >&2
  done
fi
start_service aos-agent-runner $((ADMIN_BASE + 2))
# LoRA training runs the reference PEFT trainer where its Python stack is installed.
if [[ -z ${AOS_ML_TRAINER_CMD:-} ]] && python3 -c 'import peft, transformers, torch' 2>/dev/null; then
  export AOS_ML_TRAINER_CMD="python3 $here/deploy/trainer/train_lora.py"
fi
start_service aos-ml-pipeline $((ADMIN_BASE + 3))
start_service aos-router $ADMIN_BASE AOS_HTTP_ADDR="${AOS_HTTP_ADDR:-127.0.0.1:$HTTP_PORT}"

echo
echo "AOS is up, in DEVELOPMENT MODE (AOS_DEV_MODE=1): no API keys, default bus account."
echo "  Do not expose it. Outside development set AOS_API_KEYS and bus credentials (docs/security.md)."
echo "  RabbitMQ (AMQP 1.0): $bus_url   management: http://127.0.0.1:$((AMQP_PORT + 3000))"
for s in "${started[@]+"${started[@]}"}"; do echo "  $s"; done
echo "  logs: $run/logs/   stop: make stop"
if [[ -x $bin/aos-router ]]; then
  model="offline provider (set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY, or AOS_OPENAI_BASE_URL, for a real model)"
  [[ -n ${AZURE_OPENAI_ENDPOINT:-}${AOS_OPENAI_BASE_URL:-} ]] && model="configured model endpoint"
  echo "  agents answer with: $model"
  cat <<EOT

Try it:
  curl -s localhost:$HTTP_PORT/v1/messages -H 'content-type: application/json' \\
       -d '{"text":"What should our budget be for next quarter?"}'
  $bin/aosctl send "Plan a marketing campaign for our launch"
  $bin/aosctl agents
  operator console: http://localhost:$HTTP_PORT/console   (docs/console.md)
EOT
else
  echo "  (the router is not built yet: only the bus and the services above are running)"
fi
