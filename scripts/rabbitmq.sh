#!/usr/bin/env bash
# A private RabbitMQ node for AOS (local stack, tests, benchmarks).
#
#   scripts/rabbitmq.sh start|stop|restart|status DATA_DIR PORT
#
# Everything lives under DATA_DIR: Mnesia/quorum data, logs, the Erlang cookie (HOME), the
# generated rabbitmq.conf and the pid file. The node is aos<PORT>@localhost, listens for AMQP
# on 127.0.0.1:PORT, uses PORT+1000 for Erlang distribution (and PORT+2000.. for the CLI
# tools), PORT+3000 for the management HTTP API on 127.0.0.1 (what `aosctl topology apply`
# talks to), has rabbitmq_amqp1_0 and rabbitmq_management enabled and loads
# deploy/rabbitmq/definitions.json at boot (the shared exchanges, policies and service queues;
# agent queues come from the configuration: `aosctl topology apply`). AOS_RABBITMQ_DEFINITIONS
# names more definition files (colon-separated) loaded at boot too (tests' own entities).
# The system service is never touched: the server is started directly from
# /usr/lib/rabbitmq/bin with its own environment, so this works as root and as a user.
# `start` prints the AMQP URL as its last line once the node accepts AMQP 1.0 connections.
# Data survive stop/start (quorum queues are on disk); `rm -rf DATA_DIR` resets the node.
# Optional TLS listener (tests): AOS_RABBITMQ_TLS_PORT plus AOS_RABBITMQ_TLS_DIR holding
# ca.pem, server.pem and server.key.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
RMQ_BIN=${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}
START_TIMEOUT=${AOS_RABBITMQ_START_TIMEOUT:-180}

usage() {
  echo "usage: $0 start|stop|restart|status DATA_DIR PORT" >&2
  exit 2
}

(($# == 3)) || usage
cmd=$1
port=$3
[[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port <= 30000)) || {
  echo "rabbitmq.sh: PORT must be 1..30000 (distribution uses PORT+1000, CLI PORT+2000)" >&2
  exit 2
}
mkdir -p "$2"
data=$(cd "$2" && pwd)
node=aos${port}@localhost
dist_port=$((port + 1000))
pidfile=$data/rabbitmq.pid
url=amqp://guest:guest@127.0.0.1:$port
mgmt_port=$((port + 3000))

rmq_env() {
  env HOME="$data" \
    RABBITMQ_NODENAME="$node" \
    RABBITMQ_USE_LONGNAME=false \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_DIST_PORT="$dist_port" \
    RABBITMQ_CTL_DIST_PORT_MIN=$((port + 2000)) \
    RABBITMQ_CTL_DIST_PORT_MAX=$((port + 2010)) \
    RABBITMQ_MNESIA_BASE="$data/mnesia" \
    RABBITMQ_LOG_BASE="$data/log" \
    RABBITMQ_LOGS="$data/log/$node.log" \
    RABBITMQ_PID_FILE="$pidfile" \
    RABBITMQ_CONFIG_FILE="$data/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$data/advanced.config" \
    RABBITMQ_CONF_ENV_FILE="$data/rabbitmq-env.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$data/enabled_plugins" \
    RABBITMQ_PLUGINS_EXPAND_DIR="$data/plugins-expand" \
    RABBITMQ_FEATURE_FLAGS_FILE="$data/feature_flags" \
    RABBITMQ_QUORUM_DIR="$data/mnesia/$node/quorum" \
    "$@"
}

node_pid() {
  [[ -s $pidfile ]] || return 1
  local pid
  pid=$(tr -dc 0-9 <"$pidfile")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  # a recycled pid must belong to this node's Erlang VM
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "RABBITMQ_NODENAME=$node" || return 1
  echo "$pid"
}

amqp_ready() {
  # The AMQP listener opens only after boot (plugins, definitions) finished. Send the
  # AMQP 1.0 SASL protocol header and expect the broker's SASL header back.
  local reply
  reply=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'AMQP\x03\x01\x00\x00' >&3 &&
    head -c 8 <&3 | od -An -tx1" 2>/dev/null) || return 1
  [[ $(echo $reply) == "41 4d 51 50 03 01 00 00" ]]
}

write_config() {
  mkdir -p "$data/log" "$data/mnesia"
  # a directory of definition files: deploy's own plus the extra ones, imported in name order
  rm -rf "$data/definitions"
  mkdir -p "$data/definitions"
  cp "$here/deploy/rabbitmq/definitions.json" "$data/definitions/00-deploy.json"
  local i=1 f
  local IFS=:
  for f in ${AOS_RABBITMQ_DEFINITIONS:-}; do
    [[ -n $f ]] || continue
    cp "$f" "$data/definitions/$(printf '%02d' "$i")-extra.json"
    i=$((i + 1))
  done
  unset IFS
  sed "s#^load_definitions = .*#load_definitions = $data/definitions#" \
    "$here/deploy/rabbitmq/rabbitmq.conf" >"$data/rabbitmq.conf"
  cat >>"$data/rabbitmq.conf" <<MGMT
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt_port
MGMT
  if [[ -n ${AOS_RABBITMQ_TLS_PORT:-} ]]; then
    local tls=${AOS_RABBITMQ_TLS_DIR:?AOS_RABBITMQ_TLS_DIR must name the certificate directory}
    cat >>"$data/rabbitmq.conf" <<TLS
listeners.ssl.default = 127.0.0.1:$AOS_RABBITMQ_TLS_PORT
ssl_options.cacertfile = $tls/ca.pem
ssl_options.certfile = $tls/server.pem
ssl_options.keyfile = $tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
TLS
  fi
  # no console logging: the node runs detached; its log is $data/log/
  : >"$data/rabbitmq-env.conf"
  [[ -f $data/advanced.config ]] || echo "[]." >"$data/advanced.config"
  cp "$here/deploy/rabbitmq/enabled_plugins" "$data/enabled_plugins"
  if [[ ! -s $data/.erlang.cookie ]]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$data/.erlang.cookie")
  fi
  chmod 400 "$data/.erlang.cookie"
}

port_in_use() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

do_stop() {
  local pid
  if ! pid=$(node_pid); then
    rm -f "$pidfile"
    return 0
  fi
  # SIGTERM makes the Erlang VM run init:stop(): RabbitMQ shuts down cleanly and quorum
  # queue state is on disk. Escalate only if it does not go away.
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "rabbitmq.sh: $node did not stop in 30 s, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
}

do_start() {
  if node_pid >/dev/null && amqp_ready; then
    echo "$url"
    return 0
  fi
  do_stop # a stale node of an aborted earlier run
  if port_in_use "$port"; then
    echo "rabbitmq.sh: port $port is in use by another process" >&2
    exit 1
  fi
  if port_in_use "$mgmt_port"; then
    echo "rabbitmq.sh: management port $mgmt_port is in use by another process" >&2
    exit 1
  fi
  if port_in_use "$dist_port"; then
    echo "rabbitmq.sh: distribution port $dist_port is in use by another process" >&2
    exit 1
  fi
  write_config
  [[ -x $RMQ_BIN/rabbitmq-server ]] || {
    echo "rabbitmq.sh: $RMQ_BIN/rabbitmq-server not found (install rabbitmq-server)" >&2
    exit 1
  }
  # own session so that signals to the caller's process group do not reach the node
  rmq_env setsid "$RMQ_BIN/rabbitmq-server" >"$data/log/stdout.log" 2>&1 </dev/null &
  local launcher=$!
  local deadline=$((SECONDS + START_TIMEOUT))
  until amqp_ready; do
    if ((SECONDS >= deadline)); then
      echo "rabbitmq.sh: $node did not accept AMQP connections within ${START_TIMEOUT}s; log:" >&2
      tail -n 30 "$data/log/stdout.log" >&2 || true
      do_stop
      exit 1
    fi
    if ! kill -0 "$launcher" 2>/dev/null && ! node_pid >/dev/null; then
      echo "rabbitmq.sh: $node exited during start; log:" >&2
      tail -n 30 "$data/log/stdout.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  echo "$url"
}

case $cmd in
start) do_start ;;
stop) do_stop ;;
restart)
  do_stop
  do_start
  ;;
status)
  if pid=$(node_pid) && amqp_ready; then
    echo "running $node pid $pid $url"
  else
    echo "stopped $node"
    exit 3
  fi
  ;;
*) usage ;;
esac
