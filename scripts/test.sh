#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: set-up, build, tests, then
# each fuzz target for a bounded time (scripts/fuzz.sh).
#
#   scripts/test.sh                  # quick stress level, 30 s per fuzz target (CI)
#   CLUSTERSIM_STRESS=full scripts/test.sh
#   CLUSTERSIM_FUZZ_SECONDS=0 scripts/test.sh    # no fuzzing
#
# Integration tests launch real processes from .build/debug; the build below
# makes sure they exist. The suites that compare latencies within a run, then
# the container tests (a Docker engine, the image, the compose and swarm
# launchers), run after the others, each group on its own. Extra
# arguments go to `swift test` (e.g. --filter); with them, only those tests
# run and the fuzzing is skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
# Every file the run makes goes under one directory of its own (TMPDIR), removed when
# the tests pass and kept, with its path printed, when they fail: run directories, keys,
# dumps, and SwiftPM's own temporary directories (the manifest's, the builds' and the
# fuzz build's, which it leaves behind in /tmp).
outer_tmp=${TMPDIR:-/tmp}
test_tmp=$(mktemp -d "${outer_tmp%/}/clustersim-tests.XXXXXX")
chmod 1777 "$test_tmp"   # as /tmp is: a test runs the orchestrator as another user
keep_or_remove() {
  local status=$?
  if [ "$status" -eq 0 ]; then rm -rf "$test_tmp"; else echo "test.sh: the tests' files are kept in $test_tmp" >&2; fi
}
trap keep_or_remove EXIT
export TMPDIR="$test_tmp/"
# The module rules (docs/architecture.md, "Layers"), and proof that the check can fail.
python3 scripts/check-modules.py
python3 scripts/check-modules.py --self-test
export CLUSTERSIM_STRESS=${CLUSTERSIM_STRESS:-quick}
set +e
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]'
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "test.sh: build failed" >&2; exit "$status"; }
if [ $# -gt 0 ]; then
  swift test --skip-build "$@"
else
  # Suites that compare latencies measured in one run (a Python subscriber's
  # against the readers', a spike against the run's usual level) run after
  # the rest and on their own: beside 80 other suites starting processes on
  # two cores, the scheduler, not the code under test, decides their figures.
  # One suite at a time: the spike suite's CPU hog would disturb the other.
  swift test --skip-build --skip ContainerTests --skip 'AttachTests|SpikeAttributionRunTests'
  swift test --skip-build --filter AttachTests
  swift test --skip-build --filter SpikeAttributionRunTests
  # The container tests on their own, after the rest: a dozen containers beside the
  # timing-sensitive tests would disturb both (docs/containers.md, "Tests").
  started=$SECONDS
  swift test --skip-build --filter ContainerTests
  echo "test.sh: container tests took $((SECONDS - started)) s"
fi

# Fuzzing (docs/architecture.md, "Fuzzing"): every target, CLUSTERSIM_FUZZ_SECONDS each.
fuzz_seconds=${CLUSTERSIM_FUZZ_SECONDS:-30}
if [ $# -gt 0 ]; then
  echo "test.sh: fuzzing skipped (tests were selected); scripts/fuzz.sh all $fuzz_seconds runs it"
elif [ "$fuzz_seconds" = 0 ]; then
  echo "test.sh: fuzzing skipped (CLUSTERSIM_FUZZ_SECONDS=0)"
else
  scripts/fuzz.sh all "$fuzz_seconds"
fi
