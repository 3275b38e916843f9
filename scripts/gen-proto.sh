#!/usr/bin/env bash
# Regenerates Sources/ClusterCore/Wire/cluster.pb.swift from Protos/cluster.proto.
#
# Needs protoc (Debian's protobuf-compiler) and protoc-gen-swift built from the
# same swift-protobuf version as Package.swift names. Building the plugin takes
# about 10 minutes the first time; it is cached in .build-protoc/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v protoc >/dev/null || { echo "gen-proto: installing protobuf-compiler" >&2; apt-get install -y protobuf-compiler >/dev/null; }
version=$(sed -n 's|.*swift-protobuf", from: "\([0-9.]*\)".*|\1|p' Package.swift)
plugin=${PROTOC_GEN_SWIFT:-}
if [ -z "$plugin" ]; then
  src=.build-protoc/swift-protobuf-$version
  if [ ! -x "$src/.build/release/protoc-gen-swift" ]; then
    rm -rf "$src"; mkdir -p .build-protoc
    git clone -q --depth 1 -b "$version" https://github.com/apple/swift-protobuf "$src"
    echo "gen-proto: building protoc-gen-swift $version (about 10 minutes)" >&2
    swift build -c release --package-path "$src" --product protoc-gen-swift
  fi
  plugin=$src/.build/release/protoc-gen-swift
fi
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
  --swift_out=Sources/ClusterCore/Wire -I Protos Protos/cluster.proto
echo "gen-proto: wrote Sources/ClusterCore/Wire/cluster.pb.swift"
