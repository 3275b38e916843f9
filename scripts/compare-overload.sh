#!/usr/bin/env bash
# The comparison at overload, in one sitting: ClusterSim with batching (at
# most one frame per millisecond) and without (one frame per version), with
# readers that read ZMTP themselves (`subscriber: direct`, with a writer
# queue of 10 000 frames, as they have no libzmq receive queue; 2 ms batches
# at 100 readers or more, so a hundred readers are woken half as often,
# 100 µs below; DIRECT_DELAY sets it), the same readers with the writer
# writing to them itself (`writer.publisher: direct`, "direct-pub"), raw
# libzmq in C and Redis pub/sub, alternately over ROUNDS rounds at each point
# (default: 100 readers x 10 000/s and 10 readers x 50 000/s, a million and
# half a million deliveries a second), with medians, ratios and CPU per
# million deliveries (scripts/compare.py --help says more).
#
#   scripts/compare-overload.sh [SECONDS] [ROUNDS] [compare.py options]
#   e.g. scripts/compare-overload.sh 5 4
#        POINTS="100x1000 10x10000" scripts/compare-overload.sh 5 4 --baseline c   # no overload
#        BATCH_DELAY=2ms scripts/compare-overload.sh 5 4 --hwm 1000
set -euo pipefail
secs=${1:-5} rounds=${2:-4}
shift $(( $# < 2 ? $# : 2 ))
here=$(dirname "$0")
baselines=(--baseline c --baseline redis)
for a in "$@"; do [ "$a" = --baseline ] && baselines=(); done
for point in ${POINTS:-100x10000 10x50000}; do
  readers=${point%x*} rate=${point#*x}
  case "$readers$rate" in *[!0-9]*|'') echo "compare-overload: POINTS: \"$point\" is not READERSxRATE" >&2; exit 2 ;; esac
  echo "== $readers readers x $rate/s"
  direct_delay=${DIRECT_DELAY:-$([ "$readers" -ge 100 ] && echo 2ms || echo 100us)}
  python3 "$here/compare.py" "$readers" "$rate" "$secs" "$rounds" \
    --variant "batch:writer.batch.maxDelay=${BATCH_DELAY:-1ms}" --variant "off:writer.batch=false" \
    --variant "direct:readers[0].subscriber=direct,writer.sndhwm=10000,writer.batch.maxDelay=$direct_delay" \
    --variant "direct-pub:readers[0].subscriber=direct,writer.publisher=direct,writer.sndhwm=10000,writer.batch.maxDelay=$direct_delay" \
    "${baselines[@]}" "$@"
  echo
done
