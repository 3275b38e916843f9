#!/usr/bin/env bash
# Builds the clustersim image without a registry: a Debian bookworm root file
# system made with debootstrap (cached), the release binaries built here
# (stripped) and the Swift runtime libraries they link, imported as one layer
# with the Dockerfile's user, entrypoint, environment and ports.
#
#   scripts/image.sh                  # clustersim:latest
#   scripts/image.sh --tag NAME       # another name
#
# Each step is redone only when its input changed: the root file system when
# the suite, packages, mirror or recipe change (.build-image/rootfs.stamp), the
# binaries when the sources do (swift build), the image when any of its inputs
# does (their hash is the image's label org.clustersim.inputs). A Docker engine
# must answer (scripts/docker-engine.sh start). Needs root (debootstrap, chroot).
#
# One layer, not a Dockerfile: with the vfs storage driver (the one left where
# the kernel cannot mount an overlay; see scripts/docker-engine.sh) every
# layer, even a metadata-only one such as USER or ENV, is a full copy of the
# file system, and so is every container created from it: a small image with
# one layer builds and starts fastest under either driver. The image it
# replaces is removed, so rebuilds do not pile up.
#
# Environment:
#   CLUSTERSIM_IMAGE_BIN_DIR  use the cluster-node and orchestrator in this directory instead of building
#   CLUSTERSIM_IMAGE_STATIC=1 build them with --static-swift-stdlib (in .build-static/), no runtime libraries copied
#   CLUSTERSIM_MIRROR         the Debian mirror (default: the one apt uses)
#
# Prints nothing on standard output but the image's name; progress goes to standard error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tag=clustersim:latest
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "image: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { echo "image: $*" >&2; }
started=$SECONDS
cache=$root/.build-image
mkdir -p "$cache"
docker info >/dev/null 2>&1 || { say "no Docker engine answers (scripts/docker-engine.sh start)"; exit 1; }

# ---- 1. the root file system ----
suite=bookworm
packages=libzmq5
mirror=${CLUSTERSIM_MIRROR:-}
if [ -z "$mirror" ]; then
  # The mirror apt uses: the first Debian URI of the sources (deb822 or one-line format).
  mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi
# The user the nodes run as and the trimming are part of the recipe: a change to either makes a new root file system.
recipe="suite=$suite variant=minbase include=$packages mirror=$mirror user=clustersim:10001 trim=2"
rootfs=$cache/rootfs
if [ ! -f "$cache/rootfs.stamp" ] || [ "$(cat "$cache/rootfs.stamp")" != "$recipe" ] || [ ! -d "$rootfs" ]; then
  command -v debootstrap >/dev/null || {
    say "installing debootstrap"
    apt-get install -y -qq debootstrap >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq debootstrap >/dev/null; }
  }
  say "debootstrap $suite (minbase, $packages) from $mirror"
  t=$SECONDS
  rm -rf "$rootfs.new" "$rootfs"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs.new" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; say "debootstrap failed (log: $cache/debootstrap.log)"; exit 1; }
  # The node user (uid 10001, as the Dockerfile's), and /runs owned by it so a fresh volume there is writable.
  chroot "$rootfs.new" groupadd --gid 10001 clustersim
  chroot "$rootfs.new" useradd --uid 10001 --gid 10001 --create-home --home-dir /home/clustersim clustersim
  install -d -o 10001 -g 10001 "$rootfs.new/runs"
  echo /usr/local/lib/swift >"$rootfs.new/etc/ld.so.conf.d/swift.conf"
  # What a container never needs: package lists and downloaded packages, documentation, translations.
  # Every container of a vfs-backed engine starts with a full copy of the image, so size is start time.
  rm -rf "$rootfs.new"/var/cache/apt/archives/*.deb "$rootfs.new"/var/cache/apt/*.bin "$rootfs.new"/var/lib/apt/lists/* \
    "$rootfs.new"/usr/share/doc/* "$rootfs.new"/usr/share/man/* "$rootfs.new"/usr/share/info/* \
    "$rootfs.new"/usr/share/locale/* "$rootfs.new"/var/log/*.log "$rootfs.new"/var/cache/debconf/*-old
  mv "$rootfs.new" "$rootfs"
  echo "$recipe" >"$cache/rootfs.stamp"
  say "root file system ready in $((SECONDS - t)) s ($(du -sh "$rootfs" | cut -f1))"
fi

# ---- 2. the binaries ----
if [ -n "${CLUSTERSIM_IMAGE_BIN_DIR:-}" ]; then
  bin=$CLUSTERSIM_IMAGE_BIN_DIR
elif [ "${CLUSTERSIM_IMAGE_STATIC:-0}" = 1 ]; then
  scripts/setup.sh >&2
  for product in cluster-node orchestrator; do
    swift build -c release --static-swift-stdlib --scratch-path .build-static --product "$product" >&2
  done
  bin=$(swift build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)
else
  bin=$(scripts/build-release.sh)
fi
for exe in cluster-node orchestrator; do
  [ -x "$bin/$exe" ] || { say "$bin/$exe not found"; exit 1; }
done
# The libraries they link that the root file system does not have: the Swift runtime (none when static).
libs=$(ldd "$bin/cluster-node" "$bin/orchestrator" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u \
  | while read -r lib; do
      name=$(basename "$lib")
      [ -e "$rootfs/usr/lib/x86_64-linux-gnu/$name" ] || [ -e "$rootfs/lib/x86_64-linux-gnu/$name" ] || echo "$lib"
    done)

# ---- 3. the image, unless one with the same inputs exists ----
inputs=$( { cat "$cache/rootfs.stamp"; echo "$tag"; sha256sum "$bin/cluster-node" "$bin/orchestrator" $libs topologies/*.json | cut -c1-64; } \
  | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "org.clustersim.inputs"}}' "$tag" 2>/dev/null || true)" = "$inputs" ]; then
  say "$tag is up to date"
  echo "$tag"
  exit 0
fi
say "assembling $tag"
previous=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
t=$SECONDS
stage=$cache/stage
rm -rf "$stage"
cp -al "$rootfs" "$stage"   # hard links: the cached tree is never written through them (files below are replaced, not edited)
install -d "$stage/usr/local/bin" "$stage/usr/local/lib/swift" "$stage/topologies"
for exe in cluster-node orchestrator; do
  # Symbols are for debuggers: stripped, the two executables are about a quarter of their size.
  strip -o "$stage/usr/local/bin/$exe" "$bin/$exe"
done
for lib in $libs; do cp -L "$lib" "$stage/usr/local/lib/swift/"; done
cp topologies/*.json "$stage/topologies/"
rm -f "$stage/etc/ld.so.cache"
ldconfig -r "$stage"
tar --numeric-owner -C "$stage" -c . | docker import \
  --change 'USER clustersim' \
  --change 'WORKDIR /home/clustersim' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV CLUSTERSIM_NODE_BINARY=/usr/local/bin/cluster-node' \
  --change 'EXPOSE 5555 5556 5560 5600 5700' \
  --change 'ENTRYPOINT ["/usr/local/bin/cluster-node"]' \
  --change 'CMD ["--help"]' \
  --change "LABEL org.clustersim.inputs=$inputs" \
  -m "scripts/image.sh: debootstrap $suite, cluster-node and orchestrator" - "$tag" >/dev/null
rm -rf "$stage"
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]; then
  docker image rm "$previous" >/dev/null 2>&1 || say "the image $tag replaced ($previous) is still in use; it stays"
fi
say "$tag ready ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}'), assembled in $((SECONDS - t)) s, all $((SECONDS - started)) s)"
echo "$tag"
