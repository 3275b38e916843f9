#!/usr/bin/env bash
# A writer's memory with one subscriber that never reads: a standalone writer
# at RATE snapshots/s of PAYLOAD bytes, and a pyzmq SUB that subscribes to
# snapshot frames and never reads (RCVHWM 1, RCVBUF 64 KiB, so what piles up
# piles up in the writer). Prints the writer's RSS every second, then what
# its log says of its high-water mark. docs/security.md, "Bounded messages".
#
#   scripts/writer-memory.sh [CLUSTER_NODE] [SECONDS] [RATE] [PAYLOAD]
#   e.g. scripts/writer-memory.sh .build/debug/cluster-node 10 200 1048576
#
# Loopback only, bounded by SECONDS; the writer stops by itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node=${1:-$root/.build/debug/cluster-node}
seconds=${2:-10}
rate=${3:-200}
payload=${4:-1048576}
[ -x "$node" ] || { echo "writer-memory: no cluster-node executable at $node (swift build)" >&2; exit 2; }
python3 -c 'import zmq' 2>/dev/null || { echo "writer-memory: needs python3 with pyzmq (scripts/setup.sh installs it)" >&2; exit 2; }
port=$(python3 "$root/scripts/free-port-pair.py")
log=$(mktemp)
"$node" writer --pub "tcp://127.0.0.1:$port" --snapshots "tcp://127.0.0.1:$((port + 1))" --rate "$rate" \
    --payload-bytes "$payload" --duration "$((seconds + 2))s" >"$log" 2>&1 &
writer=$!
python3 - "$port" "$seconds" <<'PY' &
import sys, time, zmq
port, seconds = sys.argv[1], float(sys.argv[2])
s = zmq.Context().socket(zmq.SUB)
s.setsockopt(zmq.RCVHWM, 1)
s.setsockopt(zmq.RCVBUF, 65536)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.SUBSCRIBE, b"SNP1")
s.connect(f"tcp://127.0.0.1:{port}")
time.sleep(seconds + 1)   # never reads
PY
subscriber=$!
trap 'kill $writer $subscriber 2>/dev/null || true; rm -f "$log"' EXIT
echo "writer: $rate snapshots/s of $payload bytes; one subscriber that never reads"
for i in $(seq 1 "$seconds"); do
  sleep 1
  echo "t=${i}s writer RSS $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$writer/status")"
done
wait "$subscriber" || true
wait "$writer" || true
grep 'high-water mark bounded by bytes' "$log" | head -1 || echo "(no byte bound in the writer's log)"
