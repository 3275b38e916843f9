#!/usr/bin/env bash
# Installs what ClusterSim needs on a Debian machine that already has Swift:
# libzmq (libzmq3-dev), libsodium (libsodium-dev: CurveZMQ for the direct
# subscriber), pkg-config, docker-compose (the tests validate the
# compose files with `docker-compose config`), docker.io and debootstrap (the
# container tests start an engine with scripts/docker-engine.sh and build the
# image with scripts/image.sh), iproute2 and iptables (ip, tc and iptables for
# the netns launcher and the network faults), and the
# Python packages the tests use: prometheus_client (to parse metrics.prom) and
# pyzmq (scripts/py-subscriber.py, the independent subscriber). Idempotent:
# quick when all is there.
set -euo pipefail

need=()
for pkg in libzmq3-dev libsodium-dev pkg-config docker-compose docker.io debootstrap iproute2 iptables; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

for module_package in prometheus_client:prometheus_client zmq:pyzmq; do
  module=${module_package%%:*} package=${module_package##*:}
  python3 -c "import $module" 2>/dev/null && continue
  echo "setup: installing $package (PyPI)" >&2
  python3 -m pip install -q "$package" >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages "$package" >/dev/null 2>&1 \
    || echo "setup: $package not installed; the tests that need it will say so and be skipped" >&2
done

command -v swift >/dev/null || { echo "setup: swift is not on PATH (install Swift 6 first)" >&2; exit 1; }
pkg-config --exists libzmq || { echo "setup: libzmq not found by pkg-config" >&2; exit 1; }
