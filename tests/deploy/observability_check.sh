#!/usr/bin/env bash
# deploy/observability: the PrometheusRule's rule groups pass `promtool check rules`, and every
# metric the dashboard and the rules query is one the services export (a name registered in
# services/ or common/src) or an external one named here (KEDA, Prometheus).
#   observability_check.sh SOURCE_DIR
# Exit 77 (skip) when promtool is not installed.
set -euo pipefail
src=$1
obs=$src/deploy/observability
command -v promtool >/dev/null || { echo "SKIP: promtool is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Everything under `spec:` is a Prometheus rules file, indented by two spaces.
awk 'found { sub(/^  /, ""); print } /^spec:/ { found = 1 }' "$obs/prometheus-rules.yaml" \
  >"$tmp/rules.yaml"
grep -q '^groups:' "$tmp/rules.yaml" || { echo "no groups under spec: in prometheus-rules.yaml" >&2; exit 1; }
promtool check rules "$tmp/rules.yaml"

# What the services register: every "aos_…" string literal of the sources.
grep -rhoE '"aos_[a-z0-9_]+"' "$src/services" "$src/common/src" --include='*.c' |
  tr -d '"' | sort -u >"$tmp/exported"
external='^(keda_scaler_metrics_value|up)$'
rc=0
for f in "$obs/aos-dashboard.json" "$obs/prometheus-rules.yaml"; do
  names=$(grep -oE '\b(aos|keda|rabbitmq)_[a-z0-9_]+\b|\bup\{' "$f" | sed 's/{$//' | sort -u)
  [[ -n $names ]] || { echo "$f queries no metric" >&2; rc=1; }
  for n in $names; do
    [[ $n =~ $external ]] && continue
    base=${n%_bucket}
    base=${base%_sum}
    base=${base%_count}
    if ! grep -qx "$n" "$tmp/exported" && ! grep -qx "$base" "$tmp/exported"; then
      echo "$(basename "$f"): $n is not a metric the services export" >&2
      rc=1
    fi
  done
done
# the panels and alerts the deployment promises (docs/deploy.md "Watching it")
for m in aos_router_turns_total aos_router_turn_duration_seconds_bucket \
  aos_runner_model_calls_total aos_runner_model_retries_total aos_runner_model_breaker_state \
  aos_runner_model_fallbacks_total keda_scaler_metrics_value aos_router_heartbeats_total; do
  grep -q "$m" "$obs/aos-dashboard.json" || { echo "the dashboard has no panel on $m" >&2; rc=1; }
done
grep -q 'outcome=\\"dead_lettered\\"' "$obs/aos-dashboard.json" ||
  { echo "the dashboard has no dead-letter panel" >&2; rc=1; }
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$obs/aos-dashboard.json" 2>/dev/null ||
  node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' "$obs/aos-dashboard.json"
[[ $rc == 0 ]] && echo "ok: rules valid, every queried metric is exported"
exit $rc
