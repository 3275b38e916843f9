// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for ClusterCore's decoders (frames, snapshots, the
// writer's state file, control and query messages, topologies) and for the
// direct subscriber's ZMTP and CurveZMQ client (ZeroMQ). Built and
// run by scripts/fuzz.sh (see docs/architecture.md, "Fuzzing"):
//
//   swift build --package-path Fuzz --scratch-path .build-fuzz -c release --sanitize fuzzer \
//       -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing
//
// The sanitizers are given on the command line, not here, because they must
// instrument ClusterCore, ZeroMQ and SwiftProtobuf too (coverage guides the fuzzer
// through the code under test, not only through these entry points).
// `--sanitize fuzzer` tells SwiftPM that libFuzzer supplies `main`; the one
// `-sanitize=fuzzer,address` flag, given last, is what the compiler keeps
// (it keeps only the last -sanitize= flag). `-enable-testing` lets
// FuzzChecks use ClusterCore's internal parser, and ZMTPFuzzChecks the
// direct subscriber's internals, as the tests do. Kept out
// of the root package so that its `swift build` and `swift test` never see
// fuzzer flags.
let fuzzTargets = ["frame", "snapshot", "snapshot-file", "messages", "topology"]

let package = Package(
    name: "ClusterSimFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ClusterSim", path: ".."),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // The properties checked, shared with Tests/ClusterCoreTests (FuzzChecks.swift
        // is a link to the test target's file, so regression tests replay the same code).
        .target(
            name: "FuzzChecks",
            dependencies: [
                .product(name: "ClusterCore", package: "ClusterSim"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The `zmtp` target's properties, shared with Tests/ZeroMQTests the same way.
        .target(
            name: "ZMTPFuzzChecks",
            dependencies: [.product(name: "ZeroMQ", package: "ClusterSim")]
        ),
        .executableTarget(
            name: "fuzz-zmtp",
            dependencies: ["ZMTPFuzzChecks"],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ] + fuzzTargets.map { name in
        // One libFuzzer executable per target: `LLVMFuzzerTestOneInput` and no
        // `main` (libFuzzer's runtime has it), hence -parse-as-library.
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: ["FuzzChecks"],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    }
)
