#!/usr/bin/env bash
# Smoke test of the built images (docs/images.md): runs the stack from the images'
# filesystems, the way a container runtime would, without one (podman run cannot run here):
#
#   for aos-storage, aos-agent-runner, aos-ml-pipeline and aos-router: buildah from + mount
#   the image; in new mount and PID namespaces, the image's root is bind-mounted read-only
#   (readOnlyRootFilesystem) with /proc, /dev, a tmpfs /tmp, the agents config at /etc/aos
#   (the ConfigMap of deploy/k8s) and, for storage, a writable /var/lib/aos (the volume); the
#   image's ENTRYPOINT (tini) runs as PID 1 under chroot as the image's USER, with the image's
#   ENV plus the deployment's settings (bus URL, ports, AOS_DEV_MODE=1).
#
# against a private RabbitMQ (tests/fixtures/rabbitmq/fixture.sh). Then: every service's
# /healthz and /readyz answer on its admin port; the aosctl image stores the sample agents'
# knowledge; POST /v1/messages through the router is answered by the offline provider; the
# conversation reads back from storage; every service runs as a non-root uid; SIGTERM to each
# container's PID 1 stops it cleanly within the Kubernetes grace period.
#
#   tests/images/smoke.sh [--build]   (--build: scripts/images.sh build first)
# Exit 0 pass, 1 fail, 77 skipped (not root, or no buildah/unshare).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
REPO=${AOS_IMAGE_REPO:-localhost}
TAG=${AOS_IMAGE_TAG:-dev}
GRACE=${AOS_SMOKE_GRACE:-45} # terminationGracePeriodSeconds in deploy/k8s

if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root (buildah mount, chroot, namespaces)"; exit 77; fi
for t in buildah unshare chroot curl; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed (scripts/deps.sh)"; exit 77; }
done
if [[ ${1:-} == --build ]]; then "$src/scripts/images.sh" build; fi

t_start=$(date +%s)
work=$(mktemp -d /tmp/aos-images-smoke.XXXXXX)
chmod 755 "$work"
declare -A CTR PID ADMIN
ok=0
say() { printf '%s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }

cleanup() {
  local s
  for s in "${!PID[@]}"; do kill -KILL "${PID[$s]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for s in "${!CTR[@]}"; do buildah rm "${CTR[$s]}" >/dev/null 2>&1 || true; done
  "$src/tests/fixtures/rabbitmq/fixture.sh" cleanup "$work/rabbitmq" "$src" >/dev/null 2>&1 || true
  if ((ok)); then rm -rf "$work"; else
    local f
    for f in "$work"/logs/*.log; do [[ -f $f ]] && { say "--- $f (last 30 lines)"; tail -n 30 "$f"; }; done
    say "(logs kept in $work/logs)"
  fi
}
trap cleanup EXIT

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 9000))
    port_free "$p" && { echo "$p"; return; }
  done
  fail "no free port"
}

image_cfg() { buildah inspect --type image --format "$2" "$1"; }

# start NAME IMAGE ADMIN_PORT [ENV=VALUE...]: the image's entrypoint as PID 1 of new
# namespaces, chrooted into the mounted image, as the image's user.
start() {
  local name=$1 img=$2 admin=$3; shift 3
  image_cfg "$img" '{{.FromImageID}}' >/dev/null 2>&1 || fail "image $img is missing (make images)"
  local ctr root user entry wd
  ctr=$(buildah from --pull=never --quiet --name "smoke-$name-$$" "$img")
  CTR[$name]=$ctr
  root=$(buildah mount "$ctr")
  user=$(image_cfg "$img" '{{.OCIv1.Config.User}}')
  wd=$(image_cfg "$img" '{{.OCIv1.Config.WorkingDir}}')
  mapfile -t entry < <(image_cfg "$img" '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}')
  mapfile -t envs < <(image_cfg "$img" '{{range .OCIv1.Config.Env}}{{println .}}{{end}}')
  [[ -n $user && $user != 0* && $user != root* ]] || fail "$img has no non-root USER ($user)"
  [[ ${#entry[@]} -gt 0 ]] || fail "$img has no ENTRYPOINT"
  local data=""
  if [[ $name == storage ]]; then
    data=$work/storage-data; mkdir -p "$data"; chown "${user}" "$data"
  fi
  mkdir -p "$work/logs"
  local -a setup=(
    "mount --bind '$root' '$root' && mount -o remount,bind,ro '$root'"
    "mount -t proc proc '$root/proc'"
    "mount --rbind /dev '$root/dev'"
    "mount -t tmpfs -o mode=1777 tmpfs '$root/tmp'"
    "mount --bind '$src/deploy/config' '$root/etc/aos' && mount -o remount,bind,ro '$root/etc/aos'"
  )
  [[ -n $data ]] && setup+=("mount --bind '$data' '$root/var/lib/aos'")
  local script
  script=$(IFS=';'; echo "set -e; ${setup[*]}")
  # exec chroot: the entrypoint (tini) becomes PID 1 of the new PID namespace
  script+="; cd '$root${wd:-/}'; exec chroot --userspec='$user' --groups='' '$root' \"\$@\""
  unshare --mount --propagation private --pid --fork --kill-child \
    sh -c "$script" sh env -i "${envs[@]}" "$@" "${entry[@]}" \
    >"$work/logs/$name.log" 2>&1 &
  local outer=$!
  # the container's PID 1 as seen from here: unshare's child
  local p=""
  for _ in $(seq 100); do p=$(pgrep -P "$outer" | head -n 1) && [[ -n $p ]] && break; sleep 0.1; done
  [[ -n $p ]] || fail "$name did not start"
  PID[$name]=$outer
  ADMIN[$name]=$admin
}

wait_ready() {
  local name=$1 admin=${ADMIN[$1]}
  for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || fail "$name exited before it was ready"
    sleep 0.1
  done
  fail "$name not ready within 60 s"
}

# PID 1 of the container (tini) and the service (its child): command, uid, capabilities.
describe() {
  local name=$1 pid1 svc uid cap nspid
  pid1=$(pgrep -P "${PID[$name]}" | head -n 1)
  svc=$(pgrep -P "$pid1" | head -n 1)
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$svc/status")
  cap=$(awk '/^CapEff:/ {print $2}' "/proc/$svc/status")
  nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/$pid1/status")
  ((uid != 0)) || fail "$name runs as root"
  printf '  %-16s pid %s: %s -> %s  uid %s  CapEff %s\n' "$name" "$nspid" \
    "$(tr '\0' ' ' <"/proc/$pid1/cmdline" | cut -d' ' -f1)" \
    "$(tr '\0' ' ' <"/proc/$svc/cmdline" | cut -d' ' -f1)" "$uid" "$cap"
}

say "== images"
for s in aos-storage aos-agent-runner aos-ml-pipeline aos-router aosctl; do
  img=$REPO/$s:$TAG
  printf '  %-32s %8s  user %s  entrypoint %s\n' "$img" \
    "$(buildah images --format '{{.Size}}' "$img" 2>/dev/null | head -n 1)" \
    "$(image_cfg "$img" '{{.OCIv1.Config.User}}' 2>/dev/null)" \
    "$(image_cfg "$img" '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}' 2>/dev/null)"
done

say "== RabbitMQ (tests/fixtures/rabbitmq/fixture.sh)"
"$src/tests/fixtures/rabbitmq/fixture.sh" setup "$work/rabbitmq" "$src" >"$work/rabbitmq.log" 2>&1 ||
  { cat "$work/rabbitmq.log"; fail "RabbitMQ fixture did not start"; }
bus=$(cat "$work/rabbitmq/url")
say "  $bus"

common=(AOS_DEV_MODE=1 AOS_BUS_URL="$bus" AOS_BUS_PROFILE=rabbitmq AOS_LOG_LEVEL=info)

# aosctl ARGS...: one run of the aosctl image (a Job or init container in Kubernetes), chrooted
# as its user with its ENTRYPOINT and ENV, the agents config at /etc/aos.
aosctl_run() {
  local img=$REPO/aosctl:$TAG ctr root
  ctr=$(buildah from --pull=never --quiet "$img")
  CTR[aosctl-$ctr]=$ctr
  root=$(buildah mount "$ctr")
  mapfile -t entry < <(image_cfg "$img" '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}')
  mapfile -t envs < <(image_cfg "$img" '{{range .OCIv1.Config.Env}}{{println .}}{{end}}')
  unshare --mount --propagation private sh -c "set -e
    mount --bind '$src/deploy/config' '$root/etc/aos'; mount -o remount,bind,ro '$root/etc/aos'
    exec chroot --userspec='$(image_cfg "$img" '{{.OCIv1.Config.User}}')' --groups='' '$root' \"\$@\"" \
    sh env -i "${envs[@]}" "${common[@]}" ${mgmt:+AOS_RABBITMQ_MANAGEMENT_URL="$mgmt"} \
    "${entry[@]}" "$@" >>"$work/logs/aosctl.log" 2>&1
}
mkdir -p "$work/logs"

# The configured agents' queues, as the runner's init container creates them in deploy/k8s
# (aosctl topology apply over the management API), where the broker has one.
mgmt=$(cat "$work/rabbitmq/management_url" 2>/dev/null || true)
if [[ -n $mgmt ]]; then
  aosctl_run topology apply --config /etc/aos/aos.json || fail "aosctl topology apply"
  say "  aosctl image: topology apply for the agents of aos.json"
fi
say "== starting the stack from the images (chroot, read-only root, image USER/ENTRYPOINT/ENV)"
t0=$(date +%s)
a=$(free_port)
start storage "$REPO/aos-storage:$TAG" "$a" "${common[@]}" AOS_STORAGE_BACKEND=sqlite \
  AOS_ADMIN_ADDR="127.0.0.1:$a" AOS_INSTANCE_ID=storage-smoke
wait_ready storage
# the sample agents' knowledge, stored through the aosctl image (as scripts/run.sh does)
n=0
while read -r doc; do
  aosctl_run blob put knowledge "$doc" "/etc/aos/knowledge/$doc" || fail "aosctl blob put knowledge $doc"
  n=$((n + 1))
done < <(cd "$src/deploy/config/knowledge" && find . -type f -name '*.md' | sed 's|^\./||' | sort)
say "  aosctl image: stored $n knowledge documents"
a=$(free_port)
start agent-runner "$REPO/aos-agent-runner:$TAG" "$a" "${common[@]}" \
  AOS_ADMIN_ADDR="127.0.0.1:$a" AOS_INSTANCE_ID=runner-smoke
a=$(free_port)
start ml-pipeline "$REPO/aos-ml-pipeline:$TAG" "$a" "${common[@]}" \
  AOS_ADMIN_ADDR="127.0.0.1:$a" AOS_INSTANCE_ID=ml-smoke
a=$(free_port)
http=$(free_port)
start router "$REPO/aos-router:$TAG" "$a" "${common[@]}" \
  AOS_ADMIN_ADDR="127.0.0.1:$a" AOS_HTTP_ADDR="127.0.0.1:$http" AOS_INSTANCE_ID=router-smoke
for s in agent-runner ml-pipeline router; do wait_ready "$s"; done
say "  all ready in $(($(date +%s) - t0)) s"
for s in storage agent-runner ml-pipeline router; do describe "$s"; done

say "== probes"
for s in storage agent-runner ml-pipeline router; do
  h=$(curl -fsS -o /dev/null -w '%{http_code}' "http://127.0.0.1:${ADMIN[$s]}/healthz") || fail "$s /healthz"
  r=$(curl -fsS -o /dev/null -w '%{http_code}' "http://127.0.0.1:${ADMIN[$s]}/readyz") || fail "$s /readyz"
  m=$(curl -fsS "http://127.0.0.1:${ADMIN[$s]}/metrics" | grep -c '^[a-z]') || fail "$s /metrics"
  printf '  %-16s /healthz %s  /readyz %s  /metrics %s samples\n' "$s" "$h" "$r" "$m"
done

say "== one turn: POST /v1/messages"
body='{"text":"What should our budget be for next quarter?","user":"smoke"}'
say "  > $body"
resp=$(curl -sS --max-time 60 -w '\n%{http_code}' "http://127.0.0.1:$http/v1/messages" \
  -H 'content-type: application/json' -d "$body") || fail "POST /v1/messages"
code=${resp##*$'\n'}; resp=${resp%$'\n'*}
say "  < $code $resp"
[[ $code == 200 ]] || fail "POST /v1/messages answered $code"
conv=$(sed -n 's/.*"conversation_id" *: *"\([^"]*\)".*/\1/p' <<<"$resp")
[[ -n $conv ]] || fail "no conversation_id in the reply"
grep -q '"reply"' <<<"$resp" || fail "no reply"
grep -qi offline <<<"$resp" || fail "the reply is not the offline provider's"

say "== stored by storage: GET /v1/conversations/$conv"
stored=$(curl -fsS --max-time 30 "http://127.0.0.1:$http/v1/conversations/$conv") || fail "GET conversation"
say "  < $stored"
roles=$(grep -o '"role" *: *"[a-z]*"' <<<"$stored" | sed 's/.*"\([a-z]*\)"$/\1/' | tr '\n' ' ')
say "  roles: $roles"
grep -q user <<<"$roles" && grep -q -E 'assistant|agent' <<<"$roles" || fail "the turn is not stored"
db=$(ls -l "$work/storage-data" | awk 'NR>1 {print $3":"$4, $NF}' | tr '\n' ' ')
say "  SQLite on the storage volume: $db"

say "== SIGTERM to each container's PID 1 (grace period ${GRACE} s)"
for s in router agent-runner ml-pipeline storage; do
  pid1=$(pgrep -P "${PID[$s]}" | head -n 1)
  t0=$(date +%s%N)
  kill -TERM "$pid1"
  rc=""
  for _ in $(seq $((GRACE * 10))); do
    if ! kill -0 "${PID[$s]}" 2>/dev/null; then set +e; wait "${PID[$s]}"; rc=$?; set -e; break; fi
    sleep 0.1
  done
  [[ -n $rc ]] || fail "$s still running ${GRACE} s after SIGTERM"
  unset "PID[$s]"
  ms=$((($(date +%s%N) - t0) / 1000000))
  printf '  %-16s exited %s after %s ms\n' "$s" "$rc" "$ms"
  [[ $rc == 0 ]] || fail "$s exited $rc on SIGTERM"
done

ok=1
say "PASS: images smoke test in $(($(date +%s) - t_start)) s"
