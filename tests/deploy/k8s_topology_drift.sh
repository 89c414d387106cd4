#!/usr/bin/env bash
# The KEDA triggers of the agent-runner in deploy/k8s are rendered from the agents of
# deploy/config/aos.json (`aosctl topology render keda`, docs/deploy.md); this fails when a
# committed rendering is out of date with the config.
#   k8s_topology_drift.sh AOSCTL SOURCE_DIR
set -euo pipefail
aosctl=$1
src=$2
rc=0
check() { # file, render args...
  local file=$1
  shift
  if ! diff -u "$src/$file" <("$aosctl" topology render keda --config "$src/deploy/config/aos.json" "$@"); then
    echo "$file is out of date; run:" >&2
    echo "  aosctl topology render keda $* --config deploy/config/aos.json > $file" >&2
    rc=1
  fi
}
check deploy/k8s/overlays/azure/keda-agents.yaml
check deploy/k8s/overlays/rabbitmq/keda-agents.yaml --bus rabbitmq
exit $rc
