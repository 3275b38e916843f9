#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// The synchronous core of ``StateStore``: one lock-guarded current snapshot,
/// a bounded history, subscribers with bounded buffers, and synchronous sinks.
///
/// Every method returns without suspending; the lock is held only for a few
/// hundred nanoseconds (plus the sinks' own time, see ``addSink(_:)``), so it
/// may be called from any thread or task. ``StateStore`` offers the same
/// operations as `async` methods; call the core directly on hot paths.
///
/// Lock order: the store's lock, then a subscriber's. A subscriber's iterator
/// takes only its own lock.
public final class StateStoreCore: Sendable {
    public let configuration: StateStoreConfiguration
    private let startedAt: UInt64
    private let state: Mutex<State>

    private struct State: Sendable {
        var current: Snapshot?
        var updatedAtMonotonic: UInt64?
        var updatedAtWall: UInt64?
        var history: RingBuffer<Snapshot>
        var subscribers: [SubscriberBox] = []
        var sinks: [(id: SinkID, body: @Sendable (Snapshot) -> Void)] = []
        var nextID: UInt64 = 1

        var sets: UInt64 = 0
        var gets: UInt64 = 0
        var versionConflicts: UInt64 = 0
        var peakSubscribers = 0
        var subscribersCreated: UInt64 = 0
        var subscribersRemoved: UInt64 = 0
        var notificationsSent: UInt64 = 0
        var notificationsFailed: UInt64 = 0
        var sinkCalls: UInt64 = 0

        mutating func makeID() -> UInt64 {
            defer { nextID += 1 }
            return nextID
        }

        /// Makes `snapshot` current and hands it to sinks and subscribers, all
        /// under the store's lock, so each of them sees versions in order.
        /// Returns the subscribers' consumers to resume.
        mutating func publish(_ snapshot: Snapshot, monotonic: UInt64, wall: UInt64)
            -> [UnsafeContinuation<Void, Never>]
        {
            current = snapshot
            updatedAtMonotonic = monotonic
            updatedAtWall = wall
            _ = history.appendEvicting(snapshot)
            sets += 1
            for sink in sinks {
                sink.body(snapshot)
            }
            sinkCalls += UInt64(sinks.count)
            var waiters: [UnsafeContinuation<Void, Never>] = []
            for subscriber in subscribers {
                let (waiter, dropped) = subscriber.enqueue(snapshot)
                if dropped { notificationsFailed += 1 }
                if let waiter { waiters.append(waiter) }
            }
            notificationsSent += UInt64(subscribers.count)
            return waiters
        }

        mutating func remove(at index: Int) -> SubscriberBox {
            subscribersRemoved += 1
            let box = subscribers.remove(at: index)
            // Give back the memory of a past wave of subscribers.
            if subscribers.isEmpty, subscribers.capacity > 64 { subscribers = [] }
            return box
        }
    }

    public init(configuration: StateStoreConfiguration = .init()) {
        self.configuration = configuration
        startedAt = SystemClock.monotonicNanos()
        state = Mutex(State(history: RingBuffer(capacity: configuration.historyLimit)))
    }

    // MARK: Reading

    /// The current snapshot, or `nil` before the first set.
    public func get() -> Snapshot? {
        state.withLock { s in
            s.gets += 1
            return s.current
        }
    }

    /// The current snapshot with its version, update time and subscriber count.
    public func getWithMeta() -> StateMeta {
        state.withLock { s in
            s.gets += 1
            return StateMeta(
                snapshot: s.current, version: s.current?.version ?? 0,
                updatedAtMonotonicNanos: s.updatedAtMonotonic, updatedAtWallNanos: s.updatedAtWall,
                subscriberCount: s.subscribers.count)
        }
    }

    /// The latest stored snapshots, oldest first, at most
    /// ``StateStoreConfiguration/historyLimit``.
    public func history() -> [Snapshot] {
        state.withLock { $0.history.elements }
    }

    // MARK: Writing

    /// Stores `snapshot` and delivers it to every sink and subscriber.
    ///
    /// - Parameters:
    ///   - snapshot: the new state.
    ///   - enforceVersion: when true, `snapshot.version` must be above the
    ///     current version and is kept; when false, the store gives the
    ///     snapshot the version current + 1 (``Snapshot/withVersion(_:)``,
    ///     no copy when it already has it).
    /// - Returns: the snapshot as stored.
    /// - Throws: ``StateVersionError`` when the version is enforced and not
    ///   above the current one; the store is then unchanged.
    @discardableResult
    public func set(_ snapshot: Snapshot, enforceVersion: Bool = false) throws(StateVersionError) -> Snapshot {
        let monotonic = SystemClock.monotonicNanos()
        let wall = SystemClock.wallNanos()
        let outcome: Result<(Snapshot, [UnsafeContinuation<Void, Never>]), StateVersionError> =
            state.withLock { s in
                let currentVersion = s.current?.version ?? 0
                let stored: Snapshot
                if enforceVersion {
                    guard snapshot.version > currentVersion else {
                        s.versionConflicts += 1
                        return .failure(StateVersionError(current: currentVersion, attempted: snapshot.version))
                    }
                    stored = snapshot
                } else {
                    let version = currentVersion + 1
                    stored = snapshot.version == version ? snapshot : snapshot.withVersion(version)
                }
                return .success((stored, s.publish(stored, monotonic: monotonic, wall: wall)))
            }
        let (stored, waiters) = try outcome.get()
        for waiter in waiters { waiter.resume() }
        return stored
    }

    /// Stores the snapshot `make` returns, exactly once: only when the store
    /// is empty, checked and stored in one critical section, so concurrent
    /// callers cannot both initialise it. `make` runs under the store's lock.
    ///
    /// - Returns: the current snapshot afterwards, and whether this call
    ///   stored it.
    @discardableResult
    public func initializeIfEmpty(_ make: () -> Snapshot) -> (snapshot: Snapshot, created: Bool) {
        let monotonic = SystemClock.monotonicNanos()
        let wall = SystemClock.wallNanos()
        let (snapshot, waiters) = state.withLock { s -> ((Snapshot, Bool), [UnsafeContinuation<Void, Never>]) in
            if let current = s.current { return ((current, false), []) }
            let snapshot = make()
            return ((snapshot, true), s.publish(snapshot, monotonic: monotonic, wall: wall))
        }
        for waiter in waiters { waiter.resume() }
        return snapshot
    }

    /// Stores ``Snapshot/initial(epoch:fsmInstanceID:sourceModule:historyLimit:contextData:)``
    /// (version 1, `BOOTING`) when the store is empty; see
    /// ``initializeIfEmpty(_:)``.
    @discardableResult
    public func initializeIfEmpty(
        epoch: UInt64, fsmInstanceID: String, sourceModule: String, historyLimit: Int = 16,
        contextData: Data = Data()
    ) -> (snapshot: Snapshot, created: Bool) {
        initializeIfEmpty {
            Snapshot.initial(
                epoch: epoch, fsmInstanceID: fsmInstanceID, sourceModule: sourceModule,
                historyLimit: historyLimit, contextData: contextData)
        }
    }

    // MARK: Subscribers

    /// Subscribes to every snapshot stored from now on, beginning with the
    /// current one.
    ///
    /// - Parameter bufferSize: snapshots buffered for this subscriber before
    ///   the oldest is dropped (and reported); `nil` for the configured default.
    /// - Throws: ``SubscriberLimitError`` when the store has
    ///   ``StateStoreConfiguration/maxSubscribers`` subscribers.
    public func subscribe(bufferSize: Int? = nil) throws(SubscriberLimitError) -> StateSubscription {
        let size = bufferSize ?? configuration.defaultBufferSize
        precondition(size > 0, "bufferSize must be positive")
        let limit = configuration.maxSubscribers
        let box: SubscriberBox = try state.withLock { s throws(SubscriberLimitError) in
            guard s.subscribers.count < limit else { throw SubscriberLimitError(limit: limit) }
            let box = SubscriberBox(id: SubscriberID(rawValue: s.makeID()), bufferSize: size, first: s.current)
            s.subscribers.append(box)
            s.subscribersCreated += 1
            if s.current != nil { s.notificationsSent += 1 }
            s.peakSubscribers = max(s.peakSubscribers, s.subscribers.count)
            return box
        }
        return StateSubscription(box: box, core: self)
    }

    /// Ends `subscription`: the store stops filling it, and its iterator ends
    /// after taking what is buffered.
    ///
    /// - Returns: false when it was not subscribed (any more).
    @discardableResult
    public func unsubscribe(_ subscription: StateSubscription) -> Bool {
        unsubscribe(id: subscription.id)
    }

    /// Ends the subscription with `id`; see ``unsubscribe(_:)``.
    @discardableResult
    public func unsubscribe(id: SubscriberID) -> Bool {
        let box = state.withLock { s -> SubscriberBox? in
            // From the end: the newest subscribers are the likeliest to leave first.
            guard let index = s.subscribers.lastIndex(where: { $0.id == id }) else { return nil }
            return s.remove(at: index)
        }
        guard let box else { return false }
        return box.finish()
    }

    /// Removes every subscriber and ends their sequences (each after its
    /// buffered snapshots). Sinks stay.
    ///
    /// - Returns: how many subscribers were removed.
    @discardableResult
    public func cleanup() -> Int {
        let removed = state.withLock { s in
            let removed = s.subscribers
            s.subscribersRemoved += UInt64(removed.count)
            s.subscribers = []
            return removed
        }
        for box in removed { _ = box.finish() }
        return removed.count
    }

    /// The current subscribers, by ID.
    public func subscriberInfo() -> [SubscriberInfo] {
        state.withLock { $0.subscribers }.map(\.info).sorted { $0.id < $1.id }
    }

    // MARK: Sinks

    /// Adds a synchronous sink: `body` is called with the current snapshot
    /// (when there is one) now, then with every stored snapshot, inline in
    /// `set`, in strictly increasing version order even when `set` is called
    /// from many tasks at once.
    ///
    /// `body` runs inside the store's critical section: that is what orders
    /// the calls, at no task hop or queue per snapshot. It must be quick, must
    /// not block, and must not call back into this store (the lock is not
    /// re-entrant). The writer's publisher is such a sink.
    @discardableResult
    public func addSink(_ body: @escaping @Sendable (Snapshot) -> Void) -> SinkID {
        state.withLock { s in
            let id = SinkID(rawValue: s.makeID())
            s.sinks.append((id, body))
            if let current = s.current {
                body(current)
                s.sinkCalls += 1
            }
            return id
        }
    }

    /// Removes a sink; it is not called after this returns.
    ///
    /// - Returns: false when there was no such sink.
    @discardableResult
    public func removeSink(_ id: SinkID) -> Bool {
        state.withLock { s in
            guard let index = s.sinks.firstIndex(where: { $0.id == id }) else { return false }
            s.sinks.remove(at: index)
            return true
        }
    }

    // MARK: Observing

    /// The store's counters now.
    public var metrics: StateStoreMetrics {
        let now = SystemClock.monotonicNanos()
        return state.withLock { s in
            var overflow: [SubscriberID: UInt64] = [:]
            for box in s.subscribers {
                overflow[box.id] = box.state.withLock { $0.overflowed }
            }
            return StateStoreMetrics(
                sets: s.sets, gets: s.gets, versionConflicts: s.versionConflicts,
                currentVersion: s.current?.version ?? 0, subscribers: s.subscribers.count,
                peakSubscribers: s.peakSubscribers, subscribersCreated: s.subscribersCreated,
                subscribersRemoved: s.subscribersRemoved, notificationsSent: s.notificationsSent,
                notificationsFailed: s.notificationsFailed, overflowBySubscriber: overflow, sinks: s.sinks.count,
                sinkCalls: s.sinkCalls, lastUpdateMonotonicNanos: s.updatedAtMonotonic,
                lastUpdateWallNanos: s.updatedAtWall, uptimeNanos: now &- startedAt)
        }
    }

    /// Checks the store's health.
    ///
    /// Unhealthy when it has no snapshot yet or more than 10% of set attempts
    /// were refused for their version. Degraded (warnings) when it has 90% or
    /// more of its subscriber limit, when the last update is older than
    /// `staleAfter`, or when subscribers have lost snapshots to overflow.
    public func healthCheck(staleAfter: Duration = .seconds(60)) -> HealthReport {
        let metrics = self.metrics
        let limit = configuration.maxSubscribers
        var problems: [String] = []
        var warnings: [String] = []
        if metrics.lastUpdateMonotonicNanos == nil {
            problems.append("the store has no snapshot yet")
        }
        if metrics.conflictRate > 0.10 {
            problems.append(
                "\(metrics.versionConflicts) of \(metrics.sets + metrics.versionConflicts) sets were refused for their version (over 10%)"
            )
        }
        if limit > 0, metrics.subscribers * 10 >= limit * 9 {
            warnings.append("\(metrics.subscribers) subscribers of a limit of \(limit) (90% or more)")
        }
        if let updated = metrics.lastUpdateMonotonicNanos {
            let age = SystemClock.monotonicNanos() &- updated
            let (seconds, attoseconds) = staleAfter.components
            let limitNanos = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
            if age > limitNanos {
                warnings.append("no update for \(age / 1_000_000) ms (limit \(limitNanos / 1_000_000) ms)")
            }
        }
        let overflowing = metrics.overflowBySubscriber.values.filter { $0 > 0 }.count
        if overflowing > 0 {
            warnings.append("\(overflowing) subscribers lost snapshots to overflow (\(metrics.notificationsFailed) in all)")
        }
        let status: HealthReport.Status = !problems.isEmpty ? .unhealthy : !warnings.isEmpty ? .degraded : .healthy
        return HealthReport(
            status: status, problems: problems, warnings: warnings, metrics: metrics, subscriberLimit: limit)
    }

    /// Internal sizes, for tests that check memory stays bounded.
    var storageFootprint: (subscriberCapacity: Int, history: Int, sinks: Int) {
        state.withLock { s in (s.subscribers.capacity, s.history.count, s.sinks.count) }
    }
}
