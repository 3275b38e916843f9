// swift-tools-version:6.1
import PackageDescription

// Benchmarks of ClusterSim's core, run with package-benchmark:
//   swift package --package-path Benchmarks benchmark
// (or Benchmarks/run.sh). Kept out of the root package so that a plain
// `swift build` of ClusterSim does not fetch or build the benchmark tooling.
let package = Package(
    name: "ClusterSimBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ClusterSim", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "StateStoreBenchmarks",
            dependencies: [
                .product(name: "ClusterCore", package: "ClusterSim"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/StateStore",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "WireBenchmarks",
            dependencies: [
                .product(name: "ClusterCore", package: "ClusterSim"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Wire",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
