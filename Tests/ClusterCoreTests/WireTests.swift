import Foundation
import SwiftProtobuf
import Testing

@testable import ClusterCore

/// Realistic snapshots and frames for the wire tests.
enum WireFixtures {
    static let epoch: UInt64 = 1_714_000_000_123_456
    /// The writer's payload pattern, 512 bytes.
    static let payload = Data((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })

    /// `count` consecutive snapshots of one epoch, driven by the seeded event generator.
    static func snapshots(count: Int, seed: UInt64 = 7, historyLimit: Int = 8) -> [Snapshot] {
        var snapshot = Snapshot.initial(
            epoch: epoch, fsmInstanceID: "fsm-writer-\(epoch)", sourceModule: "cluster-node.writer",
            historyLimit: historyLimit, contextData: payload)
        var machine = StateMachine(state: .booting)
        var events = EventGenerator(seed: seed)
        var out = [snapshot]
        while out.count < count {
            if case .success(let t) = machine.apply(events.next(for: machine.state)) {
                snapshot = snapshot.next(after: t, attemptCount: machine.attemptCount, historyLimit: historyLimit)
                out.append(snapshot)
            }
        }
        return out
    }

    /// A snapshot with a full history (version 40).
    static let rich: Snapshot = snapshots(count: 40).last!

    /// A stamped SNP1 frame built the way the writer builds it.
    static func frame(_ s: Snapshot, coalesced: UInt32 = 0) -> (bytes: [UInt8], mono: UInt64) {
        var builder = SnapshotFrameBuilder()
        builder.begin(encodedSnapshot: s.encoded(), epoch: s.epoch, version: s.version, coalesced: coalesced)
        let (_, mono) = builder.stampAndSend { _ in () }
        return (builder.bytes, mono)
    }

    static func parse(_ bytes: [UInt8]) -> Result<FrameHeader, WireError> {
        bytes.withUnsafeBytes { FrameCodec.parseHeader($0) }
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        ProtoWriter.varint(value, into: &out)
        return out
    }

    static func tag(_ field: UInt64, _ wireType: UInt64) -> [UInt8] { varint(field << 3 | wireType) }

    /// Field 99 once in each of the wire types 0, 1, 2 and 5.
    static let unknownFields: [UInt8] =
        tag(99, 0) + varint(300)
        + tag(99, 1) + [1, 2, 3, 4, 5, 6, 7, 8]
        + tag(99, 2) + varint(5) + Array("hello".utf8)
        + tag(99, 5) + [9, 8, 7, 6]
}

extension WireError {
    var isTruncated: Bool { if case .truncated = self { true } else { false } }
    var isMalformed: Bool { if case .malformed = self { true } else { false } }
}

@Suite("Wire: snapshot frames")
struct WireSnapshotFrameTests {
    @Test(arguments: [0, 1, 7, UInt32.max] as [UInt32])
    func builderFrameParsesToItsHeader(coalesced: UInt32) throws {
        let s = WireFixtures.rich
        #expect(s.history.count == 8)
        let (frame, mono) = WireFixtures.frame(s, coalesced: coalesced)
        #expect(Array(frame.prefix(4)) == Array("SNP1".utf8))
        let header = try WireFixtures.parse(frame).get()
        #expect(header.kind == .snapshot)
        #expect(header.epoch == s.epoch)
        #expect(header.version == s.version)
        #expect(header.extra == UInt64(coalesced))
        #expect(header.sendMonotonicNanos == mono)
        #expect(header.sendWallNanos > 1_600_000_000_000_000_000)
        let range = try #require(header.snapshotRange)
        #expect(Array(frame[range]) == s.encoded())
        let decoded = frame.withUnsafeBytes { header.decodeSnapshot(in: $0) }
        #expect(try decoded.get() == s)
    }

    @Test(arguments: [0, 3] as [UInt32])
    func builderFrameDecodesAsEnvelope(coalesced: UInt32) throws {
        let s = WireFixtures.rich
        let (frame, _) = WireFixtures.frame(s, coalesced: coalesced)
        let header = try WireFixtures.parse(frame).get()
        let env = try FrameCodec.decodeEnvelope(frame).get()
        #expect(env.epoch == header.epoch)
        #expect(env.version == header.version)
        #expect(env.sendMonotonicNs == header.sendMonotonicNanos)
        #expect(env.sendWallNs == header.sendWallNanos)
        #expect(UInt64(env.coalesced) == header.extra)
        #expect(env.hasSnapshot)
        #expect(Snapshot(env.snapshot) == s)
        #expect(env.unknownFields.data.isEmpty)
    }

    @Test func everySnapshotOfARunRoundTrips() throws {
        var builder = SnapshotFrameBuilder()
        for s in WireFixtures.snapshots(count: 200, seed: 99) {
            builder.begin(encodedSnapshot: s.encoded(), epoch: s.epoch, version: s.version)
            let (header, _) = builder.stampAndSend { FrameCodec.parseHeader($0) }
            let h = try header.get()
            #expect(h.version == s.version && h.epoch == s.epoch)
            let decoded = builder.bytes.withUnsafeBytes { h.decodeSnapshot(in: $0) }
            #expect(try decoded.get() == s)
        }
    }

    @Test func restampingRewritesTheStampsInPlace() throws {
        let s = WireFixtures.rich
        var builder = SnapshotFrameBuilder()
        builder.begin(encodedSnapshot: s.encoded(), epoch: s.epoch, version: s.version, coalesced: 2)
        let (_, first) = builder.stampAndSend { _ in () }
        let before = builder.bytes
        let (_, second) = builder.stampAndSend { _ in () }
        #expect(second >= first)
        // Same length, and only the stamps' bytes (4 ..< 24) may differ.
        #expect(builder.bytes.count == before.count)
        #expect(Array(builder.bytes[24...]) == Array(before[24...]))
        let h = try WireFixtures.parse(builder.bytes).get()
        #expect(h.sendMonotonicNanos == second)
        #expect(h.extra == 2)
    }

    @Test func headerFieldsComeFirstAndTheSnapshotLast() throws {
        let s = WireFixtures.rich
        let (frame, mono) = WireFixtures.frame(s, coalesced: 3)
        // Field 3 then field 4, each a nine-byte varint, right after the prefix.
        #expect(frame[4] == 0x18 && frame[14] == 0x20)
        #expect(frame[5..<13].allSatisfy { $0 & 0x80 != 0 } && frame[13] < 0x80)
        let header = try WireFixtures.parse(frame).get()
        #expect(header.sendMonotonicNanos == mono)
        let range = try #require(header.snapshotRange)
        #expect(range.upperBound == frame.count)
        let fields = WireFixtures.tag(1, 0) + WireFixtures.varint(s.epoch) + WireFixtures.tag(2, 0)
            + WireFixtures.varint(s.version) + WireFixtures.tag(6, 0) + WireFixtures.varint(3)
            + WireFixtures.tag(5, 2) + WireFixtures.varint(UInt64(range.count))
        #expect(Array(frame[24..<range.lowerBound]) == fields)
        #expect(range.lowerBound <= 48)
    }

    @Test(arguments: [0, 1, 127, 128, 1 << 35, UInt64(Int64.max), .max] as [UInt64])
    func paddedVarintsDecodeEverywhere(value: UInt64) throws {
        var bytes = [UInt8](repeating: 0, count: 10)
        var i = 0
        bytes.withUnsafeMutableBytes { ProtoWriter.paddedVarintField(3, value, into: $0, at: &i) }
        #expect(i == 10)
        let expected = min(value, UInt64(Int64.max))
        let frame = Array("SNP1".utf8) + bytes
        #expect(try WireFixtures.parse(frame).get().sendMonotonicNanos == expected)
        #expect(frame.withUnsafeBytes { FrameCodec.header(of: $0) }?.sendMonotonicNanos == expected)
        #expect(try FrameCodec.decodeEnvelope(frame).get().sendMonotonicNs == expected)
    }

    @Test func protobufEncodedEnvelopeWithUnknownFieldsParses() throws {
        let s = WireFixtures.rich
        var env = Clustersim_V1_Envelope()
        env.epoch = s.epoch
        env.version = s.version
        env.sendMonotonicNs = 123_456_789
        env.sendWallNs = 1_714_000_000_987_654_321
        env.snapshot = s.proto
        env.coalesced = 5
        let body: [UInt8] = try env.serializedBytes()
        // Unknown fields before, between (at the end of the known ones) and after.
        for frame in [
            Array("SNP1".utf8) + body + WireFixtures.unknownFields,
            Array("SNP1".utf8) + WireFixtures.unknownFields + body,
        ] {
            let h = try WireFixtures.parse(frame).get()
            #expect(h.kind == .snapshot)
            #expect(h.epoch == env.epoch && h.version == env.version)
            #expect(h.sendMonotonicNanos == env.sendMonotonicNs && h.sendWallNanos == env.sendWallNs)
            #expect(h.extra == 5)
            #expect(try frame.withUnsafeBytes { h.decodeSnapshot(in: $0) }.get() == s)
            let again = try FrameCodec.decodeEnvelope(frame).get()
            #expect(again.unknownFields.data == Data(WireFixtures.unknownFields))
            var known = again
            known.unknownFields = UnknownStorage()
            #expect(known == env)
        }
    }

    @Test func frameWithoutSnapshotHasNoRange() throws {
        let frame = Array("SNP1".utf8) + WireFixtures.tag(1, 0) + [1] + WireFixtures.tag(2, 0) + [2]
        let h = try WireFixtures.parse(frame).get()
        #expect(h.snapshotRange == nil)
        let decoded = frame.withUnsafeBytes { h.decodeSnapshot(in: $0) }
        guard case .failure(let e) = decoded else { Issue.record("decoded a snapshot that is absent"); return }
        #expect(e.isMalformed)
    }
}

@Suite("Wire: heartbeat and end-of-stream frames")
struct WireControlFrameTests {
    @Test(arguments: [(0, 0, 0), (1, 2, 3), (WireFixtures.epoch, 1_000_000, 42), (UInt64.max, UInt64.max, UInt64.max)]
        as [(UInt64, UInt64, UInt64)])
    func heartbeatRoundTrips(epoch: UInt64, version: UInt64, sequence: UInt64) throws {
        let before = SystemClock.monotonicNanos()
        let frame = FrameCodec.heartbeat(epoch: epoch, version: version, sequence: sequence)
        #expect(Array(frame.prefix(4)) == Array("HBT1".utf8))
        let h = try WireFixtures.parse(frame).get()
        #expect(h.kind == .heartbeat)
        #expect(h.epoch == epoch && h.version == version && h.extra == sequence)
        #expect(h.sendMonotonicNanos >= before)
        #expect(h.sendWallNanos > 0)
        #expect(h.snapshotRange == nil)
        let proto = try Clustersim_V1_Heartbeat(serializedBytes: Array(frame.dropFirst(4)))
        #expect(proto.epoch == epoch && proto.version == version && proto.sequence == sequence)
        #expect(proto.sendMonotonicNs == h.sendMonotonicNanos && proto.sendWallNs == h.sendWallNanos)
    }

    @Test(arguments: [(0, 0, 0), (WireFixtures.epoch, 12_345, 12_000), (UInt64.max, UInt64.max, UInt64.max)]
        as [(UInt64, UInt64, UInt64)])
    func endOfStreamRoundTrips(epoch: UInt64, finalVersion: UInt64, published: UInt64) throws {
        let frame = FrameCodec.endOfStream(epoch: epoch, finalVersion: finalVersion, published: published)
        #expect(Array(frame.prefix(4)) == Array("END1".utf8))
        var expected = FrameHeader(kind: .end)
        expected.epoch = epoch
        expected.version = finalVersion
        expected.extra = published
        #expect(try WireFixtures.parse(frame).get() == expected)
        let proto = try Clustersim_V1_EndOfStream(serializedBytes: Array(frame.dropFirst(4)))
        #expect(proto.epoch == epoch && proto.finalVersion == finalVersion && proto.published == published)
    }

    @Test func protobufEncodedHeartbeatAndEndWithUnknownFieldsParse() throws {
        var hb = Clustersim_V1_Heartbeat()
        hb.epoch = 9
        hb.version = 77
        hb.sendMonotonicNs = 5_000
        hb.sendWallNs = 6_000
        hb.sequence = 3
        let hbFrame = Array("HBT1".utf8) + WireFixtures.unknownFields + (try hb.serializedBytes() as [UInt8])
        let h = try WireFixtures.parse(hbFrame).get()
        #expect(h.kind == .heartbeat && h.epoch == 9 && h.version == 77 && h.extra == 3)
        #expect(h.sendMonotonicNanos == 5_000 && h.sendWallNanos == 6_000)

        var end = Clustersim_V1_EndOfStream()
        end.epoch = 9
        end.finalVersion = 80
        end.published = 79
        let endFrame = Array("END1".utf8) + (try end.serializedBytes() as [UInt8]) + WireFixtures.unknownFields
        let e = try WireFixtures.parse(endFrame).get()
        #expect(e.kind == .end && e.epoch == 9 && e.version == 80 && e.extra == 79)
        #expect(e.sendMonotonicNanos == 0 && e.snapshotRange == nil)
    }

    @Test func heartbeatByteLayoutIsTheDocumentedOne() {
        // docs/protocol.md shows this frame; the stamps are the only variable part.
        let frame = FrameCodec.heartbeat(epoch: 1, version: 300, sequence: 2)
        #expect(Array(frame.prefix(9)) == [0x48, 0x42, 0x54, 0x31, 0x08, 0x01, 0x10, 0xAC, 0x02])
        #expect(frame[9] == 0x18)
        #expect(Array(frame.suffix(2)) == [0x28, 0x02])
    }
}

@Suite("Wire: bad frames")
struct WireBadFrameTests {
    @Test(arguments: ["XYZ1", "SNP2", "snp1", "HBT0", "END2", "\0\0\0\0"])
    func unknownPrefixIsReported(prefix: String) {
        let frame = Array(prefix.utf8) + [0x08, 0x01]
        #expect(WireFixtures.parse(frame) == .failure(.unknownPrefix(Array(prefix.utf8))))
    }

    @Test(arguments: 0..<4)
    func shorterThanThePrefixIsTruncated(length: Int) {
        let frame = Array(Array("SNP1".utf8).prefix(length))
        #expect(WireFixtures.parse(frame) == .failure(.truncated(at: length)))
        #expect(FrameCodec.decodeEnvelope(frame) == .failure(.truncated(at: length)))
    }

    @Test func decodeEnvelopeRejectsOtherKinds() {
        let frame = FrameCodec.heartbeat(epoch: 1, version: 2, sequence: 3)
        #expect(FrameCodec.decodeEnvelope(frame) == .failure(.unknownPrefix(Array("HBT1".utf8))))
    }

    @Test func prefixAloneIsAnEmptyMessage() throws {
        for kind in FrameKind.allCases {
            #expect(try WireFixtures.parse(kind.prefix).get() == FrameHeader(kind: kind))
        }
    }

    @Test func tenByteVarintIsTheLongestAccepted() throws {
        let frame = Array("HBT1".utf8) + WireFixtures.tag(2, 0) + WireFixtures.varint(.max)
        #expect(WireFixtures.varint(.max).count == 10)
        #expect(try WireFixtures.parse(frame).get().version == .max)
    }

    /// Varints are read a word at a time where eight bytes remain and byte by
    /// byte near the end of the frame: both must give what the plain
    /// definition gives, for every length, padded (non-minimal) encodings
    /// included, and leave the reader at the next field.
    @Test(arguments: Array(1...10))
    func varintsOfEveryLengthReadTheSameWhereverTheyEnd(length: Int) throws {
        var rng = SplitMix64(state: UInt64(length))
        func reference(_ bytes: [UInt8]) -> UInt64 {
            var v: UInt64 = 0
            for (i, b) in bytes.enumerated() { v |= UInt64(b & 0x7F) << UInt64(7 * i) }
            return v
        }
        for _ in 0..<200 {
            // `length` bytes: continuation bits on all but the last, random 7-bit groups
            // (the tenth byte may only carry the 64th bit).
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) & 0x7F }
            if length == 10 { bytes[9] &= 1 }
            for i in 0..<(length - 1) { bytes[i] |= 0x80 }
            let value = reference(bytes)
            // What follows decides which path reads it: nothing, or a field of 2 to 11 bytes.
            for trailing in [0, 2, 3, 5, 7, 9, 11] {
                var after: [UInt8] = []
                if trailing > 0 {
                    after = WireFixtures.tag(5, 0) + [UInt8](repeating: 0xFF, count: trailing - 2) + [0x01]
                }
                let frame = Array("HBT1".utf8) + WireFixtures.tag(2, 0) + bytes + after
                let h = try WireFixtures.parse(frame).get()
                #expect(h.version == value, "\(bytes) then \(trailing) bytes")
                #expect(h.extra == (trailing > 0 ? reference(Array(after.dropFirst())) : 0))
            }
        }
    }

    @Test(arguments: [
        [UInt8](repeating: 0xFF, count: 10) + [0x01],           // 11 bytes
        [UInt8](repeating: 0x80, count: 10) + [0x00],           // 11 bytes, value 0
        [UInt8](repeating: 0x80, count: 15) + [0x01],           // 16 bytes
        [UInt8](repeating: 0xFF, count: 9) + [0x02],            // 10 bytes, 65 bits
    ])
    func overlongVarintIsMalformed(varint: [UInt8]) {
        for frame in [
            Array("HBT1".utf8) + WireFixtures.tag(2, 0) + varint,   // as a value
            Array("HBT1".utf8) + varint,                            // as a tag
        ] {
            guard case .failure(let e) = WireFixtures.parse(frame) else {
                Issue.record("accepted \(varint)")
                continue
            }
            #expect(e.isMalformed, "\(e)")
        }
    }

    @Test(arguments: [6, 100, 1 << 20, UInt64(Int.max), UInt64.max])
    func lengthBeyondTheFrameIsTruncated(length: UInt64) {
        let frame = Array("SNP1".utf8) + WireFixtures.tag(5, 2) + WireFixtures.varint(length) + [1, 2, 3, 4, 5]
        #expect(WireFixtures.parse(frame) == .failure(.truncated(at: frame.count)))
    }

    @Test(arguments: [(1, 7), (5, 3)] as [(UInt64, Int)])
    func fixedWidthFieldCutShortIsTruncated(wireType: UInt64, have: Int) {
        let frame = Array("END1".utf8) + WireFixtures.tag(50, wireType) + [UInt8](repeating: 0xAA, count: have)
        #expect(WireFixtures.parse(frame) == .failure(.truncated(at: frame.count)))
    }

    @Test(arguments: [3, 4, 6, 7] as [UInt64])
    func unsupportedWireTypeIsMalformed(wireType: UInt64) {
        let frame = Array("HBT1".utf8) + WireFixtures.tag(9, wireType) + [0, 0, 0, 0, 0, 0, 0, 0]
        guard case .failure(let e) = WireFixtures.parse(frame) else { Issue.record("accepted wire type \(wireType)"); return }
        #expect(e.isMalformed)
    }

    @Test func varintCutShortIsTruncated() {
        let frame = Array("HBT1".utf8) + WireFixtures.tag(1, 0) + [0x80, 0x80]
        #expect(WireFixtures.parse(frame) == .failure(.truncated(at: frame.count)))
    }

    @Test func everyTruncationFailsOrDiffers() throws {
        let (frame, _) = WireFixtures.frame(WireFixtures.rich, coalesced: 4)
        let full = try WireFixtures.parse(frame).get()
        var failures = 0
        for length in 0..<frame.count {
            let cut = Array(frame.prefix(length))
            switch WireFixtures.parse(cut) {
            case .failure(let e):
                failures += 1
                if length >= 4 { #expect(e.isTruncated, "length \(length): \(e)") }
            case .success(let h):
                #expect(h != full, "a frame cut to \(length) of \(frame.count) bytes parsed as the whole")
                if let r = h.snapshotRange { #expect(r.upperBound <= length) }
            }
        }
        // Only cuts at a field boundary after the snapshot can parse.
        #expect(failures >= frame.count - 8)
    }

    @Test func everyTruncationOfOtherKindsFailsOrDiffers() throws {
        for frame in [
            FrameCodec.heartbeat(epoch: WireFixtures.epoch, version: 99_999, sequence: 12),
            FrameCodec.endOfStream(epoch: WireFixtures.epoch, finalVersion: 99_999, published: 99_998),
        ] {
            let full = try WireFixtures.parse(frame).get()
            for length in 0..<frame.count {
                if case .success(let h) = WireFixtures.parse(Array(frame.prefix(length))) {
                    #expect(h != full)
                }
            }
        }
    }

    /// Checks what a corrupted frame must never do: crash, or locate bytes outside the frame.
    static func checkCorrupted(_ frame: [UInt8]) -> Bool {
        frame.withUnsafeBytes { raw in
            // The reader's fast parse gives what the full one gives, or leaves the frame to it.
            let full = FrameCodec.parseHeaderExplained(raw)
            if let fast = FrameCodec.header(of: raw) { #expect(full == .success(fast)) }
            switch FrameCodec.parseHeader(raw) {
            case .failure: return false
            case .success(let h):
                if let r = h.snapshotRange {
                    #expect(r.lowerBound >= 4 && r.upperBound <= raw.count)
                    _ = h.decodeSnapshot(in: raw)
                }
                return true
            }
        }
    }

    @Test func everySingleByteCorruptionIsHandled() {
        let (frame, _) = WireFixtures.frame(WireFixtures.rich, coalesced: 1)
        var parsed = 0
        for position in 0..<frame.count {
            for value: UInt8 in [0x00, 0x01, 0x7F, 0x80, 0xFF, frame[position] ^ 0x80, frame[position] ^ 0x07] {
                var bad = frame
                bad[position] = value
                if Self.checkCorrupted(bad) { parsed += 1 }
            }
        }
        #expect(parsed > 0)
    }

    @Test func seededFuzzOfSnapshotFrames() {
        var random = SeededRandom(seed: 20_240_501)
        let frames = [
            WireFixtures.frame(WireFixtures.rich, coalesced: 9).bytes,
            FrameCodec.heartbeat(epoch: 5, version: 6, sequence: 7),
            FrameCodec.endOfStream(epoch: 5, finalVersion: 6, published: 6),
        ]
        var outcomes = (parsed: 0, failed: 0)
        var fastParsed = 0
        for i in 0..<20_000 {
            var bad = frames[i % 10 == 0 ? 1 + (i / 10) % 2 : 0]
            // One to three byte changes, sometimes a cut as well.
            for _ in 0...random.below(3) {
                let at = Int(random.below(UInt64(bad.count)))
                bad[at] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.below(4) == 0 { bad.removeLast(Int(random.below(UInt64(bad.count)))) }
            if Self.checkCorrupted(bad) { outcomes.parsed += 1 } else { outcomes.failed += 1 }
            if bad.withUnsafeBytes({ FrameCodec.header(of: $0) }) != nil { fastParsed += 1 }
        }
        #expect(outcomes.parsed + outcomes.failed == 20_000)
        #expect(outcomes.failed > 0)
        // The fast parse was compared with the full one on thousands of frames, not a few.
        #expect(fastParsed > 1_000 && fastParsed <= outcomes.parsed)
    }

    @Test func randomGarbageAfterAValidPrefixIsHandled() {
        var random = SeededRandom(seed: 3)
        for i in 0..<5_000 {
            let kind = FrameKind.allCases[i % 3]
            let body = (0..<Int(random.below(64))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            _ = Self.checkCorrupted(kind.prefix + body)
        }
    }
}

@Suite("Wire: Snapshot and protobuf")
struct WireSnapshotProtoTests {
    static var snapshots: [Snapshot] {
        let run = WireFixtures.snapshots(count: 60, seed: 5, historyLimit: 6)
        let odd = Snapshot(
            version: .max, epoch: .max, state: .errorState, prevState: .shutdown, reason: "ünïcødé ✓ \"quoted\"\n",
            snapshotID: "\(UInt64.max)-\(UInt64.max)", fsmInstanceID: "", sourceModule: "mod",
            attemptCount: .max, monotonicNanos: .max, wallNanos: 1,
            history: FSMState.allCases.enumerated().map {
                HistoryEntry(from: $0.element, to: FSMState.allCases[($0.offset + 1) % FSMState.allCases.count],
                             event: "e\($0.offset)", reason: "", version: UInt64($0.offset), wallNanos: .max)
            },
            contextData: Data((0...255).map { UInt8($0) }))
        let empty = Snapshot(
            version: 0, epoch: 0, state: .unspecified, prevState: .unspecified, reason: "", snapshotID: "",
            fsmInstanceID: "", sourceModule: "", attemptCount: 0, monotonicNanos: 0, wallNanos: 0, history: [],
            contextData: Data())
        return [run[0], run[1], run[30], run[59], odd, empty]
    }

    @Test(arguments: snapshots)
    func protoRoundTripPreservesEveryField(_ s: Snapshot) throws {
        let p = s.proto
        #expect(p.version == s.version && p.epoch == s.epoch)
        #expect(p.state.rawValue == s.state.rawValue && p.prevState.rawValue == s.prevState.rawValue)
        #expect(p.reason == s.reason && p.snapshotID == s.snapshotID)
        #expect(p.fsmInstanceID == s.fsmInstanceID && p.sourceModule == s.sourceModule)
        #expect(p.attemptCount == s.attemptCount && p.monotonicNs == s.monotonicNanos && p.wallNs == s.wallNanos)
        #expect(p.contextData == s.contextData)
        #expect(p.history.count == s.history.count)
        for (e, h) in zip(p.history, s.history) {
            #expect(e.from.rawValue == h.from.rawValue && e.to.rawValue == h.to.rawValue)
            #expect(e.event == h.event && e.reason == h.reason && e.version == h.version && e.wallNs == h.wallNanos)
        }
        #expect(Snapshot(p) == s)
        let bytes = s.encoded()
        let decoded = Snapshot(try Clustersim_V1_Snapshot(serializedBytes: bytes))
        #expect(decoded == s)
        #expect(decoded.encoded() == bytes)
    }

    @Test func unknownStateDecodesAsUnspecified() throws {
        // FsmState 42 from a newer writer: proto3 keeps it, the model maps it to UNSPECIFIED.
        let bytes = WireFixtures.tag(3, 0) + [42] + WireFixtures.tag(1, 0) + [7]
        let p = try Clustersim_V1_Snapshot(serializedBytes: bytes)
        #expect(p.state.rawValue == 42)
        let s = Snapshot(p)
        #expect(s.state == .unspecified && s.version == 7)
    }

    @Test func enumVarintsAreReadAsInt32AsProtobufReadsThem() throws {
        // 2^32 + 3: protobuf keeps the low 32 bits (ACTIVE); -1 (ten bytes) is no state.
        // Found by the snapshot fuzz target (Fuzz/Regressions/snapshot/state-beyond-int32.accepted).
        for (value, state) in [(UInt64(1) << 32 | 3, FSMState.active), (.max, .unspecified)] {
            let bytes = WireFixtures.tag(3, 0) + WireFixtures.varint(value) + WireFixtures.tag(4, 0) + WireFixtures.varint(value)
                + WireFixtures.tag(12, 2) + [4] + WireFixtures.tag(1, 0) + [1] + WireFixtures.tag(2, 0) + [2]
            let reference = Snapshot(try Clustersim_V1_Snapshot(serializedBytes: bytes))
            let ours = try bytes.withUnsafeBytes { SnapshotCodec.decode($0) }.get()
            #expect(ours == reference)
            #expect(ours.state == state && ours.prevState == state)
            let summary = try bytes.withUnsafeBytes { SnapshotSummary.scan($0, snapshotRange: 0..<bytes.count) }.get()
            #expect(summary.state == state && summary.prevState == state)
        }
    }
}

@Suite("Wire: batch frames")
struct WireBatchFrameTests {
    /// A batch of `snapshots`, each made at a stamp of its own.
    static func batch(_ snapshots: [Snapshot]) -> (frame: [UInt8], made: [UInt64]) {
        var b = BatchFrameBuilder()
        b.begin(epoch: snapshots[0].epoch)
        var made: [UInt64] = []
        for (i, s) in snapshots.enumerated() {
            let t = 1_000_000 + UInt64(i) * 100_000
            made.append(t)
            b.append(encodedSnapshot: s.encoded(), version: s.version, madeMonotonicNanos: t, madeWallNanos: 1_700_000_000_000_000_000 + t)
        }
        #expect(b.count == snapshots.count)
        _ = b.stampAndSend { _ in () }
        return (b.bytes, made)
    }

    @Test("every version of a batch comes out with its own stamps and snapshot, in order", arguments: [1, 2, 17])
    func entriesInOrder(count: Int) throws {
        let snapshots = WireFixtures.snapshots(count: count, seed: 7)
        let (frame, made) = Self.batch(snapshots)
        #expect(Array(frame.prefix(4)) == Array("SNB1".utf8))
        let header = try WireFixtures.parse(frame).get()
        #expect(header.kind == .batch && header.epoch == snapshots[0].epoch && header.extra == UInt64(count))
        #expect(header.sendMonotonicNanos > 0 && header.sendWallNanos > 1_600_000_000_000_000_000)
        var seen: [FrameHeader] = []
        let ok = frame.withUnsafeBytes { raw in header.forEachEntry(in: raw) { seen.append($0) } }
        #expect(ok && seen.count == count)
        for (i, e) in seen.enumerated() {
            #expect(e.kind == .snapshot && e.epoch == snapshots[i].epoch && e.version == snapshots[i].version)
            #expect(e.sendMonotonicNanos == made[i] && e.sendWallNanos == 1_700_000_000_000_000_000 + made[i])
            let decoded = frame.withUnsafeBytes { e.decodeSnapshot(in: $0) }
            #expect(try decoded.get() == snapshots[i])
            let summary = frame.withUnsafeBytes { e.scanSnapshotSummary(in: $0) }
            #expect(try summary.get().version == snapshots[i].version)
        }
    }

    @Test("a batch frame decodes as a Batch with any protobuf library")
    func decodesAsProtobuf() throws {
        let snapshots = WireFixtures.snapshots(count: 3, seed: 11)
        let (frame, made) = Self.batch(snapshots)
        let batch = try Clustersim_V1_Batch(serializedBytes: Array(frame.dropFirst(4)))
        #expect(batch.epoch == snapshots[0].epoch && batch.entries.count == 3 && batch.unknownFields.data.isEmpty)
        for (i, e) in batch.entries.enumerated() {
            #expect(e.version == snapshots[i].version && e.epoch == 0 && e.coalesced == 0)
            #expect(e.sendMonotonicNs == made[i] && Snapshot(e.snapshot) == snapshots[i])
        }
    }

    @Test("the fast parse and the explaining parse agree on batch frames")
    func parsersAgree() throws {
        let (frame, _) = Self.batch(WireFixtures.snapshots(count: 5, seed: 3))
        let fast = frame.withUnsafeBytes { FrameCodec.header(of: $0) }
        let full = frame.withUnsafeBytes { FrameCodec.parseHeaderExplained($0) }
        #expect(fast == (try full.get()))
    }

    @Test("a batch cut anywhere never yields an entry past the cut")
    func truncatedBatches() throws {
        let (frame, _) = Self.batch(WireFixtures.snapshots(count: 4, seed: 5))
        for cut in stride(from: 4, to: frame.count, by: 3) {
            let part = Array(frame.prefix(cut))
            guard case .success(let header) = WireFixtures.parse(part) else { continue }
            part.withUnsafeBytes { raw in
                _ = header.forEachEntry(in: raw) { e in
                    #expect((e.snapshotRange?.upperBound ?? 0) <= cut)
                }
            }
        }
    }
}
