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
# idle) once for each CPU pinning in PINNING (default "spread off": readers
# pinned round the CPUs, then left to the scheduler as the C readers are),
# and the C baseline (BASELINE_DIR, default ../shared/baseline: its
# run-baseline.sh), C last in odd rounds and first in even ones. All are
# summarised as the baseline does: the median of the readers' p50, the max of
# the readers' p99 and max, and the total lost. The machine is noisy: compare
# within a round, over several rounds; the last lines give each pinning's
# median ratio over the rounds, how many rounds were within 1.2x of C on both
# p50 and p99, how many had a p99 at or below C's, and the ratio of each
# system's median over the rounds. Each run's line
# gives the host's steal time over it (/proc/stat: CPU time the hypervisor
# gave to others), the share of the machine's time this guest did not get:
# a round with much of it measured the neighbours as much as the programs.
set -euo pipefail
readers=${1:?readers} rate=${2:?rate} secs=${3:?seconds} rounds=${4:-3}
pinnings=${PINNING:-spread off}
for p in $pinnings; do
  case $p in spread|off) ;; *) echo "compare-baseline: PINNING: \"$p\" is not spread or off" >&2; exit 2 ;; esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
baseline=${BASELINE_DIR:-$root/../shared/baseline}
[ -x "$baseline/run-baseline.sh" ] || { echo "compare-baseline: no run-baseline.sh in $baseline (set BASELINE_DIR)" >&2; exit 2; }
cd "$root"
bin=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/compare-XXXXXX)
trap 'rm -rf "$work"' EXIT
cpu_times() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t }' /proc/stat; }
steal_since() {  # "STEAL TOTAL" read before: the steal share since, in per cent
  read -r s0 t0 <<<"$1"; read -r s1 t1 <<<"$(cpu_times)"
  awk -v s="$((s1 - s0))" -v t="$((t1 - t0))" 'BEGIN { printf "%.1f", (t > 0 ? 100 * s / t : 0) }'
}
for p in $pinnings; do
  cat > "$work/$p.json" <<JSON
{ "name": "compare-$readers-$p", "duration": "${secs}s", "warmup": "2s", "cpuPinning": "$p",
  "writer": { "rate": $rate, "payloadBytes": 140, "historyLimit": 0 },
  "readers": [ { "role": "cli", "count": $readers } ] }
JSON
done
run_ours() {  # PINNING: one ClusterSim run, its summary line appended to $work/results
  local before steal run
  before=$(cpu_times)
  "$bin/orchestrator" run "$work/$1.json" --out "$work/runs-$1" --quiet >/dev/null || true
  steal=$(steal_since "$before")
  run=$(ls -td "$work/runs-$1"/* | head -1)
  python3 - "$run/report.json" "$1" "$steal" "$round" >> "$work/results" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
rd = [n for n in r["nodes"] if n["role"] == "cli"]
print(json.dumps({"system": "clustersim", "pinning": sys.argv[2], "readers": len(rd), "steal": float(sys.argv[3]),
  "round": int(sys.argv[4]),
  "p50_us": round(statistics.median(n["latency"]["p50Us"] for n in rd), 1),
  "p99_us": round(max(n["latency"]["p99Us"] for n in rd), 1),
  "max_us": round(max(n["latency"]["maxUs"] for n in rd), 1),
  "lost": sum(n["counters"].get("lost", 0) for n in rd)}))
PY
}
run_c() {  # one C baseline run, its summary line appended to $work/results
  local before steal port theirs
  # Two adjacent free ports for the baseline (it binds PORT and PORT+1).
  port=$(python3 "$root/scripts/free-port-pair.py")
  before=$(cpu_times)
  theirs=$("$baseline/run-baseline.sh" "$readers" "$rate" "$secs" "$port" | tail -1)
  steal=$(steal_since "$before")
  python3 -c 'import json, sys; c = json.loads(sys.argv[1]); c.update(steal=float(sys.argv[2]), round=int(sys.argv[3])); print(json.dumps(c))' \
    "$theirs" "$steal" "$round" >> "$work/results"
}
: > "$work/results"
for round in $(seq 1 "$rounds"); do
  # C last in odd rounds, first in even ones: a machine that gets slower or
  # faster over the sitting favours neither side.
  [ $((round % 2)) -eq 0 ] && run_c
  for p in $pinnings; do run_ours "$p"; done
  [ $((round % 2)) -eq 1 ] && run_c
  python3 - "$work/results" "$round" <<'PY'
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if r["round"] == int(sys.argv[2])]
c = next(r for r in rows if r["system"] != "clustersim")
print(f"round {sys.argv[2]}: C p50 {c['p50_us']:.0f} µs p99 {c['p99_us']:.0f} µs lost {c['lost']} (steal {c['steal']:.1f} %)")
for o in (r for r in rows if r["system"] == "clustersim"):
    ratio = lambda k: o[k] / c[k] if c[k] else float("inf")
    print(f"  clustersim, pinning {o['pinning']:6s}: p50 {o['p50_us']:.0f} µs p99 {o['p99_us']:.0f} µs lost {o['lost']}"
          f" | ratio p50 {ratio('p50_us'):.2f} p99 {ratio('p99_us'):.2f} (steal {o['steal']:.1f} %)")
PY
done
# One round's ratio is one noisy draw against another. Over the rounds: the
# median of the rounds' ratios, how many rounds were within 1.2x on both, how
# many had ClusterSim's p99 at or below C's (about half of them if the two
# are alike), and the ratio of each system's median over the rounds.
python3 - "$work/results" <<'PY'
import json, statistics, sys
rows = list(map(json.loads, open(sys.argv[1])))
cs = {r["round"]: r for r in rows if r["system"] != "clustersim"}
med = lambda xs: statistics.median(xs)
c50, c99 = med(r["p50_us"] for r in cs.values()), med(r["p99_us"] for r in cs.values())
print(f"C over {len(cs)} rounds: median p50 {c50:.0f} µs p99 {c99:.0f} µs, lost {sum(r['lost'] for r in cs.values())}"
      f" (median steal {med(r['steal'] for r in cs.values()):.1f} %)")
for pinning in dict.fromkeys(r["pinning"] for r in rows if r["system"] == "clustersim"):
    os_ = [r for r in rows if r.get("pinning") == pinning]
    rs = [(o["p50_us"] / cs[o["round"]]["p50_us"], o["p99_us"] / cs[o["round"]]["p99_us"]) for o in os_]
    within = sum(1 for a, b in rs if a <= 1.2 and b <= 1.2)
    lower = sum(1 for o in os_ if o["p99_us"] <= cs[o["round"]]["p99_us"])
    o50, o99 = med(o["p50_us"] for o in os_), med(o["p99_us"] for o in os_)
    print(f"pinning {pinning:6s} over {len(rs)} rounds: median ratio p50 {med(r[0] for r in rs):.2f}"
          f" p99 {med(r[1] for r in rs):.2f}; both within 1.2x in {within} of {len(rs)};"
          f" p99 at or below C's in {lower} of {len(rs)}")
    print(f"  median p50 {o50:.0f} µs p99 {o99:.0f} µs, lost {sum(o['lost'] for o in os_)}"
          f" (median steal {med(o['steal'] for o in os_):.1f} %): ratio of medians p50 {o50 / c50:.2f} p99 {o99 / c99:.2f}")
PY
