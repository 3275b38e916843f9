#!/usr/bin/env bash
# The compose demo from a fresh clone, with nothing to do by hand:
#
#   scripts/compose-demo.sh                  # topologies/compose-demo.json, 30 s
#   scripts/compose-demo.sh --duration 10s   # arguments go to `orchestrator run`
#
# 1. a Docker engine (scripts/docker-engine.sh: the one that answers, or one
#    started for the demo and stopped at the end);
# 2. the image clustersim:latest (scripts/image.sh: debootstrap and the release
#    binaries, no registry);
# 3. `orchestrator run --launcher compose topologies/compose-demo.json`: the
#    containers are created, started, the run's output shown as it goes, the
#    faults applied, the run directory copied out of the volume into runs/,
#    and everything removed (`docker-compose down -v`).
#
# The exit status is the orchestrator's: 0 every SLO held, 1 one did not, 2 a
# failed run (or no engine, image or build). Needs root (dockerd, debootstrap).
# CLUSTERSIM_BIN_DIR: use the cluster-node and orchestrator there instead of
# building the release ones (the tests pass their own).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case "${1:-}" in -h|--help) sed -n '2,19p' "$0"; exit 0 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "compose-demo: needs root (it may start dockerd, runs debootstrap, and applies faults with nsenter)" >&2; exit 2; }

scripts/setup.sh >&2
scripts/docker-engine.sh start || exit 2
trap 'scripts/docker-engine.sh stop' EXIT
if [ -n "${CLUSTERSIM_BIN_DIR:-}" ]; then
  bin=$CLUSTERSIM_BIN_DIR
else
  bin=$(scripts/build-release.sh) || exit 2
fi
CLUSTERSIM_IMAGE_BIN_DIR=$bin scripts/image.sh >/dev/null || exit 2
set +e
"$bin/orchestrator" run --launcher compose topologies/compose-demo.json "$@"
status=$?
set -e
exit "$status"
