#!/usr/bin/env bash
# The floor of a fan-out over TCP loopback on this machine, with no
# messaging library (Benchmarks/fanout-floor/fanout-floor.c): one writer,
# READERS reader processes, 272-byte records at RATE a second sent every
# FLOOR_BATCH_US µs as one frame (default 2000, as ClusterSim's direct
# readers are run at 100 readers; 0 sends each record alone), for SECONDS.
# FLOOR_SEND=send (default) writes to the readers one send() each;
# FLOOR_SEND=uring submits a frame's writes in one io_uring call.
#
#   scripts/fanout-floor.sh READERS RATE SECONDS [PORT]
#   e.g. FLOOR_SEND=uring scripts/fanout-floor.sh 100 10000 5
#
# Prints one JSON line as the baselines beside the project do (median of
# the readers' p50, max of their p99 and max, in µs; lost), with the
# writer's CPU seconds and involuntary context switches. scripts/compare.py
# runs it as the baselines `floor` and `floor-uring`. Installs gcc and
# liburing-dev from Debian's packages if they are missing.
set -euo pipefail
n=${1:?readers} rate=${2:?rate} secs=${3:?seconds} port=${4:-46480}
mode=${FLOOR_SEND:-send} batch=${FLOOR_BATCH_US:-2000}
case $mode in send|uring) ;; *) echo "fanout-floor: FLOOR_SEND: \"$mode\" is not send or uring" >&2; exit 2 ;; esac
case $batch in ''|*[!0-9]*) echo "fanout-floor: FLOOR_BATCH_US: \"$batch\" is not a whole number of µs" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
install() { apt-get install -y "$@" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$@" >/dev/null; }; }
command -v gcc >/dev/null || install gcc
[ -f /usr/include/liburing.h ] || install liburing-dev
work=$(mktemp -d /tmp/fanout-floor-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
gcc -O2 -o "$work/fanout-floor" "$root/Benchmarks/fanout-floor/fanout-floor.c" -luring
out=$work/out.jsonl
"$work/fanout-floor" writer --port "$port" --readers "$n" --rate "$rate" --seconds "$secs" --batch-us "$batch" --send "$mode" --out "$out" &
writer=$!
for i in $(seq 1 "$n"); do
  "$work/fanout-floor" reader --port "$port" --id "$i" --out "$out" --deadline $((secs + 60)) & pids+=($!)
done
wait "$writer" || { echo "fanout-floor: the writer failed" >&2; exit 1; }
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
python3 - "$out" "$n" "$rate" "$mode" "$batch" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
readers = [r for r in rows if r["role"] == "reader"]
writer = next(r for r in rows if r["role"] == "writer")
n = int(sys.argv[2])
if len(readers) != n:
    sys.exit(f"fanout-floor: {len(readers)} of {n} readers reported")
print(json.dumps({"system": f"floor-{sys.argv[4]}", "readers": n, "rate": float(sys.argv[3]), "batch_us": int(sys.argv[5]),
  "p50_us": round(statistics.median(r["p50_us"] for r in readers), 1),
  "p99_us": round(max(r["p99_us"] for r in readers), 1),
  "max_us": round(max(r["max_us"] for r in readers), 1),
  "lost": sum(writer["records"] - r["received"] for r in readers),
  "writer_cpu_s": writer["cpu_s"], "writer_involuntary_switches": writer["involuntary_switches"],
  "frames": writer["frames"], "blocked_sends": writer["blocked"]}))
PY
