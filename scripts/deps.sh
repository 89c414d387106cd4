#!/usr/bin/env bash
# Install what AOS needs on Debian 12: build tools, libraries, RabbitMQ, Node (for Azurite
# and the Azure SDK interop tests), chromium + chromium-driver (the operator console's browser
# test, test_console_browser). Idempotent: only missing packages are installed.
# buildah and debootstrap build the container images: installed only with AOS_DEPS_IMAGES=1
# (`make images`, `make images-smoke`), not for `make run` / `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

PKGS=(build-essential cmake pkg-config clang clang-format
      libqpid-proton11-dev libmicrohttpd-dev libjson-c-dev libcurl4-openssl-dev libssl-dev
      libsqlite3-dev libcmocka-dev librdkafka-dev
      rabbitmq-server nodejs npm curl ca-certificates openssl procps iproute2
      kubernetes-client prometheus chromium chromium-driver)
[[ ${AOS_DEPS_IMAGES:-0} == 1 ]] && PKGS+=(buildah debootstrap)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A node that is already on PATH (e.g. from nvm) is good enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
# Likewise a kubectl that is already installed (e.g. Google's kubectl package, which
# conflicts with Debian's kubernetes-client over /usr/bin/kubectl).
if command -v kubectl >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == kubernetes-client ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "AOS needs these packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "==> installing: ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # the package's own service start is not wanted: AOS runs private brokers
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node tools for Azurite and the SDK interop tests, pinned in tests/node/package.json.
# Reinstalled whenever the lockfile is newer than what npm last installed.
nm=$here/tests/node/node_modules
if [[ -f $here/tests/node/package.json ]] &&
   { [[ ! -f $nm/.package-lock.json ]] || [[ $here/tests/node/package-lock.json -nt $nm/.package-lock.json ]]; }; then
  echo "==> npm ci (tests/node)"
  (cd "$here/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
