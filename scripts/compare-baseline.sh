#!/usr/bin/env bash
# Fan-out latency of ClusterSim against raw libzmq in C, measured in the same
# sitting and aggregated the same way, as ratios.
#
#   scripts/compare-baseline.sh READERS RATE SECONDS [ROUNDS]
#   e.g. scripts/compare-baseline.sh 100 1000 6 3
#
# Each round runs the ClusterSim topology (cli readers, 140-byte payload and no
# history, so a frame is about the C program's 272 bytes; measured after a 2 s
# warm-up, as the C program measures only once every reader is connected and
# idle), then the C baseline
# (BASELINE_DIR, default ../shared/baseline: its run-baseline.sh), alternately.
# Both are summarised as the baseline does: the median of the readers' p50, the
# max of the readers' p99 and max, and the total lost. The machine is noisy:
# compare within a round, over several rounds.
set -euo pipefail
readers=${1:?readers} rate=${2:?rate} secs=${3:?seconds} rounds=${4:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
baseline=${BASELINE_DIR:-$root/../shared/baseline}
[ -x "$baseline/run-baseline.sh" ] || { echo "compare-baseline: no run-baseline.sh in $baseline (set BASELINE_DIR)" >&2; exit 2; }
cd "$root"
bin=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/compare-XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/t.json" <<JSON
{ "name": "compare-$readers", "duration": "${secs}s", "warmup": "2s",
  "writer": { "rate": $rate, "payloadBytes": 140, "historyLimit": 0 },
  "readers": [ { "role": "cli", "count": $readers } ] }
JSON
for round in $(seq 1 "$rounds"); do
  "$bin/orchestrator" run "$work/t.json" --out "$work/runs" --quiet >/dev/null || true
  run=$(ls -td "$work"/runs/* | head -1)
  ours=$(python3 - "$run/report.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
rd = [n for n in r["nodes"] if n["role"] == "cli"]
print(json.dumps({"system": "clustersim", "readers": len(rd),
  "p50_us": round(statistics.median(n["latency"]["p50Us"] for n in rd), 1),
  "p99_us": round(max(n["latency"]["p99Us"] for n in rd), 1),
  "max_us": round(max(n["latency"]["maxUs"] for n in rd), 1),
  "lost": sum(n["counters"].get("lost", 0) for n in rd)}))
PY
)
  # Two adjacent free ports for the baseline (it binds PORT and PORT+1).
  port=$(python3 "$root/scripts/free-port-pair.py")
  theirs=$("$baseline/run-baseline.sh" "$readers" "$rate" "$secs" "$port" | tail -1)
  python3 - "$round" "$ours" "$theirs" <<'PY'
import json, sys
o, c = json.loads(sys.argv[2]), json.loads(sys.argv[3])
ratio = lambda k: o[k] / c[k] if c[k] else float("inf")
print(f"round {sys.argv[1]}: clustersim p50 {o['p50_us']:.0f} µs p99 {o['p99_us']:.0f} µs lost {o['lost']}"
      f" | C p50 {c['p50_us']:.0f} µs p99 {c['p99_us']:.0f} µs lost {c['lost']}"
      f" | ratio p50 {ratio('p50_us'):.2f} p99 {ratio('p99_us'):.2f}")
PY
done
