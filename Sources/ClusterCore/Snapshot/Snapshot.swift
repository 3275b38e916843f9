#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One transition in a snapshot's history.
public struct HistoryEntry: Sendable, Hashable, Codable {
    public let from: FSMState
    public let to: FSMState
    /// The event's raw value, e.g. `"boot_completed"`.
    public let event: String
    public let reason: String
    /// The version of the snapshot this transition produced.
    public let version: UInt64
    public let wallNanos: UInt64

    public init(from: FSMState, to: FSMState, event: String, reason: String, version: UInt64, wallNanos: UInt64) {
        self.from = from
        self.to = to
        self.event = event
        self.reason = reason
        self.version = version
        self.wallNanos = wallNanos
    }
}

/// An immutable, versioned state of the writer.
///
/// A snapshot is one pointer wide: its fields live in a shared immutable
/// object, so handing the same snapshot to hundreds of subscribers costs one
/// reference count each, not one per string and buffer inside it. Equality,
/// hashing and the JSON form are those of the fields.
public struct Snapshot: Sendable, Hashable, Codable {
    private let storage: Storage

    /// Strictly increasing within an epoch.
    public var version: UInt64 { storage.fields.version }
    /// New on every writer start; fences old incarnations.
    public var epoch: UInt64 { storage.fields.epoch }
    public var state: FSMState { storage.fields.state }
    public var prevState: FSMState { storage.fields.prevState }
    public var reason: String { storage.fields.reason }
    public var snapshotID: String { storage.fields.snapshotID }
    public var fsmInstanceID: String { storage.fields.fsmInstanceID }
    public var sourceModule: String { storage.fields.sourceModule }
    /// The state machine's ``StateMachine/attemptCount`` when this was made.
    public var attemptCount: UInt32 { storage.fields.attemptCount }
    /// `CLOCK_MONOTONIC` when this was made.
    public var monotonicNanos: UInt64 { storage.fields.monotonicNanos }
    /// Wall clock (nanoseconds since 1970) when this was made.
    public var wallNanos: UInt64 { storage.fields.wallNanos }
    /// The last transitions, oldest first, at most the history limit.
    public var history: [HistoryEntry] { storage.fields.history }
    /// The payload; its size is set by the topology.
    public var contextData: Data { storage.fields.contextData }

    public init(
        version: UInt64, epoch: UInt64, state: FSMState, prevState: FSMState, reason: String,
        snapshotID: String, fsmInstanceID: String, sourceModule: String, attemptCount: UInt32,
        monotonicNanos: UInt64, wallNanos: UInt64, history: [HistoryEntry], contextData: Data
    ) {
        storage = Storage(
            Fields(
                version: version, epoch: epoch, state: state, prevState: prevState, reason: reason,
                snapshotID: snapshotID, fsmInstanceID: fsmInstanceID, sourceModule: sourceModule,
                attemptCount: attemptCount, monotonicNanos: monotonicNanos, wallNanos: wallNanos,
                history: history, contextData: contextData))
    }

    private init(_ fields: Fields) {
        storage = Storage(fields)
    }

    /// The snapshot ID this type gives a version: `"<epoch>-<version>"`.
    public static func makeID(epoch: UInt64, version: UInt64) -> String {
        "\(epoch)-\(version)"
    }

    /// A copy with another version, as the store's auto-increment makes it.
    ///
    /// The snapshot ID becomes `"<epoch>-<version>"`, and the newest history
    /// entry follows the version when it recorded the old one; nothing else
    /// changes.
    public func withVersion(_ version: UInt64) -> Snapshot {
        var fields = storage.fields
        if let last = fields.history.last, last.version == fields.version {
            fields.history[fields.history.count - 1] = HistoryEntry(
                from: last.from, to: last.to, event: last.event, reason: last.reason,
                version: version, wallNanos: last.wallNanos)
        }
        fields.version = version
        fields.snapshotID = Self.makeID(epoch: fields.epoch, version: version)
        return Snapshot(fields)
    }

    /// The first snapshot of an epoch: version 1, `BOOTING` (from
    /// `UNSPECIFIED`, by `boot`), attempt count 0, and that one transition as
    /// its history.
    public static func initial(
        epoch: UInt64, fsmInstanceID: String, sourceModule: String, historyLimit: Int, contextData: Data
    ) -> Snapshot {
        let wall = Clock.wallNanos()
        let reason = "initial boot"
        let entry = HistoryEntry(
            from: .unspecified, to: .booting, event: FSMEvent.boot.rawValue, reason: reason,
            version: 1, wallNanos: wall)
        return Snapshot(
            version: 1, epoch: epoch, state: .booting, prevState: .unspecified, reason: reason,
            snapshotID: makeID(epoch: epoch, version: 1), fsmInstanceID: fsmInstanceID,
            sourceModule: sourceModule, attemptCount: 0, monotonicNanos: Clock.monotonicNanos(),
            wallNanos: wall, history: historyLimit > 0 ? [entry] : [], contextData: contextData)
    }

    /// The snapshot after transition `t`: version + 1, `prevState` = this
    /// state, `state` = `t.to`, `reason` = `t.reason`, `t` appended to the
    /// history (which keeps the newest `historyLimit` entries), fresh
    /// timestamps, and the snapshot ID `"<epoch>-<version>"`.
    ///
    /// - Parameters:
    ///   - t: the transition taken; its `from` should be this snapshot's state.
    ///   - attemptCount: the machine's attempt count after `t`.
    ///   - historyLimit: how many history entries to keep (0 keeps none).
    ///   - contextData: a new payload, or `nil` to keep this one.
    public func next(after t: Transition, attemptCount: UInt32, historyLimit: Int, contextData: Data? = nil)
        -> Snapshot
    {
        precondition(historyLimit >= 0, "historyLimit must not be negative")
        let version = self.version + 1
        let wall = Clock.wallNanos()
        var history = self.history
        history.append(
            HistoryEntry(
                from: t.from, to: t.to, event: t.event.rawValue, reason: t.reason, version: version,
                wallNanos: wall))
        if history.count > historyLimit {
            history.removeFirst(history.count - historyLimit)
        }
        return Snapshot(
            version: version, epoch: epoch, state: t.to, prevState: state, reason: t.reason,
            snapshotID: Self.makeID(epoch: epoch, version: version), fsmInstanceID: fsmInstanceID,
            sourceModule: sourceModule, attemptCount: attemptCount, monotonicNanos: Clock.monotonicNanos(),
            wallNanos: wall, history: history, contextData: contextData ?? self.contextData)
    }

    public static func == (lhs: Snapshot, rhs: Snapshot) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    public func hash(into hasher: inout Hasher) {
        storage.fields.hash(into: &hasher)
    }

    public init(from decoder: any Decoder) throws {
        storage = Storage(try Fields(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try storage.fields.encode(to: encoder)
    }

    private final class Storage: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private struct Fields: Sendable, Hashable, Codable {
        var version: UInt64
        let epoch: UInt64
        let state: FSMState
        let prevState: FSMState
        let reason: String
        var snapshotID: String
        let fsmInstanceID: String
        let sourceModule: String
        let attemptCount: UInt32
        let monotonicNanos: UInt64
        let wallNanos: UInt64
        var history: [HistoryEntry]
        let contextData: Data
    }
}
