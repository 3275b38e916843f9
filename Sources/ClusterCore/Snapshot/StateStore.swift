#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The writer's state store, heir of the Python `AsyncStateStore`: one
/// current versioned snapshot, many subscribers with bounded buffers, and
/// synchronous sinks.
///
/// Its methods are `async` like the original's, but none of them suspends:
/// they call ``StateStoreCore`` (``core``), which is synchronous and guarded
/// by a lock held for well under a microsecond. It is not an actor because
/// an actor hop per call costs more than the whole operation and cannot
/// order a synchronous sink's calls; `docs/state-store.md` has the figures.
///
/// Differences from the original: overflow is never silent (see
/// ``StateSubscription``), history is bounded, and the latest snapshot can be
/// persisted with ``SnapshotFile``.
public final class StateStore: Sendable {
    /// The synchronous store, for hot paths and non-async callers.
    public let core: StateStoreCore

    public var configuration: StateStoreConfiguration { core.configuration }

    public init(configuration: StateStoreConfiguration = .init()) {
        core = StateStoreCore(configuration: configuration)
    }

    /// The current snapshot, or `nil` before the first set.
    public func get() async -> Snapshot? { core.get() }

    /// The current snapshot with its version, update time and subscriber count.
    public func getWithMeta() async -> StateMeta { core.getWithMeta() }

    /// The latest stored snapshots, oldest first, at most
    /// ``StateStoreConfiguration/historyLimit``.
    public func history() async -> [Snapshot] { core.history() }

    /// Stores `snapshot`; see ``StateStoreCore/set(_:enforceVersion:)``.
    ///
    /// - Throws: ``StateVersionError`` when `enforceVersion` is true and the
    ///   version is not above the current one.
    @discardableResult
    public func set(_ snapshot: Snapshot, enforceVersion: Bool = false) async throws(StateVersionError) -> Snapshot {
        try core.set(snapshot, enforceVersion: enforceVersion)
    }

    /// Stores ``Snapshot/initial(epoch:fsmInstanceID:sourceModule:historyLimit:contextData:)``
    /// exactly once, however many tasks call this at once.
    @discardableResult
    public func initializeIfEmpty(
        epoch: UInt64, fsmInstanceID: String, sourceModule: String, historyLimit: Int = 16,
        contextData: Data = Data()
    ) async -> (snapshot: Snapshot, created: Bool) {
        core.initializeIfEmpty(
            epoch: epoch, fsmInstanceID: fsmInstanceID, sourceModule: sourceModule, historyLimit: historyLimit,
            contextData: contextData)
    }

    /// Stores the snapshot `make` returns when the store is empty; see
    /// ``StateStoreCore/initializeIfEmpty(_:)``.
    @discardableResult
    public func initializeIfEmpty(_ make: () -> Snapshot) async -> (snapshot: Snapshot, created: Bool) {
        core.initializeIfEmpty(make)
    }

    /// Subscribes; see ``StateStoreCore/subscribe(bufferSize:)``.
    ///
    /// - Throws: ``SubscriberLimitError`` when the store has its maximum of subscribers.
    public func subscribe(bufferSize: Int? = nil) async throws(SubscriberLimitError) -> StateSubscription {
        try core.subscribe(bufferSize: bufferSize)
    }

    /// Ends `subscription`. Returns false when it was not subscribed.
    @discardableResult
    public func unsubscribe(_ subscription: StateSubscription) async -> Bool {
        core.unsubscribe(subscription)
    }

    /// Removes every subscriber and ends their sequences. Returns how many.
    @discardableResult
    public func cleanup() async -> Int { core.cleanup() }

    /// The current subscribers, by ID.
    public func subscriberInfo() async -> [SubscriberInfo] { core.subscriberInfo() }

    /// Adds a synchronous sink; see ``StateStoreCore/addSink(_:)``.
    @discardableResult
    public func addSink(_ body: @escaping @Sendable (Snapshot) -> Void) -> SinkID { core.addSink(body) }

    /// Removes a sink. Returns false when there was no such sink.
    @discardableResult
    public func removeSink(_ id: SinkID) -> Bool { core.removeSink(id) }

    /// The store's counters now.
    public var metrics: StateStoreMetrics { get async { core.metrics } }

    /// Checks the store's health; see ``StateStoreCore/healthCheck(staleAfter:)``.
    public func healthCheck(staleAfter: Duration = .seconds(60)) async -> HealthReport {
        core.healthCheck(staleAfter: staleAfter)
    }
}
