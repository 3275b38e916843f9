#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), builds the release executables
# (cluster-node and orchestrator, each only when its sources changed) and
# prints the directory that holds them: `bin=$(scripts/build-release.sh)`.
# Everything else goes to stderr; a failed build prints its output and exits 2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh >&2
# SwiftPM leaves an empty TemporaryDirectory.* in TMPDIR on every manifest
# load: give it a directory of its own, removed at the end.
build_tmp=$(mktemp -d "${TMPDIR:-/tmp}/clustersim-build.XXXXXX")
trap 'rm -rf "$build_tmp"' EXIT
export TMPDIR=$build_tmp
for product in cluster-node orchestrator; do
  if ! out=$(swift build -c release --product "$product" 2>&1); then
    echo "$out" >&2
    echo "build-release: building $product failed" >&2
    exit 2
  fi
done
swift build -c release --show-bin-path
