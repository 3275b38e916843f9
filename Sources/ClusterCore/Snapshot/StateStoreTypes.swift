/// Limits of a ``StateStore``.
public struct StateStoreConfiguration: Sendable, Hashable {
    /// How many subscribers may exist at once; one more is refused with
    /// ``SubscriberLimitError``.
    public var maxSubscribers: Int
    /// A subscription's buffer when ``StateStore/subscribe(bufferSize:)`` is
    /// given none.
    public var defaultBufferSize: Int
    /// How many of the latest stored snapshots ``StateStore/history()`` keeps.
    public var historyLimit: Int

    public init(maxSubscribers: Int = 1_000, defaultBufferSize: Int = 100, historyLimit: Int = 100) {
        precondition(maxSubscribers >= 0, "maxSubscribers must not be negative")
        precondition(defaultBufferSize > 0, "defaultBufferSize must be positive")
        precondition(historyLimit > 0, "historyLimit must be positive")
        self.maxSubscribers = maxSubscribers
        self.defaultBufferSize = defaultBufferSize
        self.historyLimit = historyLimit
    }
}

/// `set(_:enforceVersion: true)` was given a version that is not above the
/// store's current one.
public struct StateVersionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The store's version when the snapshot was refused.
    public let current: UInt64
    /// The version of the refused snapshot.
    public let attempted: UInt64

    public var description: String {
        "version \(attempted) refused: the store is at version \(current); "
            + "set a snapshot with a higher version, or set without enforcing versions"
    }
}

/// A subscription was refused because the store has its maximum of subscribers.
public struct SubscriberLimitError: Error, Sendable, Hashable, CustomStringConvertible {
    public let limit: Int

    public var description: String {
        "subscription refused: the store already has its limit of \(limit) subscribers; "
            + "unsubscribe unused subscriptions or raise maxSubscribers"
    }
}

/// Identifies a subscriber of a store.
public struct SubscriberID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "subscriber-\(rawValue)" }
}

/// Identifies a synchronous sink of a store.
public struct SinkID: Hashable, Sendable {
    public let rawValue: UInt64
}

/// What a subscriber receives: a snapshot, and the versions it lost to
/// overflow of its buffer right before it.
public struct Delivery: Sendable, Hashable {
    public let snapshot: Snapshot
    /// The first and last version this subscriber lost since the delivery
    /// before this one, or `nil` when it lost none.
    public let missed: ClosedRange<UInt64>?
    /// How many versions were lost (the store's versions need not be
    /// contiguous, so this can be less than `missed.count`).
    public let missedCount: UInt64

    public init(snapshot: Snapshot, missed: ClosedRange<UInt64>? = nil, missedCount: UInt64 = 0) {
        self.snapshot = snapshot
        self.missed = missed
        self.missedCount = missedCount
    }
}

/// The current snapshot with facts about it, from ``StateStore/getWithMeta()``.
public struct StateMeta: Sendable {
    public let snapshot: Snapshot?
    /// The current version, 0 when the store is empty.
    public let version: UInt64
    /// `CLOCK_MONOTONIC` of the last successful set.
    public let updatedAtMonotonicNanos: UInt64?
    /// The wall clock of the last successful set.
    public let updatedAtWallNanos: UInt64?
    public let subscriberCount: Int
}

/// Counters of a store since it was made.
public struct StateStoreMetrics: Sendable {
    /// Successful sets (including the one of `initializeIfEmpty`).
    public let sets: UInt64
    public let gets: UInt64
    /// Sets refused with ``StateVersionError``.
    public let versionConflicts: UInt64
    public let currentVersion: UInt64
    public let subscribers: Int
    public let peakSubscribers: Int
    public let subscribersCreated: UInt64
    public let subscribersRemoved: UInt64
    /// Snapshots placed in subscriber buffers.
    public let notificationsSent: UInt64
    /// Snapshots lost to full subscriber buffers (of all subscribers, also
    /// removed ones).
    public let notificationsFailed: UInt64
    /// Snapshots lost to overflow, by current subscriber.
    public let overflowBySubscriber: [SubscriberID: UInt64]
    public let sinks: Int
    public let sinkCalls: UInt64
    public let lastUpdateMonotonicNanos: UInt64?
    public let lastUpdateWallNanos: UInt64?
    public let uptimeNanos: UInt64

    /// Refused sets as a share of all set attempts (0 when there were none).
    public var conflictRate: Double {
        let attempts = sets + versionConflicts
        return attempts == 0 ? 0 : Double(versionConflicts) / Double(attempts)
    }
}

/// A subscriber as seen from the store, from ``StateStore/subscriberInfo()``.
public struct SubscriberInfo: Sendable, Hashable {
    public let id: SubscriberID
    public let bufferSize: Int
    /// Snapshots waiting in its buffer.
    public let buffered: Int
    /// Snapshots placed in its buffer since it subscribed.
    public let enqueued: UInt64
    /// Snapshots it lost to overflow.
    public let overflowed: UInt64
    /// The newest version placed in its buffer, 0 when none.
    public let lastVersion: UInt64
    public let subscribedAtMonotonicNanos: UInt64
}

/// The store's health, from ``StateStore/healthCheck(staleAfter:)``.
public struct HealthReport: Sendable {
    public enum Status: String, Sendable {
        /// No problem and no warning.
        case healthy
        /// Warnings only.
        case degraded
        /// At least one problem.
        case unhealthy
    }

    public let status: Status
    /// Why the store is unhealthy: empty, or more than 10% of sets refused.
    public let problems: [String]
    /// Near the subscriber limit (90% or more), no update for too long, or
    /// subscribers losing snapshots to overflow.
    public let warnings: [String]
    public let metrics: StateStoreMetrics
    public let subscriberLimit: Int

    public var isHealthy: Bool { status != .unhealthy }
}
