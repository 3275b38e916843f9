// swift-tools-version:6.1
import PackageDescription

// Module rules (docs/architecture.md, "Layers"; scripts/check-modules.py
// checks them): ClusterCore and ClusterProcess depend on no other module of
// the project; the nodes (ClusterNode) and the orchestrator
// (ClusterOrchestrator) depend on them and on ZeroMQ, never on each other.
let package = Package(
    name: "ClusterSim",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cluster-node", targets: ["cluster-node"]),
        .executable(name: "orchestrator", targets: ["orchestrator"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "ClusterCore", targets: ["ClusterCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        // libzmq from Debian's libzmq3-dev, found through pkg-config.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // libsodium (libsodium-dev, which libzmq3-dev depends on): CurveZMQ for the direct subscriber.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ", "CSodium", "CSystemShims"]),
        // Linux calls the Glibc overlay does not export (signalfd, prctl, posix_spawn set-up).
        .target(name: "CSystemShims"),
        // Process plumbing the orchestrator and the nodes share: shutdown
        // signals, the parent watch, CPU affinity, precise sleeps.
        .target(name: "ClusterProcess", dependencies: ["CSystemShims"]),
        .target(
            name: "ClusterCore",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "ClusterNode",
            dependencies: [
                "ZeroMQ", "ClusterCore", "ClusterProcess",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            // The reader's per-message path mutates its node's stored properties;
            // in release builds their run-time exclusivity checks (swift_beginAccess,
            // a thread-local lookup each) were a tenth of its instructions per
            // message. Debug builds, which the tests run, keep the checks.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "ClusterOrchestrator",
            dependencies: [
                "ZeroMQ", "ClusterCore", "ClusterProcess", "CSystemShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                // The node table: nodes by name, in topology order.
                .product(name: "OrderedCollections", package: "swift-collections"),
                // The system commands of the netns launcher (ip, iptables, tc), with a timeout.
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .executableTarget(
            name: "cluster-node",
            dependencies: [
                "ClusterNode", "ClusterCore", "ClusterProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "orchestrator",
            dependencies: [
                "ClusterOrchestrator", "ClusterCore", "ClusterProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers shared by the test targets.
        .target(name: "ClusterTestSupport", path: "Tests/ClusterTestSupport"),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ", "CZeroMQ", "CSodium", "ClusterCore"]),
        .testTarget(name: "ClusterProcessTests", dependencies: ["ClusterProcess"]),
        .testTarget(
            name: "ClusterCoreTests",
            dependencies: ["ClusterCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .testTarget(
            name: "ClusterNodeTests",
            dependencies: [
                "ClusterNode", "ZeroMQ", "ClusterCore", "ClusterProcess", "ClusterTestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ClusterOrchestratorTests",
            dependencies: ["ClusterOrchestrator", "ClusterCore", "ZeroMQ", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The command lines the orchestrator renders, parsed by cluster-node's own commands.
        .testTarget(
            name: "CommandLineTests",
            dependencies: ["cluster-node", "ClusterCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["ClusterOrchestrator", "ClusterCore", "ClusterProcess", "ZeroMQ", "ClusterTestSupport"]
        ),
    ]
)
