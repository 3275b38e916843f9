#!/usr/bin/env bash
# Instructions per message of one reader, ClusterSim's against raw libzmq's
# in C, counted by valgrind's callgrind over the same steady-state window.
#
#   scripts/reader-instructions.sh [RATE] [WINDOW_SECONDS]     (default 500 5)
#
# Instruction counts do not depend on what else the machine is doing, so this
# compares the per-message path (receive, decode, record) without the noise
# of a latency run. Each reader runs under callgrind behind a writer of its
# own kind (C's zfan from BASELINE_DIR, default ../shared/baseline; ClusterSim's
# standalone cluster-node writer with the compare topology's 140-byte payload
# and no history, a frame of about C's 272 bytes). Counters are zeroed after
# a warm-up and dumped WINDOW seconds later; per message = instructions in the
# window / (RATE x WINDOW), per thread (the reader's own, libzmq's I/O thread).
# The rate must stay low enough for a reader under callgrind (about 50 times
# slower) to keep up.
set -euo pipefail
rate=${1:-500} window=${2:-5} warm=4
root=$(cd "$(dirname "$0")/.." && pwd)
baseline=${BASELINE_DIR:-$root/../shared/baseline}
[ -f "$baseline/zfan.c" ] || { echo "reader-instructions: no zfan.c in $baseline (set BASELINE_DIR)" >&2; exit 2; }
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
cd "$root"
bin=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/reader-instructions-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
gcc -O2 -o "$work/zfan" "$baseline/zfan.c" $(pkg-config --cflags --libs libzmq)
# valgrind cannot read the DWARF Swift emits; the symbol table is enough.
strip --strip-debug -o "$work/cluster-node" "$bin/cluster-node"
port=$(python3 "$root/scripts/free-port-pair.py")
pub=tcp://127.0.0.1:$port side=tcp://127.0.0.1:$((port + 1))
total=$((warm + window + 4))

# window SYSTEM READER_PID: zero after the warm-up, dump after the window.
window() {
  sleep "$warm"; callgrind_control -z "$2" >/dev/null
  sleep "$window"; callgrind_control -d "$2" >/dev/null
}
# In a background subshell: exec, so $! is valgrind itself (callgrind_control needs its pid).
cg() { exec valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$work/$1.cg" "${@:2}"; }

cg c "$work/zfan" reader --ep "$pub" --ctl "$side" --id 1 --out "$work/c.jsonl" --deadline 60 2>"$work/c.log" & pids+=($!)
reader=$!
"$work/zfan" writer --ep "$pub" --ctl "$side" --readers 1 --rate "$rate" --duration "$total" --out "$work/c.jsonl" & pids+=($!)
writer=$!
window c "$reader"
wait "$reader" "$writer" || true

"$work/cluster-node" writer --pub "$pub" --snapshots "$side" --rate "$rate" --payload-bytes 140 --history-limit 0 \
  --duration "$((total + 2))s" --log-level warning & pids+=($!)
writer=$!
sleep 0.5
cg s "$work/cluster-node" reader --name r1 --pub "$pub" --snapshots "$side" --duration "${total}s" --log-level warning \
  >/dev/null 2>"$work/s.log" & pids+=($!)
reader=$!
window s "$reader"
wait "$reader" || true
kill "$writer" 2>/dev/null || true

python3 - "$work" "$rate" "$window" <<'PY'
import glob, os, sys
work, rate, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
msgs = rate * window
def threads(system):
    # The dump taken by callgrind_control: <name>.cg-<pid>.<part>-<thread>; thread 01 is the reader's own.
    out = {}
    for f in glob.glob(f"{work}/{system}.cg*.1-*"):
        tid = int(f.rsplit("-", 1)[1])
        for line in open(f):
            if line.startswith(("summary:", "totals:")):
                out[tid] = int(line.split()[1]); break
    if not out: sys.exit(f"reader-instructions: no callgrind dump for {system} in {work}")
    main = out.get(1, 0)
    return main / msgs, (sum(out.values()) - main) / msgs
cm, ci = threads("c"); sm, si = threads("s")
print(f"instructions per message over {window} s at {rate}/s ({msgs} messages):")
print(f"  C (raw libzmq): reader thread {cm:6.0f}  libzmq threads {ci:6.0f}  total {cm + ci:6.0f}")
print(f"  ClusterSim:     reader thread {sm:6.0f}  libzmq threads {si:6.0f}  total {sm + si:6.0f}")
print(f"  ratio:          reader thread {sm / cm:6.2f}  libzmq threads {si / ci:6.2f}  total {(sm + si) / (cm + ci):6.2f}")
PY
