#!/usr/bin/env bash
# Does a slow reader slow its fast neighbours? Runs a topology as it is and
# again without its slow readers (the groups with a processingDelay),
# alternately, and prints the fast readers' figures side by side with their
# ratios. Both runs of a round are measured in the same sitting; the machine
# is noisy, so read the ratios over several rounds.
#
#   scripts/slow-neighbour.sh [TOPOLOGY] [ROUNDS] [DURATION]
#   e.g. scripts/slow-neighbour.sh topologies/slow-subscriber.json 3 10s
#
# Exit status 0 when every round ran; the figures are for reading, not a
# pass/fail verdict (the loss of fast readers is asserted by the tests).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
topology=${1:-$root/topologies/slow-subscriber.json}
rounds=${2:-3}
duration=${3:-10s}
[ -f "$topology" ] || { echo "slow-neighbour: no topology file $topology" >&2; exit 2; }
cd "$root"
bin=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/slow-neighbour-XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$topology" "$work/without.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
slow = [g for g in t["readers"] if "processingDelay" in g]
if not slow:
    sys.exit(f"slow-neighbour: {sys.argv[1]} has no reader group with a processingDelay")
t["readers"] = [g for g in t["readers"] if "processingDelay" not in g]
t["name"] = t["name"] + "-without-slow"
t.pop("slo", None)
json.dump(t, open(sys.argv[2], "w"))
PY
summary() {
  python3 - "$1" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
fast = [n for n in r["nodes"] if n.get("fast") and n["role"] not in ("writer", "query-load", "relay")]
print(json.dumps({"readers": len(fast),
  "p50_us": statistics.median(n["latency"]["p50Us"] for n in fast),
  "p99_us": statistics.median(n["latency"]["p99Us"] for n in fast),
  "p99_max_us": max(n["latency"]["p99Us"] for n in fast),
  "lost": sum(n["counters"].get("lost", 0) for n in fast)}))
PY
}
run() {
  "$bin/orchestrator" run "$1" --duration "$duration" --out "$work/runs-$2" --quiet >/dev/null 2>"$work/err" || {
    status=$?
    # 1 is an SLO verdict, still a complete run; anything else is a failure.
    [ "$status" -eq 1 ] || { cat "$work/err" >&2; exit 2; }
  }
  summary "$(ls -td "$work/runs-$2"/* | head -1)/report.json"
}
echo "fast readers of $topology with and without its slow readers, $duration each, $rounds round(s)"
for round in $(seq 1 "$rounds"); do
  with=$(run "$topology" with)
  without=$(run "$work/without.json" without)
  python3 - "$round" "$with" "$without" <<'PY'
import json, sys
w, o = json.loads(sys.argv[2]), json.loads(sys.argv[3])
r = lambda k: w[k] / o[k] if o[k] else float("inf")
print(f"round {sys.argv[1]}: with slow p50 {w['p50_us']:.0f} µs p99 {w['p99_us']:.0f} µs (max {w['p99_max_us']:.0f}) lost {w['lost']}"
      f" | without p50 {o['p50_us']:.0f} µs p99 {o['p99_us']:.0f} µs (max {o['p99_max_us']:.0f}) lost {o['lost']}"
      f" | ratio p50 {r('p50_us'):.2f} p99 {r('p99_us'):.2f}")
PY
done
