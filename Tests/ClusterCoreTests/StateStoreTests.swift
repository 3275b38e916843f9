import Foundation
import Synchronization
import Testing

@testable import ClusterCore

struct TimedOut: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "timed out after \(seconds) s" }
}

/// Runs `operation`, failing with ``TimedOut`` when it takes longer than
/// `seconds`; no test waits without a bound. The default is a bound on a
/// hang, not a speed target: beside the whole suite on two cores, tests
/// that block threads of the cooperative pool can hold these tasks back
/// for tens of seconds (thirty writers of 50 sets each once took over 10 s).
func withDeadline<T: Sendable>(
    seconds: Double = 60, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut(seconds: seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// What a subscriber saw: deliveries received and versions reported missed.
struct Tally: Sendable {
    var versions: [UInt64] = []
    var missed: UInt64 = 0
    var missedRanges: [ClosedRange<UInt64>] = []
    var accounted: UInt64 { UInt64(versions.count) + missed }
}

/// Drains `subscription` until it delivers `lastVersion` or ends.
func drain(_ subscription: StateSubscription, until lastVersion: UInt64? = nil) async -> Tally {
    var tally = Tally()
    for await delivery in subscription {
        tally.versions.append(delivery.snapshot.version)
        tally.missed += delivery.missedCount
        if let range = delivery.missed { tally.missedRanges.append(range) }
        if delivery.snapshot.version == lastVersion { break }
    }
    return tally
}

func makeSnapshot(version: UInt64 = 1, state: FSMState = .idle) -> Snapshot {
    Snapshot(
        version: version, epoch: 1, state: state, prevState: .booting, reason: "test",
        snapshotID: Snapshot.makeID(epoch: 1, version: version), fsmInstanceID: "fsm", sourceModule: "tests",
        attemptCount: 0, monotonicNanos: SystemClock.monotonicNanos(), wallNanos: SystemClock.wallNanos(), history: [],
        contextData: Data())
}

@Suite("StateStore")
struct StateStoreTests {
    @Test func emptyStoreHasNothing() async {
        let store = StateStore()
        #expect(await store.get() == nil)
        let meta = await store.getWithMeta()
        #expect(meta.snapshot == nil && meta.version == 0 && meta.updatedAtWallNanos == nil)
    }

    @Test func setWithoutEnforcingAutoIncrements() async throws {
        let store = StateStore()
        let first = try await store.set(makeSnapshot(version: 7))
        #expect(first.version == 1)
        #expect(first.snapshotID == "1-1")
        let second = try await store.set(makeSnapshot(version: 1, state: .active))
        #expect(second.version == 2)
        #expect(second.state == .active)
        #expect(await store.get() == second)
        let meta = await store.getWithMeta()
        #expect(meta.version == 2 && meta.snapshot == second && meta.updatedAtMonotonicNanos != nil)
    }

    @Test func enforcedVersionMustGrow() async throws {
        let store = StateStore()
        try await store.set(makeSnapshot(version: 5), enforceVersion: true)
        for stale: UInt64 in [5, 4, 0] {
            await #expect(throws: StateVersionError(current: 5, attempted: stale)) {
                try await store.set(makeSnapshot(version: stale, state: .errorState), enforceVersion: true)
            }
        }
        #expect(await store.get()?.version == 5)
        #expect(await store.get()?.state == .idle)
        let jumped = try await store.set(makeSnapshot(version: 9), enforceVersion: true)
        #expect(jumped.version == 9)
        let metrics = await store.metrics
        #expect(metrics.sets == 2 && metrics.versionConflicts == 3)
    }

    @Test func historyIsBounded() async throws {
        let store = StateStore(configuration: .init(historyLimit: 4))
        for _ in 0..<10 { try await store.set(makeSnapshot()) }
        #expect(await store.history().map(\.version) == [7, 8, 9, 10])
        #expect(store.core.storageFootprint.history == 4)
    }

    @Test func newSubscriberGetsCurrentFirst() async throws {
        let store = StateStore()
        try await store.set(makeSnapshot())
        try await store.set(makeSnapshot())
        let subscription = try await store.subscribe()
        try await store.set(makeSnapshot())
        let tally = try await withDeadline { await drain(subscription, until: 3) }
        #expect(tally.versions == [2, 3])
        #expect(tally.missed == 0)
    }

    @Test func subscriberOfEmptyStoreWaitsForFirstSet() async throws {
        let store = StateStore()
        let subscription = try await store.subscribe()
        let consumer = Task { try await withDeadline { await drain(subscription, until: 2) } }
        try await Task.sleep(for: .milliseconds(20))
        try await store.set(makeSnapshot())
        try await store.set(makeSnapshot())
        #expect(try await consumer.value.versions == [1, 2])
    }

    @Test func subscriberLimitIsEnforced() async throws {
        let store = StateStore(configuration: .init(maxSubscribers: 2))
        let a = try await store.subscribe()
        let b = try await store.subscribe()
        await #expect(throws: SubscriberLimitError(limit: 2)) { _ = try await store.subscribe() }
        await store.unsubscribe(a)
        let c = try await store.subscribe()
        #expect(Set([b.id, c.id]).count == 2)
    }

    @Test func overflowIsReportedToTheSubscriberAndCounted() async throws {
        let store = StateStore()
        try await store.set(makeSnapshot())
        let subscription = try await store.subscribe(bufferSize: 3)
        for _ in 0..<10 { try await store.set(makeSnapshot()) }
        let tally = try await withDeadline { await drain(subscription, until: 11) }
        // The newest three are kept; versions 1...8 are reported missed.
        #expect(tally.versions == [9, 10, 11])
        #expect(tally.missedRanges == [1...8])
        #expect(tally.missed == 8)
        let metrics = await store.metrics
        #expect(metrics.overflowBySubscriber[subscription.id] == 8)
        #expect(metrics.notificationsFailed == 8)
        #expect(metrics.notificationsSent == 11)
        let info = try #require(await store.subscriberInfo().first)
        #expect(info.overflowed == 8 && info.enqueued == 11 && info.buffered == 0 && info.lastVersion == 11)
    }

    @Test func overflowAfterPartialDrainNamesOnlyTheLostVersions() async throws {
        let store = StateStore()
        let subscription = try await store.subscribe(bufferSize: 2)
        var iterator = subscription.makeAsyncIterator()
        try await store.set(makeSnapshot())
        #expect(await iterator.next()?.snapshot.version == 1)
        for _ in 0..<5 { try await store.set(makeSnapshot()) }  // 2...6; 2...4 dropped
        let delivery = try #require(await iterator.next())
        #expect(delivery.snapshot.version == 5)
        #expect(delivery.missed == 2...4)
        #expect(delivery.missedCount == 3)
        let following = try #require(await iterator.next())
        #expect(following.snapshot.version == 6 && following.missed == nil)
    }

    @Test func unsubscribeEndsTheSequenceAfterBufferedSnapshots() async throws {
        let store = StateStore()
        let subscription = try await store.subscribe()
        try await store.set(makeSnapshot())
        try await store.set(makeSnapshot())
        #expect(await store.unsubscribe(subscription))
        #expect(await !store.unsubscribe(subscription))
        try await store.set(makeSnapshot())
        let tally = try await withDeadline { await drain(subscription) }
        #expect(tally.versions == [1, 2])
        #expect(await store.metrics.subscribers == 0)
    }

    @Test func unsubscribeWakesAWaitingConsumer() async throws {
        let store = StateStore()
        let subscription = try await store.subscribe()
        let consumer = Task { try await withDeadline { await drain(subscription) } }
        try await Task.sleep(for: .milliseconds(20))
        await store.unsubscribe(subscription)
        #expect(try await consumer.value.versions.isEmpty)
    }

    @Test func cancellingTheConsumerEndsIteration() async throws {
        let store = StateStore()
        let subscription = try await store.subscribe()
        let consumer = Task { await drain(subscription) }
        try await Task.sleep(for: .milliseconds(20))
        consumer.cancel()
        let tally = try await withDeadline { await consumer.value }
        #expect(tally.versions.isEmpty)
    }

    @Test func droppingASubscriptionUnsubscribes() async throws {
        let store = StateStore()
        do {
            _ = try await store.subscribe()
            _ = try await store.subscribe()
        }
        #expect(await store.metrics.subscribers == 0)
        #expect(await store.metrics.subscribersRemoved == 2)
    }

    @Test func cleanupRemovesAllSubscribers() async throws {
        let store = StateStore()
        try await store.set(makeSnapshot())
        let subscriptions = try await (0..<5).asyncMap { _ in try await store.subscribe() }
        #expect(await store.subscriberInfo().map(\.id) == subscriptions.map(\.id))
        #expect(await store.cleanup() == 5)
        #expect(await store.subscriberInfo().isEmpty)
        for subscription in subscriptions {
            let tally = try await withDeadline { await drain(subscription) }
            #expect(tally.versions == [1])
        }
        #expect(await store.cleanup() == 0)
    }

    @Test func initializeIfEmptyCreatesBootingOnceUnderConcurrency() async throws {
        let store = StateStore()
        let subscription = try await store.subscribe()
        let created = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<100 {
                group.addTask {
                    await store.initializeIfEmpty(epoch: UInt64(i), fsmInstanceID: "fsm-\(i)", sourceModule: "w")
                        .created
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(created == 1)
        let snapshot = try #require(await store.get())
        #expect(snapshot.state == .booting && snapshot.version == 1)
        #expect(await store.metrics.sets == 1)
        await store.unsubscribe(subscription)
        #expect(try await withDeadline { await drain(subscription) }.versions == [1])
    }

    @Test func sinkSeesEveryVersionInOrderUnderConcurrentSets() async throws {
        let store = StateStore()
        try await store.set(makeSnapshot())
        let seen = Mutex<[UInt64]>([])
        let sink = store.addSink { snapshot in seen.withLock { $0.append(snapshot.version) } }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<500 { try! await store.set(makeSnapshot()) }
                }
            }
        }
        #expect(seen.withLock { $0 } == Array(1...4_001))
        #expect(store.removeSink(sink))
        #expect(!store.removeSink(sink))
        try await store.set(makeSnapshot())
        #expect(seen.withLock { $0.count } == 4_001)
        #expect(await store.metrics.sinkCalls == 4_001)
    }

    @Test func healthCheck() async throws {
        let store = StateStore(configuration: .init(maxSubscribers: 10))
        let empty = await store.healthCheck()
        #expect(empty.status == .unhealthy && empty.problems.count == 1)

        try await store.set(makeSnapshot(version: 1), enforceVersion: true)
        #expect(await store.healthCheck().status == .healthy)
        #expect(await store.healthCheck(staleAfter: .zero).warnings.count == 1)

        let subscriptions = try await (0..<9).asyncMap { _ in try await store.subscribe(bufferSize: 1) }
        let crowded = await store.healthCheck()
        #expect(crowded.status == .degraded)
        #expect(crowded.warnings.contains { $0.contains("90%") })

        try await store.set(makeSnapshot(version: 2), enforceVersion: true)  // every subscriber overflows once
        #expect(await store.healthCheck().warnings.contains { $0.contains("overflow") })

        for _ in 0..<9 { _ = try? await store.set(makeSnapshot(version: 3), enforceVersion: true) }
        let conflicted = await store.healthCheck()
        #expect(conflicted.status == .unhealthy)
        #expect(conflicted.metrics.conflictRate > 0.10)
        _ = subscriptions
    }

    @Test func metricsCountOperations() async throws {
        let store = StateStore()
        _ = await store.get()
        try await store.set(makeSnapshot())
        let subscription = try await store.subscribe()
        try await store.set(makeSnapshot())
        _ = await store.getWithMeta()
        let metrics = await store.metrics
        #expect(metrics.gets == 2)
        #expect(metrics.sets == 2)
        #expect(metrics.currentVersion == 2)
        #expect(metrics.subscribers == 1 && metrics.peakSubscribers == 1 && metrics.subscribersCreated == 1)
        #expect(metrics.notificationsSent == 2)
        #expect(metrics.overflowBySubscriber == [subscription.id: 0])
        #expect(metrics.lastUpdateWallNanos != nil && metrics.uptimeNanos > 0)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
