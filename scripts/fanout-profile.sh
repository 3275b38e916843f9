#!/usr/bin/env bash
# Where the machine's time goes during fan-out, ClusterSim against raw libzmq
# in C, sampled by perf (cpu-clock, every CPU) over the same steady-state
# window of each, in the same sitting.
#
#   scripts/fanout-profile.sh [READERS] [RATE] [WINDOW_SECONDS]   (default 100 1000 4)
#
# Instruction counts (scripts/reader-instructions.sh) miss what dominates
# with a hundred readers on two cores: every wake-up starts with cold caches,
# so a cache line touched per message costs more than a hundred instructions.
# Samples taken on the clock see it. Each system runs for WINDOW + 10 s; perf
# records every CPU from the 6th second for WINDOW seconds. Printed per
# system: the share of samples in its own code (the cluster-node binary and
# the Swift runtime, or the zfan binary), in libzmq, libc and the kernel, and
# idle; then ClusterSim's busiest functions. Shares are of all samples
# (2 CPUs): 1 % is 0.02 of a core. The latency of each run is printed too,
# but a profiled run is not a latency measurement (scripts/compare-baseline.sh
# is). ClusterSim's readers are left to the scheduler as the main job's are
# (PINNING=spread pins them round the CPUs); SECURITY=curve runs ClusterSim
# under CURVE (libsodium's share is printed apart). Needs root (system-wide perf).
set -euo pipefail
readers=${1:-100} rate=${2:-1000} window=${3:-4}
pinning=${PINNING:-off}
security=${SECURITY:-none}
case $security in none|curve) ;; *) echo "fanout-profile: SECURITY: \"$security\" is not none or curve" >&2; exit 2 ;; esac
case $pinning in spread|off) ;; *) echo "fanout-profile: PINNING: \"$pinning\" is not spread or off" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
baseline=${BASELINE_DIR:-$root/../shared/baseline}
[ -x "$baseline/run-baseline.sh" ] || { echo "fanout-profile: no run-baseline.sh in $baseline (set BASELINE_DIR)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "fanout-profile: system-wide perf needs root" >&2; exit 2; }
command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null
cd "$root"
bin=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/fanout-profile-XXXXXX)
trap 'rm -rf "$work"' EXIT
secs=$((window + 10))
cat > "$work/t.json" <<JSON
{ "name": "profile-$readers", "duration": "${secs}s", "warmup": "2s", "cpuPinning": "$pinning",
  "security": { "mode": "$security" },
  "writer": { "rate": $rate, "payloadBytes": 140, "historyLimit": 0 },
  "readers": [ { "role": "cli", "count": $readers } ] }
JSON

sample() {  # NAME: perf over the window, while the run started just before goes on
  sleep 6
  perf record -a -e cpu-clock -F 999 -o "$work/$1.perf" -- sleep "$window" >/dev/null 2>&1
}

"$bin/orchestrator" run "$work/t.json" --out "$work/runs" --quiet >/dev/null 2>&1 &
run=$!
sample s
wait "$run" || true
port=$(python3 "$root/scripts/free-port-pair.py")
"$baseline/run-baseline.sh" "$readers" "$rate" "$secs" "$port" > "$work/c.json" 2>/dev/null &
run=$!
sample c
wait "$run" || true

shares() {  # PERF_FILE OWN_DSO_REGEX
  perf report -i "$1" --no-children --sort dso --stdio 2>/dev/null | python3 -c '
import re, sys
own = re.compile(sys.argv[1]); groups = {"own code": 0.0, "libzmq": 0.0, "libsodium": 0.0, "libc": 0.0, "kernel": 0.0, "other": 0.0}
for line in sys.stdin:
    m = re.match(r"\s*([0-9.]+)%\s+(\S+)", line)
    if not m: continue
    pct, dso = float(m.group(1)), m.group(2)
    key = "own code" if own.search(dso) else "libzmq" if "libzmq" in dso else "libsodium" if "libsodium" in dso \
        else "libc" if dso.startswith("libc.") \
        else "kernel" if "kernel" in dso else "other"
    groups[key] += pct
print("  ".join(f"{k} {v:5.2f} %" for k, v in groups.items()), end="")' "$2"
  idle=$(perf report -i "$1" --no-children --sort sym --stdio 2>/dev/null \
    | awk '/\[k\] (pv_native_safe_halt|native_safe_halt|default_idle|intel_idle|acpi_idle|poll_idle)$/ {s += $1} END {printf "%.2f", s}')
  echo "  (idle $idle %)"
}
python3 - "$work/runs" "$work/c.json" <<'PY'
import glob, json, statistics, sys
r = json.load(open(sorted(glob.glob(sys.argv[1] + "/*/report.json"))[-1]))
rd = [n for n in r["nodes"] if n["role"] == "cli"]
c = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print(f"latency (profiled runs): clustersim p50 {statistics.median(n['latency']['p50Us'] for n in rd):.0f} µs "
      f"p99 {max(n['latency']['p99Us'] for n in rd):.0f} µs | C p50 {c['p50_us']:.0f} µs p99 {c['p99_us']:.0f} µs")
PY
echo "share of all samples, $readers readers x $rate msg/s, ${window} s (ClusterSim $security):"
echo -n "  ClusterSim: "; shares "$work/s.perf" 'cluster-node|libswift'
echo -n "  C:          "; shares "$work/c.perf" 'zfan'
echo "ClusterSim's own code, busiest functions:"
perf report -i "$work/s.perf" --no-children --sort dso,sym --stdio 2>/dev/null \
  | awk '/cluster-node|libswift/ && $1 ~ /%$/ {print}' | head -12 | cut -c1-150
