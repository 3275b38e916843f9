import Foundation
import SwiftProtobuf
import Testing
@testable import ClusterCore

/// The direct codec against SwiftProtobuf, both ways.
@Suite("Wire: SnapshotCodec")
struct SnapshotCodecTests {
    static func snapshots() -> [Snapshot] {
        var out: [Snapshot] = []
        for (seed, payload, historyLimit) in [(1 as UInt64, 0, 0), (2, 512, 16), (3, 3, 4), (4, 70_000, 64)] {
            var machine = StateMachine(state: .booting)
            var generator = EventGenerator(seed: seed)
            var s = Snapshot.initial(epoch: seed * 1_000_003, fsmInstanceID: "fsm-\(seed)", sourceModule: "tests",
                                     historyLimit: historyLimit, contextData: Data((0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7) }))
            for _ in 0..<100 {
                if case .success(let t) = machine.apply(generator.next(for: machine.state)) {
                    s = s.next(after: t, attemptCount: machine.attemptCount, historyLimit: historyLimit)
                }
            }
            out.append(s)
        }
        out.append(Snapshot(version: 0, epoch: 0, state: .unspecified, prevState: .unspecified, reason: "", snapshotID: "",
                            fsmInstanceID: "", sourceModule: "", attemptCount: 0, monotonicNanos: 0, wallNanos: 0,
                            history: [], contextData: Data()))
        out.append(Snapshot(version: .max, epoch: .max, state: .shutdown, prevState: .errorState, reason: "ünïcödé \"quoted\" ✓",
                            snapshotID: "x", fsmInstanceID: "y", sourceModule: "z", attemptCount: .max, monotonicNanos: .max,
                            wallNanos: .max, history: [HistoryEntry(from: .idle, to: .active, event: "", reason: "ø", version: 0, wallNanos: 1)],
                            contextData: Data([0])))
        return out
    }

    @Test("encodes exactly the bytes SwiftProtobuf encodes", arguments: snapshots())
    func encodeMatchesSwiftProtobuf(_ s: Snapshot) throws {
        let reference: [UInt8] = try s.proto.serializedBytes()
        #expect(SnapshotCodec.encode(s) == reference)
    }

    @Test("decodes SwiftProtobuf's bytes to the same snapshot", arguments: snapshots())
    func decodeMatchesSwiftProtobuf(_ s: Snapshot) throws {
        let reference: [UInt8] = try s.proto.serializedBytes()
        let decoded = try reference.withUnsafeBytes { SnapshotCodec.decode($0) }.get()
        #expect(decoded == s)
        #expect(decoded.history == s.history && decoded.contextData == s.contextData && decoded.reason == s.reason)
    }

    @Test("unknown fields are skipped; truncations fail without trapping")
    func unknownAndTruncated() throws {
        let s = Self.snapshots()[1]
        var bytes = SnapshotCodec.encode(s)
        bytes += [0xF8, 0x06, 0x2A]                 // field 111, varint
        bytes += [0xFA, 0x06, 0x02, 0x61, 0x62]     // field 111, length-delimited
        #expect(try bytes.withUnsafeBytes { SnapshotCodec.decode($0) }.get() == s)
        let valid = SnapshotCodec.encode(s)
        for n in 0..<valid.count {
            _ = Array(valid.prefix(n)).withUnsafeBytes { SnapshotCodec.decode($0) }
        }
        #expect(Array(valid.prefix(valid.count - 1)).withUnsafeBytes { (try? SnapshotCodec.decode($0).get()) } != s)
    }
}
