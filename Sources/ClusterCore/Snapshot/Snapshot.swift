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
/// Its version and ID are stored inline and every other field lives in a
/// shared immutable object: handing the same snapshot to hundreds of
/// subscribers costs one reference count each (not one per string and buffer
/// inside it), and the store's auto-increment (``withVersion(_:)``) allocates
/// nothing. Equality, hashing and the JSON form are those of the fields.
public struct Snapshot: Sendable, Hashable, Codable {
    /// Strictly increasing within an epoch.
    public let version: UInt64
    public let snapshotID: String
    private let storage: Storage

    /// New on every writer start; fences old incarnations.
    public var epoch: UInt64 { storage.fields.epoch }
    public var state: FSMState { storage.fields.state }
    public var prevState: FSMState { storage.fields.prevState }
    public var reason: String { storage.fields.reason }
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
        self.version = version
        self.snapshotID = snapshotID
        storage = Storage(
            Fields(
                epoch: epoch, state: state, prevState: prevState, reason: reason,
                fsmInstanceID: fsmInstanceID, sourceModule: sourceModule,
                attemptCount: attemptCount, monotonicNanos: monotonicNanos, wallNanos: wallNanos,
                history: history, contextData: contextData))
    }

    private init(version: UInt64, snapshotID: String, storage: Storage) {
        self.version = version
        self.snapshotID = snapshotID
        self.storage = storage
    }

    /// The snapshot ID this type gives a version: `"<epoch>-<version>"`.
    public static func makeID(epoch: UInt64, version: UInt64) -> String {
        // Digits written by hand: string interpolation costs more than the
        // rest of a store's set together.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 41) { buffer in
            var start = buffer.count
            func prepend(_ value: UInt64) {
                var value = value
                repeat {
                    start -= 1
                    buffer[start] = UInt8(truncatingIfNeeded: value % 10) &+ UInt8(ascii: "0")
                    value /= 10
                } while value > 0
            }
            prepend(version)
            start -= 1
            buffer[start] = UInt8(ascii: "-")
            prepend(epoch)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[start...]), as: UTF8.self)
        }
    }

    /// A copy with another version, as the store's auto-increment makes it.
    ///
    /// The snapshot ID becomes `"<epoch>-<version>"`; nothing else changes
    /// (the history keeps the versions its transitions were given: snapshots
    /// made by ``next(after:attemptCount:historyLimit:contextData:)`` from the
    /// store's current one already carry the version the store assigns).
    public func withVersion(_ version: UInt64) -> Snapshot {
        Snapshot(version: version, snapshotID: Self.makeID(epoch: epoch, version: version), storage: storage)
    }

    /// The first snapshot of an epoch: version 1, `BOOTING` (from
    /// `UNSPECIFIED`, by `boot`), attempt count 0, and that one transition as
    /// its history.
    public static func initial(
        epoch: UInt64, fsmInstanceID: String, sourceModule: String, historyLimit: Int, contextData: Data
    ) -> Snapshot {
        let wall = SystemClock.wallNanos()
        let reason = "initial boot"
        let entry = HistoryEntry(
            from: .unspecified, to: .booting, event: FSMEvent.boot.rawValue, reason: reason,
            version: 1, wallNanos: wall)
        return Snapshot(
            version: 1, epoch: epoch, state: .booting, prevState: .unspecified, reason: reason,
            snapshotID: makeID(epoch: epoch, version: 1), fsmInstanceID: fsmInstanceID,
            sourceModule: sourceModule, attemptCount: 0, monotonicNanos: SystemClock.monotonicNanos(),
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
        let wall = SystemClock.wallNanos()
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
            sourceModule: sourceModule, attemptCount: attemptCount, monotonicNanos: SystemClock.monotonicNanos(),
            wallNanos: wall, history: history, contextData: contextData ?? self.contextData)
    }

    public static func == (lhs: Snapshot, rhs: Snapshot) -> Bool {
        lhs.version == rhs.version && lhs.snapshotID == rhs.snapshotID
            && (lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(version)
        hasher.combine(snapshotID)
        storage.fields.hash(into: &hasher)
    }

    private enum InlineKeys: String, CodingKey {
        case version, snapshotID
    }

    /// Decodes the JSON object that ``encode(to:)`` writes: one object with
    /// every field.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: InlineKeys.self)
        version = try container.decode(UInt64.self, forKey: .version)
        snapshotID = try container.decode(String.self, forKey: .snapshotID)
        storage = Storage(try Fields(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try storage.fields.encode(to: encoder)
        var container = encoder.container(keyedBy: InlineKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(snapshotID, forKey: .snapshotID)
    }

    private final class Storage: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private struct Fields: Sendable, Hashable, Codable {
        let epoch: UInt64
        let state: FSMState
        let prevState: FSMState
        let reason: String
        let fsmInstanceID: String
        let sourceModule: String
        let attemptCount: UInt32
        let monotonicNanos: UInt64
        let wallNanos: UInt64
        let history: [HistoryEntry]
        let contextData: Data
    }
}
