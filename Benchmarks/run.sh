#!/usr/bin/env bash
# Runs the StateStore and wire benchmarks (release build, package-benchmark).
#   Benchmarks/run.sh                     all rows
#   Benchmarks/run.sh --filter 'set.*'    some rows
#   Benchmarks/run.sh --target WireBenchmarks
# Extra arguments go to `swift package benchmark`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift package --package-path Benchmarks benchmark --no-progress "$@"
