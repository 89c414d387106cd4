#!/usr/bin/env bash
# Build and check the AOS container images without a registry or a container runtime.
#
#   scripts/images.sh build [SERVICE...]   build the images (default: every service) from
#                                          docker/Dockerfile with buildah --isolation chroot
#   scripts/images.sh base                 only make the local base image (see below)
#   scripts/images.sh smoke                start the stack from the built images' filesystems
#                                          (chroot, as the image's user, with its ENTRYPOINT and
#                                          ENV) against a private RabbitMQ and pass one turn
#   scripts/images.sh sizes                print the images and their sizes
#   scripts/images.sh push DEST [TAG]      push every image to DEST/<service>:TAG, e.g.
#                                          myacr.azurecr.io/aos (after buildah login; a
#                                          containers-transport prefix like oci:/dir works too)
#
# The Dockerfile's base, debian:bookworm-slim, is not pulled: it is made here by
# `debootstrap --variant=minbase bookworm`, slimmed the way Debian's official slim images are
# (no docs, man pages or locales; apt keeps no caches) and committed locally under the very
# name the Dockerfile uses. The debootstrap tree is cached as a tarball
# ($AOS_IMAGES_CACHE/bookworm-minbase.tar), so a rerun only re-imports it, and only when the
# base image is missing from buildah's store. --refresh-base (before the command) rebuilds it.
#
# Environment: AOS_IMAGE_REPO (default localhost), AOS_IMAGE_TAG (default dev),
# AOS_IMAGES_CACHE (default ~/.cache/aos/images), AOS_DEBIAN_MIRROR (default
# http://deb.debian.org/debian). Needs root, buildah and debootstrap (scripts/deps.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

SERVICES=(aos-router aos-agent-runner aos-storage aos-ml-pipeline aosctl)
REPO=${AOS_IMAGE_REPO:-localhost}
TAG=${AOS_IMAGE_TAG:-dev}
CACHE=${AOS_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aos/images}
MIRROR=${AOS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The name docker/Dockerfile's FROM lines use, fully qualified so that buildah finds the
# local image instead of trying a registry.
BASE=docker.io/library/debian:bookworm-slim

refresh_base=0
if [[ ${1:-} == --refresh-base ]]; then refresh_base=1; shift; fi

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'images.sh: %s\n' "$*" >&2; exit 1; }

need_tools() {
  [[ $(id -u) -eq 0 ]] || die "needs root (buildah --isolation chroot, debootstrap, chroot)"
  command -v buildah >/dev/null || die "buildah is not installed (scripts/deps.sh)"
}

# Debian's slim image recipe (debuerreotype's slimify and docker-* apt settings) applied to
# a debootstrap tree.
slim_rootfs() {
  local r=$1
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
CFG
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r"/usr/share/{groff,info,linda,lintian,man}/* \
    "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
    "$r"/var/log/*.log "$r"/var/log/apt/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  : >"$r/etc/machine-id"
  rm -f "$r/etc/hostname" "$r/etc/resolv.conf"
}

make_base() {
  mkdir -p "$CACHE"
  # one builder of the base at a time (several trees may build images at once)
  exec 9>"$CACHE/lock"
  flock 9
  if ((!refresh_base)) && buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    log "base $BASE: present"
    exec 9>&-
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/deps.sh)"
  mkdir -p "$CACHE"
  local tarball=$CACHE/bookworm-minbase.tar
  if ((refresh_base)) || [[ ! -s $tarball ]]; then
    local r=$CACHE/rootfs.tmp
    rm -rf "$r"
    log "debootstrap --variant=minbase bookworm from $MIRROR (cached afterwards in $tarball)"
    debootstrap --variant=minbase bookworm "$r" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
      { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    slim_rootfs "$r"
    tar --numeric-owner --xattrs -C "$r" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$r"
  fi
  log "importing $tarball as $BASE"
  local ctr mnt
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  tar --numeric-owner --xattrs -C "$mnt" -xf "$tarball"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --os linux --arch amd64 \
    --label org.opencontainers.image.description="debootstrap --variant=minbase bookworm, slimmed (local stand-in for debian:bookworm-slim)" \
    "$ctr"
  buildah commit --rm --quiet "$ctr" "$BASE" >/dev/null
  exec 9>&-
}

image_name() { echo "$REPO/$1:$TAG"; }

build() {
  local svcs=("$@")
  ((${#svcs[@]})) || svcs=("${SERVICES[@]}")
  make_base
  local s t0 t1
  for s in "${svcs[@]}"; do
    t0=$(date +%s)
    log "building $(image_name "$s") (target $s)"
    # (apt's "debconf: delaying package configuration" notes are noise here)
    buildah bud --isolation chroot --layers --pull=never --quiet \
      -f "$here/docker/Dockerfile" --target "$s" -t "$(image_name "$s")" "$here" \
      2> >(grep -v '^debconf: delaying package configuration' >&2) >/dev/null
    t1=$(date +%s)
    log "built $(image_name "$s") in $((t1 - t0))s"
  done
  sizes "${svcs[@]}"
}

sizes() {
  local svcs=("$@")
  ((${#svcs[@]})) || svcs=("${SERVICES[@]}")
  local s
  printf '%-36s %10s\n' IMAGE SIZE
  for s in "${svcs[@]}"; do
    printf '%-36s %10s\n' "$(image_name "$s")" \
      "$(buildah images --format '{{.Size}}' "$(image_name "$s")" 2>/dev/null | head -n 1)"
  done
}

push() {
  local dest=${1:?push needs a destination, e.g. myacr.azurecr.io/aos} tag=${2:-$TAG} s
  [[ $dest == oci:* ]] && mkdir -p "${dest#oci:}"
  [[ $dest =~ ^[a-z-]+:// || $dest =~ ^(oci|oci-archive|dir|docker-archive): ]] || dest=docker://$dest
  for s in "${SERVICES[@]}"; do
    log "pushing $(image_name "$s") to $dest/$s:$tag"
    buildah push --quiet "$(image_name "$s")" "$dest/$s:$tag"
  done
}

cmd=${1:-build}
shift || true
case $cmd in
base) need_tools; make_base ;;
build) need_tools; build "$@" ;;
sizes) need_tools; sizes "$@" ;;
push) need_tools; push "$@" ;;
smoke) need_tools; exec "$here/tests/images/smoke.sh" "$@" ;;
*) echo "usage: $0 [--refresh-base] build [SERVICE...]|base|smoke|sizes|push DEST [TAG]" >&2; exit 2 ;;
esac
