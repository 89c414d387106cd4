#!/usr/bin/env bash
# Secure by default (issue 9 item 7): every service started with no credentials and without
# AOS_DEV_MODE=1 refuses to start, before touching the network, with a message saying what
# to set.   test_secure_default.sh BIN_DIR SOURCE_DIR
set -u
bin=$1 src=$2
fail=0
run() { # service, then extra VAR=value
  local svc=$1; shift
  local out rc
  out=$(env -i PATH="$PATH" HOME="${HOME:-/tmp}" AOS_CONFIG="$src/deploy/config/aos.json" \
        AOS_HTTP_ADDR=127.0.0.1:0 AOS_ADMIN_ADDR=127.0.0.1:0 AOS_BUS_URL=amqp://guest:guest@127.0.0.1:1 \
        AOS_SQLITE_PATH=/tmp/aos-secure-default-$$.db "$@" timeout 60 "$bin/$svc" 2>&1 >/dev/null)
  rc=$?
  printf '%s' "$out"
  return $rc
}
expect_refusal() { # service, text..., -- extra env
  local svc=$1; shift
  local texts=()
  while [[ $# -gt 0 && $1 != -- ]]; do texts+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  local out rc
  out=$(run "$svc" "$@"); rc=$?
  if [[ $rc -eq 0 || $rc -eq 124 ]]; then
    echo "FAIL: $svc started (rc $rc) without credentials: $out"; fail=1; return
  fi
  for t in "${texts[@]}" "AOS_DEV_MODE=1"; do
    [[ $out == *"$t"* ]] || { echo "FAIL: $svc refused (rc $rc) without saying '$t': $out"; fail=1; }
  done
  echo "ok: $svc refuses (rc $rc)"
}
expect_refusal aos-router AOS_API_KEYS AOS_API_KEYS_FILE AOS_BUS_URL
# keys alone are not enough: the bus still uses the default guest account
expect_refusal aos-router AOS_BUS_URL -- AOS_API_KEYS=0123456789abcdef-secure-test
for svc in aos-agent-runner aos-storage aos-ml-pipeline; do
  expect_refusal "$svc" AOS_BUS_URL AOS_SERVICEBUS_CONNECTION_STRING
done
rm -f /tmp/aos-secure-default-$$.db*
exit $fail
