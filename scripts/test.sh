#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: set-up, build, tests.
#
#   scripts/test.sh                  # quick stress level (CI)
#   CLUSTERSIM_STRESS=full scripts/test.sh
#
# Integration tests launch real processes from .build/debug; the build below
# makes sure they exist. Extra arguments go to `swift test` (e.g. --filter).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
# The module rules (docs/architecture.md, "Layers"), and proof that the check can fail.
python3 scripts/check-modules.py
python3 scripts/check-modules.py --self-test
export CLUSTERSIM_STRESS=${CLUSTERSIM_STRESS:-quick}
set +e
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]'
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "test.sh: build failed" >&2; exit "$status"; }
swift test --skip-build "$@"
