#!/usr/bin/env bash
# Fan-out latency of ClusterSim against raw libzmq in C (and Redis pub/sub),
# measured in the same sitting and aggregated the same way, as ratios: the
# classic entry point to scripts/compare.py (which says more: --help).
#
#   scripts/compare-baseline.sh READERS RATE SECONDS [ROUNDS] [compare.py options]
#   e.g. scripts/compare-baseline.sh 100 1000 6 3
#        PINNING=off scripts/compare-baseline.sh 10 10000 8 8 --baseline c --baseline redis
#
# ClusterSim runs once a round for each CPU pinning in PINNING (default
# "spread off": readers pinned round the CPUs, then left to the scheduler as
# the C readers are); further variants can be added with --variant
# (e.g. --variant before:bin=/path/to/other/build).
#
#   scripts/compare-baseline.sh --security SECONDS [ROUNDS]
# runs 100 x 1 000/s and 10 x 10 000/s without and with CURVE instead, in
# alternating rounds, and prints CURVE's median ratios to plain.
set -euo pipefail
# The cost of CURVE (docs/security.md): `scripts/compare-baseline.sh --security SECONDS [ROUNDS]`.
if [ "${1:-}" = --security ]; then exec python3 "$(dirname "$0")/compare.py" "$@"; fi
readers=${1:?readers} rate=${2:?rate} secs=${3:?seconds} rounds=${4:-3}
shift $(( $# < 4 ? $# : 4 ))
args=()
for p in ${PINNING:-spread off}; do
  case $p in spread|off) args+=(--variant "$p:cpuPinning=$p") ;; *) echo "compare-baseline: PINNING: \"$p\" is not spread or off" >&2; exit 2 ;; esac
done
exec python3 "$(dirname "$0")/compare.py" "$readers" "$rate" "$secs" "$rounds" "${args[@]}" "$@"
