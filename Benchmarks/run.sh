#!/usr/bin/env bash
# Runs the StateStore benchmarks (release build, package-benchmark).
#   Benchmarks/run.sh                     all rows
#   Benchmarks/run.sh --filter 'set.*'    some rows
# Extra arguments go to `swift package benchmark`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift package --package-path Benchmarks benchmark --no-progress "$@"
