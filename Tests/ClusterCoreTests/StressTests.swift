import Foundation
import Synchronization
import Testing

@testable import ClusterCore

extension Tag {
    /// High-volume tests of the store; `CLUSTERSIM_STRESS=full` makes them longer.
    @Tag static var stress: Self
}

/// How hard the stress suite pushes: `CLUSTERSIM_STRESS=quick` (the default,
/// for CI: the whole suite in seconds) or `full` (by hand).
enum StressLevel: String {
    case quick, full

    static let current = StressLevel(rawValue: ProcessInfo.processInfo.environment["CLUSTERSIM_STRESS"] ?? "") ?? .quick

    func pick<T>(quick: T, full: T) -> T { self == .quick ? quick : full }
}

/// A flag shared between tasks.
final class CycleCounter: Sendable {
    let value = Atomic<Int>(0)
}

final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// Drains a subscription until `lastVersion`, yielding every `slowEvery`
/// deliveries to fall behind on purpose; checks versions only grow.
func drainChecked(_ subscription: StateSubscription, until lastVersion: UInt64, slowEvery: Int = 0) async -> Tally {
    var tally = Tally()
    var previous: UInt64 = 0
    for await delivery in subscription {
        let version = delivery.snapshot.version
        precondition(version > previous, "versions went backwards: \(previous) then \(version)")
        if let missed = delivery.missed {
            precondition(missed.lowerBound > previous && missed.upperBound < version, "missed range out of place")
        }
        previous = version
        tally.versions.append(version)
        tally.missed += delivery.missedCount
        if slowEvery > 0, tally.versions.count % slowEvery == 0 { await Task.yield() }
        if version == lastVersion { break }
    }
    return tally
}

@Suite("Stress", .tags(.stress))
struct StressTests {
    let level = StressLevel.current

    @Test func highVolumeSetAndGet() async throws {
        let sets = level.pick(quick: 50_000, full: 2_000_000)
        let store = StateStore()
        let done = StopFlag()
        try await withDeadline(seconds: level.pick(quick: 20, full: 600)) {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        var last: UInt64 = 0
                        while !done.isSet {
                            let version = store.core.get()?.version ?? 0
                            precondition(version >= last, "a reader saw the version go backwards")
                            last = version
                            await Task.yield()
                        }
                    }
                }
                group.addTask {
                    for _ in 0..<sets { try! store.core.set(makeSnapshot()) }
                    done.set()
                }
            }
        }
        let metrics = await store.metrics
        #expect(metrics.currentVersion == UInt64(sets))
        #expect(metrics.sets == UInt64(sets))
        #expect(metrics.gets > 0)
    }

    @Test func rapidStateChangesFollowTheMachine() async throws {
        let events = level.pick(quick: 20_000, full: 1_000_000)
        let store = StateStore(configuration: .init(historyLimit: 32))
        let initial = await store.initializeIfEmpty(epoch: 3, fsmInstanceID: "fsm", sourceModule: "stress").snapshot
        var machine = StateMachine(state: initial.state)
        var generator = EventGenerator(seed: 99)
        var current = initial
        for _ in 0..<events {
            switch machine.apply(generator.next(for: machine.state)) {
            case .success(let transition):
                current = try await store.set(
                    current.next(after: transition, attemptCount: machine.attemptCount, historyLimit: 8),
                    enforceVersion: true)
            case .failure(let illegal):
                #expect(illegal.state == machine.state)
            }
        }
        let stored = try #require(await store.get())
        let transitions = machine.transitionsByKind.values.reduce(0, +)
        #expect(stored == current)
        #expect(stored.state == machine.state)
        #expect(stored.version == 1 + transitions)
        #expect(transitions + machine.illegalEvents == UInt64(events))
        #expect(stored.history.count == 8)
        #expect(await store.history().count == 32)
    }

    @Test func thirtyConcurrentWritersWithoutEnforcement() async throws {
        let store = StateStore()
        let initial = await store.initializeIfEmpty(epoch: 1, fsmInstanceID: "fsm", sourceModule: "stress").snapshot
        let seen = Mutex<[UInt64]>([])
        store.addSink { snapshot in seen.withLock { $0.append(snapshot.version) } }
        let (writers, opsEach) = (30, level.pick(quick: 50, full: 5_000))
        let failures = try await withDeadline {
            await withTaskGroup(of: Int.self) { group in
                for _ in 0..<writers {
                    group.addTask {
                        var failures = 0
                        for _ in 0..<opsEach {
                            do { try await store.set(makeSnapshot(version: 0)) } catch { failures += 1 }
                            await Task.yield()
                        }
                        return failures
                    }
                }
                return await group.reduce(0, +)
            }
        }
        let total = UInt64(writers * opsEach)
        #expect(failures == 0)
        #expect(await store.get()?.version == initial.version + total)
        #expect(seen.withLock { $0 } == Array(initial.version...(initial.version + total)))
    }

    @Test func twoHundredSubscribersAccountForEveryVersion() async throws {
        let sets = level.pick(quick: 1_000, full: 100_000)
        let store = StateStore()
        try await store.set(makeSnapshot())
        let last = UInt64(1 + sets)
        let writerDone = StopFlag()
        let tallies = try await withDeadline(seconds: level.pick(quick: 25, full: 900)) {
            try await withThrowingTaskGroup(of: (Int, Tally).self) { group in
                for i in 0..<200 {
                    // Small buffers and slow consumers overflow; large ones must not.
                    let subscription = try await store.subscribe(bufferSize: i % 4 == 0 ? 8 : 4_096)
                    group.addTask {
                        // Some start draining only when the writer is done: they must overflow.
                        while i % 8 == 0, !writerDone.isSet { try? await Task.sleep(for: .milliseconds(2)) }
                        return (i, await drainChecked(subscription, until: last, slowEvery: i % 2 == 0 ? 1 : 0))
                    }
                }
                for _ in 0..<sets {
                    try await store.set(makeSnapshot())
                    await Task.yield()
                }
                writerDone.set()
                return try await group.reduce(into: [Int: Tally]()) { $0[$1.0] = $1.1 }
            }
        }
        #expect(tallies.count == 200)
        var missedInAll: UInt64 = 0
        for (i, tally) in tallies {
            #expect(tally.accounted == last, "subscriber \(i): \(tally.versions.count) received + \(tally.missed) missed")
            #expect(tally.versions.last == last)
            if i % 4 != 0 { #expect(tally.missed == 0, "subscriber \(i) with a large buffer lost snapshots") }
            if i % 8 == 0 { #expect(tally.versions == Array(last - 7...last) && tally.missed == last - 8) }
            missedInAll += tally.missed
        }
        let metrics = await store.metrics
        #expect(missedInAll > 0)
        #expect(metrics.notificationsFailed == missedInAll)
        #expect(metrics.notificationsSent == 200 * last)
        await store.cleanup()
    }

    @Test func subscriberWavesLeaveNothingBehind() async throws {
        let waves = level.pick(quick: 20, full: 500)
        let store = StateStore()
        try await store.set(makeSnapshot())
        for wave in 0..<waves {
            var subscriptions: [StateSubscription] = []
            for _ in 0..<500 { subscriptions.append(try await store.subscribe(bufferSize: 16)) }
            try await store.set(makeSnapshot())
            #expect(await store.metrics.subscribers == 500)
            switch wave % 3 {
            case 0: for subscription in subscriptions { await store.unsubscribe(subscription) }
            case 1: await store.cleanup()
            default: subscriptions.removeAll()  // dropping them unsubscribes
            }
            #expect(await store.metrics.subscribers == 0)
        }
        let metrics = await store.metrics
        #expect(metrics.subscribersCreated == UInt64(waves * 500))
        #expect(metrics.subscribersRemoved == metrics.subscribersCreated)
        #expect(metrics.peakSubscribers == 500)
        let footprint = store.core.storageFootprint
        #expect(footprint.subscriberCapacity <= 64)
        #expect(footprint.history <= store.configuration.historyLimit)
    }

    @Test func tenPercentStaleSnapshotsAreRefused() async throws {
        let operations = level.pick(quick: 10_000, full: 500_000)
        let store = StateStore()
        let subscription = try await store.subscribe(bufferSize: operations)
        var version: UInt64 = 0
        var refused = 0
        for i in 0..<operations {
            if i % 10 == 9 {
                let stale = version - UInt64(i % 3)  // equal to or below the current version
                do {
                    try await store.set(makeSnapshot(version: stale), enforceVersion: true)
                    Issue.record("stale version \(stale) accepted at \(version)")
                } catch {
                    #expect(error == StateVersionError(current: version, attempted: stale))
                    refused += 1
                }
            } else {
                version += 1
                try await store.set(makeSnapshot(version: version), enforceVersion: true)
            }
        }
        #expect(refused == operations / 10)
        let metrics = await store.metrics
        #expect(metrics.versionConflicts == UInt64(refused))
        #expect(metrics.currentVersion == version)
        #expect(await store.healthCheck().problems.isEmpty)  // 10% is the limit, not over it
        await store.unsubscribe(subscription)
        let last = version
        let tally = try await withDeadline { await drainChecked(subscription, until: last) }
        #expect(tally.versions == Array(1...version))
    }

    @Test func healthWithAThousandSubscribers() async throws {
        let store = StateStore(configuration: .init(maxSubscribers: 1_000, defaultBufferSize: 4))
        try await store.set(makeSnapshot())
        var subscriptions: [StateSubscription] = []
        for _ in 0..<899 { subscriptions.append(try await store.subscribe()) }
        #expect(await store.healthCheck().status == .healthy)
        subscriptions.append(try await store.subscribe())
        let near = await store.healthCheck()
        #expect(near.status == .degraded)
        #expect(near.warnings.contains { $0.contains("900 subscribers") })
        for _ in 0..<100 { subscriptions.append(try await store.subscribe()) }
        await #expect(throws: SubscriberLimitError(limit: 1_000)) { _ = try await store.subscribe() }
        for _ in 0..<10 { try await store.set(makeSnapshot()) }
        let full = await store.healthCheck()
        #expect(full.metrics.subscribers == 1_000)
        #expect(full.metrics.overflowBySubscriber.values.allSatisfy { $0 == 7 })
        #expect(full.warnings.contains { $0.contains("overflow") })
        #expect(await store.cleanup() == 1_000)
        #expect(await store.healthCheck().warnings.isEmpty)
    }

    @Test func longMixedRun() async throws {
        let duration = level.pick(quick: Duration.seconds(2), full: .seconds(120))
        let store = StateStore(configuration: .init(maxSubscribers: 64, defaultBufferSize: 32))
        let initial = await store.initializeIfEmpty(epoch: 7, fsmInstanceID: "fsm", sourceModule: "stress").snapshot
        let sinkVersions = Mutex<(count: UInt64, last: UInt64)>((0, 0))
        store.addSink { snapshot in
            sinkVersions.withLock {
                precondition(snapshot.version == $0.last + 1, "sink skipped a version")
                $0 = ($0.count + 1, snapshot.version)
            }
        }
        let stop = StopFlag()
        // The writer keeps going until every churn worker completed a cycle
        // (bounded by the deadline), so a loaded machine cannot end the run
        // before churn began: beside the whole suite on two cores, the
        // cooperative pool once ran no churn cycle in the run's first 22 s.
        let cycles = CycleCounter()
        let start = ContinuousClock.now
        let (finalVersion, churned) = try await withDeadline(seconds: 120 + Double(duration.components.seconds) * 2) {
            try await withThrowingTaskGroup(of: (UInt64, Int).self) { group in
                // The writer: FSM events from a seeded generator.
                group.addTask {
                    var machine = StateMachine(state: initial.state)
                    var generator = EventGenerator(seed: 2024)
                    var current = initial
                    while !Task.isCancelled, ContinuousClock.now - start < duration
                            || cycles.value.load(ordering: .relaxed) < 4 {
                        for _ in 0..<100 {
                            if case .success(let t) = machine.apply(generator.next(for: machine.state)) {
                                current = try store.core.set(
                                    current.next(after: t, attemptCount: machine.attemptCount, historyLimit: 8),
                                    enforceVersion: true)
                            }
                        }
                        await Task.yield()
                    }
                    // Subscribers that subscribed before this cleanup are
                    // ended by it; later ones see `stop` set.
                    stop.set()
                    store.core.cleanup()
                    return (current.version, 0)
                }
                // Subscribers coming and going, each checking its accounting.
                for worker in 0..<4 {
                    group.addTask {
                        var churned = 0
                        while true {
                            let subscription = try await store.subscribe()
                            if stop.isSet { break }
                            var tally = Tally()
                            var first: UInt64?
                            for await delivery in subscription {
                                // The first delivery is the version current at
                                // subscription, or follows it when that was lost.
                                first = first ?? delivery.missed?.lowerBound ?? delivery.snapshot.version
                                tally.versions.append(delivery.snapshot.version)
                                tally.missed += delivery.missedCount
                                if tally.versions.count >= 50 + worker * 10 { break }
                            }
                            if let first, let last = tally.versions.last {
                                // Versions are contiguous: each is received or reported missed.
                                precondition(last - first + 1 == tally.accounted, "a version went unaccounted")
                            }
                            await store.unsubscribe(subscription)
                            churned += 1
                            if churned == 1 { cycles.value.add(1, ordering: .relaxed) }
                        }
                        return (0, churned)
                    }
                }
                // Readers.
                group.addTask {
                    var last: UInt64 = 0
                    while !stop.isSet {
                        let meta = await store.getWithMeta()
                        precondition(meta.version >= last)
                        last = meta.version
                        _ = await store.healthCheck()
                        try await Task.sleep(for: .milliseconds(1))
                    }
                    return (0, 0)
                }
                return try await group.reduce(into: (UInt64(0), 0)) { $0 = (max($0.0, $1.0), $0.1 + $1.1) }
            }
        }
        #expect(await store.get()?.version == finalVersion)
        #expect(sinkVersions.withLock { $0.last } == finalVersion)
        #expect(sinkVersions.withLock { $0.count } == finalVersion)
        #expect(churned > 0)
        #expect(await store.metrics.subscribers == 0)
        #expect(await store.healthCheck().problems.isEmpty)
    }
}
