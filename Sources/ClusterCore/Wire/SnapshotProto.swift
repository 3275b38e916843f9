import Foundation
import SwiftProtobuf

extension Snapshot {
    /// A snapshot from its wire form.
    public init(_ proto: Clustersim_V1_Snapshot) {
        self.init(
            version: proto.version,
            epoch: proto.epoch,
            state: FSMState(proto.state),
            prevState: FSMState(proto.prevState),
            reason: proto.reason,
            snapshotID: proto.snapshotID,
            fsmInstanceID: proto.fsmInstanceID,
            sourceModule: proto.sourceModule,
            attemptCount: proto.attemptCount,
            monotonicNanos: proto.monotonicNs,
            wallNanos: proto.wallNs,
            history: proto.history.map {
                HistoryEntry(from: FSMState($0.from), to: FSMState($0.to), event: $0.event,
                             reason: $0.reason, version: $0.version, wallNanos: $0.wallNs)
            },
            contextData: proto.contextData
        )
    }

    /// This snapshot's wire form.
    public var proto: Clustersim_V1_Snapshot {
        var p = Clustersim_V1_Snapshot()
        p.version = version
        p.epoch = epoch
        p.state = state.proto
        p.prevState = prevState.proto
        p.reason = reason
        p.snapshotID = snapshotID
        p.fsmInstanceID = fsmInstanceID
        p.sourceModule = sourceModule
        p.attemptCount = attemptCount
        p.monotonicNs = monotonicNanos
        p.wallNs = wallNanos
        p.history = history.map {
            var h = Clustersim_V1_HistoryEntry()
            h.from = $0.from.proto
            h.to = $0.to.proto
            h.event = $0.event
            h.reason = $0.reason
            h.version = $0.version
            h.wallNs = $0.wallNanos
            return h
        }
        p.contextData = contextData
        return p
    }

    /// The protobuf encoding of this snapshot (`Snapshot` message), by `SnapshotCodec`.
    public func encoded() -> [UInt8] {
        SnapshotCodec.encode(self)
    }
}

extension FSMState {
    /// The state an enum varint read by the hand-written decoders names.
    /// Protobuf reads an enum as an int32, the varint's low 32 bits, as
    /// SwiftProtobuf does; a value this build does not know is `.unspecified`.
    init(wireValue v: UInt64) {
        self = FSMState(rawValue: Int(Int32(truncatingIfNeeded: v))) ?? .unspecified
    }

    init(_ proto: Clustersim_V1_FsmState) {
        self = FSMState(rawValue: proto.rawValue) ?? .unspecified
    }

    var proto: Clustersim_V1_FsmState {
        Clustersim_V1_FsmState(rawValue: rawValue) ?? .unspecified
    }
}
