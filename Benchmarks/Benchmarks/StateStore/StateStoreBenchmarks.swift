import Benchmark
import ClusterCore
import Foundation
import Synchronization

// The Python AsyncStateStore's figures on the same 2-core machine, for the
// ratio column of docs/state-store.md:
//   set, 0 subscribers          670 000/s
//   set, 10 subscribers          36 000/s
//   set, 200 subscribers          2 100/s  (≈ 425 000 deliveries/s)
//   get                       1 700 000/s
//   subscribe + unsubscribe     315 000 pairs/s
//   set p99, 10 subscribers          20 µs

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )

    Benchmark("set, 0 subscribers", configuration: .init(scalingFactor: .mega)) { benchmark in
        await setWithSubscribers(benchmark, count: 0)
    }

    Benchmark("set, 10 subscribers", configuration: .init(metrics: fanOutMetrics, scalingFactor: .kilo)) {
        benchmark in
        await setWithSubscribers(benchmark, count: 10)
    }

    Benchmark("set, 200 subscribers", configuration: .init(metrics: fanOutMetrics, scalingFactor: .kilo)) {
        benchmark in
        await setWithSubscribers(benchmark, count: 200)
    }

    Benchmark("get", configuration: .init(scalingFactor: .mega)) { benchmark in
        let store = StateStore()
        await store.initializeIfEmpty(epoch: 1, fsmInstanceID: "bench", sourceModule: "bench", contextData: payload)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(await store.get())
        }
    }

    Benchmark("subscribe + unsubscribe", configuration: .init(scalingFactor: .mega)) { benchmark in
        let store = StateStore()
        await store.initializeIfEmpty(epoch: 1, fsmInstanceID: "bench", sourceModule: "bench", contextData: payload)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let subscription = try await store.subscribe()
            await store.unsubscribe(subscription)
        }
    }

    Benchmark(
        "set latency, 10 subscribers",
        configuration: .init(
            metrics: [.throughput, LatencyMetric.p50, LatencyMetric.p99, LatencyMetric.max, lostMetric],
            scalingFactor: .kilo)
    ) { benchmark in
        await setWithSubscribers(benchmark, count: 10, recordLatency: true)
    }

    // Envelope (Wire/) encode/decode benchmarks: a target of their own,
    // Benchmarks/Wire/, declared in Benchmarks/Package.swift.
}

enum LatencyMetric {
    static let p50 = BenchmarkMetric.custom("set p50 (ns)", polarity: .prefersSmaller, useScalingFactor: false)
    static let p99 = BenchmarkMetric.custom("set p99 (ns)", polarity: .prefersSmaller, useScalingFactor: false)
    static let max = BenchmarkMetric.custom("set max (ns)", polarity: .prefersSmaller, useScalingFactor: false)
}

/// Deliveries that subscribers lost to overflow (and were told of), per iteration.
let lostMetric = BenchmarkMetric.custom("deliveries lost", polarity: .prefersSmaller, useScalingFactor: false)
let fanOutMetrics: [BenchmarkMetric] = [.throughput, .wallClock, lostMetric]

/// A 512-byte payload, the default topology's.
let payload = Data(repeating: 0xA5, count: 512)

/// A snapshot like the writer's: 16 history entries and a 512-byte payload.
let sample: Snapshot = {
    var snapshot = Snapshot.initial(
        epoch: 1, fsmInstanceID: "bench", sourceModule: "writer", historyLimit: 16, contextData: payload)
    var machine = StateMachine(state: .booting)
    var events = EventGenerator(seed: 1)
    while snapshot.history.count < 16 {
        if case .success(let t) = machine.apply(events.next(for: machine.state)) {
            snapshot = snapshot.next(after: t, attemptCount: machine.attemptCount, historyLimit: 16)
        }
    }
    return snapshot
}()

/// Counts subscriber tasks that have started draining.
final class ReadyCount: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .releasing) }
    var count: Int { value.load(ordering: .acquiring) }
}

/// Sets `scaledIterations` snapshots while `count` tasks each drain their own
/// subscription. Measurement starts once every subscriber task is draining
/// and ends when every one has seen the last version; every delivery is
/// accounted for (received, or reported missed: the "deliveries lost" metric).
/// Buffers hold a whole iteration, so a subscriber only loses snapshots if it
/// is not scheduled at all during one.
func setWithSubscribers(_ benchmark: Benchmark, count: Int, recordLatency: Bool = false) async {
    let sets = UInt64(benchmark.scaledIterations.count)
    let store = StateStore(
        configuration: .init(maxSubscribers: Swift.max(count, 1), defaultBufferSize: Int(sets) + 1))
    await store.initializeIfEmpty { sample.withVersion(1) }
    let last = 1 + sets
    var latencies: [UInt64] = []
    if recordLatency { latencies.reserveCapacity(Int(sets)) }
    let ready = ReadyCount()

    let (received, missed) = await withTaskGroup(of: (UInt64, UInt64).self) { group in
        for _ in 0..<count {
            let subscription = try! await store.subscribe()
            group.addTask {
                var received: UInt64 = 0
                var missed: UInt64 = 0
                for await delivery in subscription {
                    if received == 0 { ready.increment() }
                    received += 1
                    missed += delivery.missedCount
                    if delivery.snapshot.version == last { break }
                }
                return (received, missed)
            }
        }
        while ready.count < count { await Task.yield() }
        benchmark.startMeasurement()
        for _ in 0..<sets {
            if recordLatency {
                let start = SystemClock.monotonicNanos()
                try! await store.set(sample)
                latencies.append(SystemClock.monotonicNanos() - start)
            } else {
                try! await store.set(sample)
            }
        }
        var received: UInt64 = 0
        var missed: UInt64 = 0
        for await (r, m) in group {
            received += r
            missed += m
        }
        benchmark.stopMeasurement()
        return (received, missed)
    }
    // Each subscriber got version 1 on subscribing, then every set.
    precondition(received + missed == UInt64(count) * (sets + 1), "deliveries unaccounted for")
    let failed = await store.metrics.notificationsFailed
    precondition(failed == missed, "overflow count disagrees")
    benchmark.measurement(lostMetric, Int(missed))
    if recordLatency {
        latencies.sort()
        benchmark.measurement(LatencyMetric.p50, Int(latencies[latencies.count / 2]))
        benchmark.measurement(LatencyMetric.p99, Int(latencies[latencies.count * 99 / 100]))
        benchmark.measurement(LatencyMetric.max, Int(latencies[latencies.count - 1]))
    }
    await store.cleanup()
}
