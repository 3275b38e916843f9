#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of Fuzz/ (docs/architecture.md, "Fuzzing").
#
#   scripts/fuzz.sh TARGET SECONDS           fuzz one target for SECONDS
#   scripts/fuzz.sh all SECONDS              each target in turn, SECONDS each
#   scripts/fuzz.sh --merge TARGET SECONDS   then add what found new coverage to Fuzz/Corpus/TARGET
#   scripts/fuzz.sh --build                  build only
#   scripts/fuzz.sh --seeds                  rewrite the seed corpus from the project's encoders
#   scripts/fuzz.sh --help
#
# Targets: frame, snapshot, snapshot-file, messages, topology, zmtp.
# Exit status: 0 when every run ended without a finding, 1 on any crash,
# violated property, leak, timeout or out-of-memory, 2 for bad arguments or
# a build that cannot fuzz.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

targets=(frame snapshot snapshot-file messages topology zmtp)
scratch=.build-fuzz
bin_dir=$scratch/release

usage() {
  cat <<'EOF'
usage: scripts/fuzz.sh [--merge] [--out DIR] TARGET|all SECONDS
       scripts/fuzz.sh --build | --seeds | --help

Builds the fuzz package (Fuzz/Package.swift, in .build-fuzz: release, with
libFuzzer and AddressSanitizer instrumenting ClusterCore, ZeroMQ and SwiftProtobuf),
then runs libFuzzer on each TARGET for SECONDS (wall clock, at nice 19):

  frame          published frames: FrameCodec.header(of:) against parseHeader,
                 the embedded snapshot, heartbeats, end-of-stream, SwiftProtobuf
  snapshot       Snapshot messages: SnapshotCodec, SnapshotSummary.scan, SwiftProtobuf
  snapshot-file  the writer's state file: SnapshotFile.load, save, load again
  messages       ControlMessage, SnapshotRequest/Reply, QueryRequest/Reply round trips
  topology       TopologyLoader.parse, encode, parse again
  zmtp           the direct subscriber (ZeroMQ's DirectSubscriber) reading a
                 publisher's stream on a socket pair: raw bytes, or NULL and
                 CURVE handshakes done right followed by records of frames;
                 a well-formed stream must give its messages exactly

Inputs come from Fuzz/Corpus/TARGET (seeds) and Fuzz/Regressions/TARGET
(past findings), read only; new inputs go to a scratch corpus under the run
directory (.build-fuzz/runs/<time>/TARGET unless --out), with libFuzzer's
log and any crashing input. The repository is written only with --merge
(new-coverage inputs into Fuzz/Corpus/TARGET) or --seeds.

Limits: -timeout=20 s per input, -rss_limit_mb=2048, -malloc_limit_mb=1024,
-max_len per target (4096 bytes, 8192 for the JSON targets); hitting one is
a finding. Leaks are reported by LeakSanitizer (except Foundation's own,
listed in Fuzz/lsan.supp).

Exit status: 0 no finding; 1 a finding (the input's path is printed, with
the command that replays it); 2 bad arguments, or a toolchain or build that
cannot fuzz (no libFuzzer runtime, targets without coverage).

A finding becomes a regression: copy the input to
Fuzz/Regressions/TARGET/<what>.<accepted|rejected> (what the code must do
with it); FuzzRegressionTests replays every file there.
EOF
}

max_len() {
  case "$1" in
    snapshot-file | topology) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

# The fewest coverage counters a target's binary has when the code under test
# is instrumented (ClusterCore and SwiftProtobuf: about 176 000; ZeroMQ: about 9 000).
min_counters() {
  case "$1" in
    zmtp) echo 2000 ;;
    *) echo 10000 ;;
  esac
}

die() { echo "fuzz: $*" >&2; exit 2; }

# The toolchain must have libFuzzer's runtime (swift.org's Linux toolchains do;
# Xcode's does not): without it there is nothing to run, and that must not pass.
check_toolchain() {
  [ "$(uname -s)" = Linux ] || die "fuzzing needs Linux (Swift's -sanitize=fuzzer); this is $(uname -s)"
  command -v nm >/dev/null || die "nm (binutils) not found: it checks that the targets are instrumented"
  local resource
  resource=$(swiftc -print-target-info | python3 -c 'import json, sys; print(json.load(sys.stdin)["paths"]["runtimeResourcePath"])') \
    || die "cannot ask swiftc for its runtime resource path"
  local runtime="$resource/clang/lib/linux/libclang_rt.fuzzer-$(uname -m).a"
  [ -f "$runtime" ] || die "this Swift toolchain has no libFuzzer runtime ($runtime)"
}

build() {
  check_toolchain
  local start=$SECONDS status
  echo "fuzz: building the fuzz targets (swift build --package-path Fuzz --scratch-path $scratch -c release)"
  # `--sanitize fuzzer` makes SwiftPM leave `main` to libFuzzer (otherwise it
  # links each executable to an entry point a fuzz target does not have).
  # Then one -sanitize= flag naming both, given last: swiftc keeps only the
  # last -sanitize= it is given, and `--sanitize fuzzer --sanitize address`
  # passes two in no fixed order, so coverage or ASan silently goes missing.
  set +e
  swift build --package-path Fuzz --scratch-path "$scratch" -c release --sanitize fuzzer \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing 2>&1 \
    | grep -vE '^\[[0-9]+/[0-9]+\] |Cannot export local symbol|prohibited flag\(s\): -isystem'
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" -eq 0 ] || die "the fuzz build failed (status $status)"
  # The code under test must carry both instrumentations, not only the entry points.
  # (nm's list is read whole first: `nm | grep -q` would fail under pipefail
  # when grep stops reading early and nm dies of SIGPIPE.)
  local object undefined
  for object in "$bin_dir/ClusterCore.build/Frames.swift.o" "$bin_dir/ZeroMQ.build/DirectSubscriber.swift.o"; do
    [ -f "$object" ] || die "$object not found after the build"
    undefined=$(nm -u "$object") || die "nm cannot read $object"
    grep -q __sanitizer_cov_trace_cmp <<<"$undefined" || die "$object is not instrumented for coverage"
    grep -q __asan_ <<<"$undefined" || die "$object is not instrumented by AddressSanitizer"
  done
  echo "fuzz: built in $((SECONDS - start)) s"
}

# Runs one target; prints its figures; returns 1 on a finding.
run_target() {
  local target=$1 seconds=$2 dir=$3
  local bin=$bin_dir/fuzz-$target log=$dir/fuzz.log
  mkdir -p "$dir/corpus"
  local inputs=("$dir/corpus" "Fuzz/Corpus/$target")
  [ -d "Fuzz/Regressions/$target" ] && inputs+=("Fuzz/Regressions/$target")
  local args=(
    -max_total_time="$seconds" -max_len="$(max_len "$target")"
    -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024
    -print_final_stats=1 -artifact_prefix="$dir/"
  )
  [ -f "Fuzz/$target.dict" ] && args+=(-dict="Fuzz/$target.dict")
  echo "fuzz $target: ${seconds} s ($bin, log $log)"
  local status=0
  # Swift's own crash backtracer reads memory ASan forbids and crashes in turn:
  # off, so libFuzzer prints the stack. Leaks that are Foundation's: Fuzz/lsan.supp.
  SWIFT_BACKTRACE=enable=no LSAN_OPTIONS="suppressions=$root/Fuzz/lsan.supp:print_suppressions=0" \
    nice -n 19 "$bin" "${args[@]}" "${inputs[@]}" >"$log" 2>&1 || status=$?

  local counters done_line runs rate peak new
  counters=$(sed -nE 's/^INFO: Loaded [0-9]+ modules? +\(([0-9]+) inline 8-bit counters\).*/\1/p' "$log" | head -1)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|NEW|REDUCE|pulse)' "$log" | tail -1 || true)
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
  peak=$(sed -nE 's/^stat::peak_rss_mb: *([0-9]+)/\1/p' "$log")
  new=$(sed -nE 's/^stat::new_units_added: *([0-9]+)/\1/p' "$log")
  local cov ft corp
  cov=$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$done_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$done_line")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[bkKM]?b?) .*/\1/p' <<<"$done_line")

  local artifacts=()
  for f in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
    [ -e "$f" ] && artifacts+=("$f")
  done
  if [ "$status" -ne 0 ] || [ ${#artifacts[@]} -gt 0 ] || [ -z "$runs" ]; then
    echo "fuzz $target: FAILED (libFuzzer exit status $status)"
    grep -m1 -E 'Fatal error:|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|SUMMARY:' "$log" | sed 's/^/  /' || true
    echo "  --- the end of $log:"
    tail -n 40 "$log" | sed 's/^/  | /'
    for f in "${artifacts[@]}"; do
      echo "  input: $f"
      echo "  replay: SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=Fuzz/lsan.supp $bin $f"
    done
    [ ${#artifacts[@]} -gt 0 ] && echo "  as a regression: cp INPUT Fuzz/Regressions/$target/<what>.<accepted|rejected>"
    return 1
  fi
  # A target without coverage counters fuzzes blindly: a broken build, not a pass.
  if [ -z "$counters" ] || [ "$counters" -lt "$(min_counters "$target")" ]; then
    echo "fuzz $target: FAILED: only ${counters:-no} coverage counters; the code under test is not instrumented" >&2
    return 1
  fi
  printf 'fuzz %s: %s runs in %s s (%s/s), cov %s, ft %s, corpus %s (%s new), peak RSS %s MB: ok\n' \
    "$target" "$runs" "$seconds" "$rate" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${new:-0}" "${peak:-?}"
}

merge_into_corpus() {
  local target=$1 dir=$2
  local before after
  before=$(find "Fuzz/Corpus/$target" -type f | wc -l)
  "$bin_dir/fuzz-$target" -merge=1 -max_len="$(max_len "$target")" "Fuzz/Corpus/$target" "$dir/corpus" >"$dir/merge.log" 2>&1 \
    || { echo "fuzz $target: merge failed, see $dir/merge.log" >&2; return 1; }
  after=$(find "Fuzz/Corpus/$target" -type f | wc -l)
  echo "fuzz $target: merged $((after - before)) inputs into Fuzz/Corpus/$target ($after files)"
}

merge=0
out=""
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --build) build; exit 0 ;;
    --seeds)
      echo "fuzz: writing the seed corpus into Fuzz/Corpus"
      CLUSTERSIM_FUZZ_SEEDS="$root/Fuzz/Corpus" swift test --filter FuzzRegressionTests
      exit 0 ;;
    --merge) merge=1; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
    -*) usage >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -eq 2 ] || { usage >&2; exit 2; }
which=${positional[0]}
seconds=${positional[1]}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive whole number, not '$seconds'"
if [ "$which" = all ]; then
  selected=("${targets[@]}")
else
  [[ " ${targets[*]} " == *" $which "* ]] || die "unknown target '$which' (one of ${targets[*]}, or all)"
  selected=("$which")
fi

started=$SECONDS
build
out=${out:-$scratch/runs/$(date +%Y%m%d-%H%M%S)}
failed=()
for target in "${selected[@]}"; do
  if run_target "$target" "$seconds" "$out/$target"; then
    [ "$merge" -eq 1 ] && merge_into_corpus "$target" "$out/$target"
  else
    failed+=("$target")
  fi
done
echo "fuzz: ${#selected[@]} target(s) in $((SECONDS - started)) s, build included; runs in $out"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
