// The properties the fuzz targets check, one function per target. This file
// is compiled twice: here, where FuzzRegressionTests replays the committed
// corpus and every regression input through it, and into the fuzz package
// (Fuzz/Sources/FuzzChecks/FuzzChecks.swift is a link to it), whose
// libFuzzer entry points call it with every generated input. So a replayed
// input takes exactly the path the fuzzer took. See docs/architecture.md,
// "Fuzzing".
import Foundation
import SwiftProtobuf

@testable import ClusterCore

/// A property a fuzz target checks that an input broke.
public struct FuzzViolation: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}

/// What the code under test did with an input, as a reader or the
/// orchestrator would see it.
public enum FuzzOutcome: String, Sendable, CaseIterable {
    /// Decoded (a frame's header, a snapshot, a message of at least one type, a topology).
    case accepted
    /// Refused with an error value: a counted decode error, a corrupt state file, a topology error.
    case rejected
}

/// The fuzz targets: what each decodes, and the properties that must hold
/// for every input, whatever its bytes. A check returns the outcome or
/// throws the first property that failed; a crash inside the code under test
/// is a failure too.
public enum FuzzTarget: String, Sendable, CaseIterable {
    /// A published frame: `FrameCodec.header(of:)` (the reader's fast path),
    /// `parseHeader`, the snapshot it carries, heartbeat and end-of-stream frames.
    case frame
    /// A `Snapshot` message: `SnapshotCodec`, `SnapshotSummary.scan`, against SwiftProtobuf.
    case snapshot
    /// The writer's state file (`SnapshotFile`: the snapshot's JSON form).
    case snapshotFile = "snapshot-file"
    /// The control plane and query messages, decoded with SwiftProtobuf.
    case messages
    /// A topology file: `TopologyLoader.parse`, `encode`.
    case topology

    /// Runs this target's checks on one input.
    public func check(_ input: UnsafeRawBufferPointer) throws(FuzzViolation) -> FuzzOutcome {
        switch self {
        case .frame: return try FuzzChecks.frame(input)
        case .snapshot: return try FuzzChecks.snapshot(input)
        case .snapshotFile: return try FuzzChecks.snapshotFile(input, directory: FuzzChecks.scratchDirectory)
        case .messages: return try FuzzChecks.messages(input)
        case .topology: return try FuzzChecks.topology(input)
        }
    }
}

enum FuzzChecks {
    /// Fails the check with `message` unless `condition` holds.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzViolation) {
        if !condition { throw FuzzViolation(message()) }
    }

    /// A snapshot's fields, for a violation's message (its own description hides them).
    static func show(_ s: Snapshot) -> String {
        let history = s.history.map { "\($0.from)->\($0.to) \(String(reflecting: $0.event)) \(String(reflecting: $0.reason)) v\($0.version) w\($0.wallNanos)" }
        return "Snapshot(version \(s.version), epoch \(s.epoch), \(s.prevState)->\(s.state), reason \(String(reflecting: s.reason)), "
            + "id \(String(reflecting: s.snapshotID)), instance \(String(reflecting: s.fsmInstanceID)), "
            + "module \(String(reflecting: s.sourceModule)), attempt \(s.attemptCount), mono \(s.monotonicNanos), "
            + "wall \(s.wallNanos), history \(history), \(s.contextData.count) payload bytes)"
    }

    static func show(_ r: Result<Snapshot, WireError>) -> String {
        switch r {
        case .success(let s): return show(s)
        case .failure(let e): return "failure(\(e))"
        }
    }

    // MARK: - Frames

    static func frame(_ raw: UnsafeRawBufferPointer) throws(FuzzViolation) -> FuzzOutcome {
        let fast = FrameCodec.header(of: raw)
        let full = FrameCodec.parseHeaderExplained(raw)
        let walk = WireWalk(raw, from: FrameKind.prefixLength, nesting: FrameKind.match(raw) == .batch ? .batch : .envelope)
        if let fast {
            try require(full == .success(fast), "the fast path read \(fast), the full parser \(full)")
        } else if case .success(let h) = full {
            // The fast path declines only what it leaves to the full parser on purpose.
            try require(walk.hasSlowEncoding,
                        "the fast path declined a frame the full parser read as \(h), without a fixed-width field or a ten-byte varint")
        }
        let parsed = FrameCodec.parseHeader(raw)
        try require(parsed == (fast.map { .success($0) } ?? full), "parseHeader gave \(parsed), not what its two paths give")

        let kind = FrameKind.match(raw)
        if let kind {
            try compareWithSwiftProtobuf(kind, raw, parsed, walk)
        } else {
            try require(fast == nil && (try? parsed.get()) == nil, "a frame without a known prefix parsed")
        }
        guard case .success(let header) = parsed, let kind else { return .rejected }
        try require(header.kind == kind, "a \(kind) frame parsed as \(header.kind)")

        switch kind {
        case .snapshot:
            try snapshotFrame(header, raw)
        case .batch:
            try batchFrame(header, raw)
        case .heartbeat:
            try require(header.snapshotRange == nil, "a heartbeat located a snapshot")
            let again = FrameCodec.heartbeat(epoch: header.epoch, version: header.version, sequence: header.extra,
                                             epochFirstVersion: header.epochFirstVersion)
            let h = try reparse(again)
            try require(h.kind == .heartbeat && h.epoch == header.epoch && h.version == header.version && h.extra == header.extra
                            && h.epochFirstVersion == header.epochFirstVersion,
                        "the heartbeat re-encoded from \(header) parsed as \(h)")
        case .end:
            try require(header.snapshotRange == nil && header.sendMonotonicNanos == 0 && header.sendWallNanos == 0,
                        "an end-of-stream frame gave stamps or a snapshot: \(header)")
            let again = FrameCodec.endOfStream(epoch: header.epoch, finalVersion: header.version, published: header.extra,
                                               epochFirstVersion: header.epochFirstVersion)
            let h = try reparse(again)
            try require(h == header, "the end-of-stream frame re-encoded from \(header) parsed as \(h)")
        }
        return .accepted
    }

    /// A frame's embedded snapshot: located inside the frame, decoded and
    /// summarised alike, and published again as the writer would.
    static func snapshotFrame(_ header: FrameHeader, _ raw: UnsafeRawBufferPointer) throws(FuzzViolation) {
        let decoded = header.decodeSnapshot(in: raw)
        let summary = header.scanSnapshotSummary(in: raw)
        guard let range = header.snapshotRange else {
            try require((try? decoded.get()) == nil && (try? summary.get()) == nil, "a frame without a snapshot decoded one")
            return
        }
        try require(range.lowerBound >= FrameKind.prefixLength && range.upperBound <= raw.count,
                    "snapshot range \(range) outside the frame's \(raw.count) bytes")
        guard case .success(let snapshot) = decoded else { return }
        try require(summary == .success(SnapshotSummary(snapshot)),
                    "the log role's summary \(summary) differs from \(show(snapshot))")
        let coalesced = UInt32(truncatingIfNeeded: header.extra)
        var builder = SnapshotFrameBuilder()
        builder.begin(encodedSnapshot: snapshot.encoded(), epoch: header.epoch, version: header.version, coalesced: coalesced)
        let (result, mono) = builder.stampAndSend { FrameCodec.parseHeader($0) }
        guard case .success(let h) = result else { throw FuzzViolation("the writer's frame for \(header) does not parse: \(result)") }
        try require(h.epoch == header.epoch && h.version == header.version && h.extra == UInt64(coalesced)
                        && h.sendMonotonicNanos == min(mono, UInt64(Int64.max)),
                    "the writer's frame for \(header) parsed as \(h)")
        let again = builder.bytes.withUnsafeBytes { h.decodeSnapshot(in: $0) }
        try require(again == .success(snapshot), "the snapshot published again decoded as \(show(again)), not \(show(snapshot))")
    }

    /// A batch frame's entries: as many as the header counted, each of the
    /// batch's epoch and inside the frame; the entries whose snapshots decode,
    /// batched again as the writer would, read back the same.
    static func batchFrame(_ header: FrameHeader, _ raw: UnsafeRawBufferPointer) throws(FuzzViolation) {
        var entries: [FrameHeader] = []
        guard header.forEachEntry(in: raw, { entries.append($0) }) else { return }
        try require(UInt64(entries.count) == header.extra, "\(entries.count) entries handed over, the header counted \(header.extra)")
        var builder = BatchFrameBuilder()
        builder.begin(epoch: header.epoch)
        var kept: [(FrameHeader, Snapshot)] = []
        for e in entries {
            try require(e.kind == .snapshot && e.epoch == header.epoch, "an entry read as \(e) in a batch of epoch \(header.epoch)")
            if let r = e.snapshotRange {
                try require(r.lowerBound >= FrameKind.prefixLength && r.upperBound <= raw.count, "entry range \(r) outside the frame")
            }
            guard case .success(let snapshot) = e.decodeSnapshot(in: raw) else { continue }
            builder.append(encodedSnapshot: snapshot.encoded(), version: e.version,
                           madeMonotonicNanos: e.sendMonotonicNanos, madeWallNanos: e.sendWallNanos)
            kept.append((e, snapshot))
        }
        let (parsed, _) = builder.stampAndSend { FrameCodec.parseHeader($0) }
        guard case .success(let h) = parsed else { throw FuzzViolation("the batch built again does not parse: \(parsed)") }
        var again: [(FrameHeader, Result<Snapshot, WireError>)] = []
        let ok = builder.bytes.withUnsafeBytes { frame in h.forEachEntry(in: frame) { again.append(($0, $0.decodeSnapshot(in: frame))) } }
        try require(ok && again.count == kept.count && h.extra == UInt64(kept.count) && h.epoch == header.epoch,
                    "the batch built again from \(kept.count) entries read as \(h) with \(again.count) entries")
        for ((e, snapshot), (a, decoded)) in zip(kept, again) {
            try require(a.version == e.version && a.sendMonotonicNanos == e.sendMonotonicNanos
                            && a.sendWallNanos == e.sendWallNanos && decoded == .success(snapshot),
                        "entry \(e) read back as \(a)")
        }
    }

    static func reparse(_ frame: [UInt8]) throws(FuzzViolation) -> FrameHeader {
        let result = frame.withUnsafeBytes { FrameCodec.parseHeader($0) }
        guard case .success(let h) = result else { throw FuzzViolation("a re-encoded frame does not parse: \(result)") }
        return h
    }

    /// What SwiftProtobuf decodes from a frame, our parser must read the same,
    /// except for the encodings it refuses on purpose (``WireWalk/refused``).
    static func compareWithSwiftProtobuf(
        _ kind: FrameKind, _ raw: UnsafeRawBufferPointer, _ parsed: Result<FrameHeader, WireError>, _ walk: WireWalk
    ) throws(FuzzViolation) {
        let body = Array(raw[FrameKind.prefixLength...])
        var expected = FrameHeader(kind: kind)
        var snapshot: Clustersim_V1_Snapshot?
        switch kind {
        case .snapshot:
            guard case .success(let e) = FrameCodec.decodeEnvelope(Array(raw)) else { return }
            expected.epoch = e.epoch
            expected.version = e.version
            expected.sendMonotonicNanos = e.sendMonotonicNs
            expected.sendWallNanos = e.sendWallNs
            expected.extra = UInt64(e.coalesced)
            snapshot = e.hasSnapshot ? e.snapshot : nil
        case .heartbeat:
            guard let h = try? Clustersim_V1_Heartbeat(serializedBytes: body) else { return }
            expected.epoch = h.epoch
            expected.version = h.version
            expected.sendMonotonicNanos = h.sendMonotonicNs
            expected.sendWallNanos = h.sendWallNs
            expected.extra = h.sequence
            expected.epochFirstVersion = h.epochFirstVersion
        case .end:
            guard let e = try? Clustersim_V1_EndOfStream(serializedBytes: body) else { return }
            expected.epoch = e.epoch
            expected.version = e.finalVersion
            expected.extra = e.published
            expected.epochFirstVersion = e.epochFirstVersion
        case .batch:
            guard let b = try? Clustersim_V1_Batch(serializedBytes: body) else { return }
            expected.epoch = b.epoch
            expected.sendMonotonicNanos = b.sendMonotonicNs
            expected.sendWallNanos = b.sendWallNs
            expected.extra = UInt64(b.entries.count)
        }
        guard !walk.refused else { return }
        guard case .success(var header) = parsed else {
            throw FuzzViolation("SwiftProtobuf decodes the frame, our parser refuses it: \(parsed)")
        }
        // `coalesced` is a uint32: protobuf keeps the low 32 bits of a longer varint.
        if kind == .snapshot { header.extra = UInt64(UInt32(truncatingIfNeeded: header.extra)) }
        // A batch has no field 2: our parser reads one into `version`, which no reader uses for a batch.
        if kind == .batch { header.version = 0 }
        let range = header.snapshotRange
        header.snapshotRange = nil
        try require(header == expected, "our parser read \(header), SwiftProtobuf \(expected)")
        // Several snapshot fields are merged by protobuf; the reader takes the last. Compare one.
        if let snapshot, walk.snapshotFields == 1 {
            try require(range != nil, "SwiftProtobuf found a snapshot our parser did not locate")
            var located = header
            located.snapshotRange = range
            let ours = located.decodeSnapshot(in: raw)
            try require(ours == .success(Snapshot(snapshot)),
                        "the embedded snapshot decoded as \(show(ours)), SwiftProtobuf's is \(show(Snapshot(snapshot)))")
        }
    }

    // MARK: - Snapshots

    static func snapshot(_ raw: UnsafeRawBufferPointer) throws(FuzzViolation) -> FuzzOutcome {
        let ours = SnapshotCodec.decode(raw)
        let summary = SnapshotSummary.scan(raw, snapshotRange: 0..<raw.count)
        if let reference = try? Clustersim_V1_Snapshot(serializedBytes: Array(raw)),
           !WireWalk(raw, from: 0, nesting: .snapshot).refused {
            try require(ours == .success(Snapshot(reference)),
                        "SnapshotCodec decoded \(show(ours)), SwiftProtobuf \(show(Snapshot(reference)))")
        }
        guard case .success(let s) = ours else { return .rejected }
        try require(summary == .success(SnapshotSummary(s)), "the summary scan gave \(summary) for \(show(s))")
        let encoded = SnapshotCodec.encode(s)
        let again = encoded.withUnsafeBytes { SnapshotCodec.decode($0) }
        try require(again == .success(s), "\(show(s)) re-encoded decoded as \(show(again))")
        let reference: [UInt8]
        do { reference = try s.proto.serializedBytes() } catch { throw FuzzViolation("SwiftProtobuf cannot encode \(show(s)): \(error)") }
        try require(encoded == reference, "SnapshotCodec and SwiftProtobuf encode \(show(s)) differently")
        try require(Snapshot(s.proto) == s, "\(show(s)) changed through its protobuf message")
        // The state file's form.
        do {
            let json = try stateFileEncoder().encode(s)
            let back = try JSONDecoder().decode(Snapshot.self, from: json)
            try require(back == s, "\(show(s)) read back from JSON as \(show(back))")
        } catch let v as FuzzViolation {
            throw v
        } catch {
            throw FuzzViolation("\(show(s)) does not survive JSON: \(error)")
        }
        return .accepted
    }

    /// The encoder `SnapshotFile.save` uses.
    static func stateFileEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    // MARK: - The writer's state file

    /// Where the state-file target writes its files: one directory per process, in memory when possible.
    static let scratchDirectory: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        var template = Array("\(base)/clustersim-fuzz-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("cannot create a scratch directory in \(base)") }
        let path = String(cString: made)
        atexit {
            // Best effort: the two state directories and their files.
            try? FileManager.default.removeItem(atPath: FuzzChecks.scratchDirectory)
        }
        return path
    }()

    /// `input` as the writer's state file, loaded as a restarting writer
    /// loads it; a restored snapshot is saved and loaded again, and encoded
    /// for publishing.
    static func snapshotFile(_ input: UnsafeRawBufferPointer, directory: String) throws(FuzzViolation) -> FuzzOutcome {
        let file = SnapshotFile(directory: directory + "/in")
        do {
            try FileManager.default.createDirectory(atPath: file.directory, withIntermediateDirectories: true)
            try Data(input).write(to: URL(fileURLWithPath: file.path))
        } catch {
            throw FuzzViolation("cannot write the input to \(file.path): \(error)")
        }
        let s: Snapshot
        switch file.load() {
        case .missing:
            throw FuzzViolation("\(file.path) was written but loads as missing")
        case .corrupt(let reason):
            try require(!reason.isEmpty, "a corrupt state file without a reason")
            return .rejected
        case .restored(let snapshot):
            s = snapshot
        }
        try require(s.version > 0 && s.version < VersionTracker.plausibleLimit - 1 && s.epoch < VersionTracker.plausibleLimit - 1,
                    "restored an implausible snapshot: version \(s.version), epoch \(s.epoch)")
        let copy = SnapshotFile(directory: directory + "/out")
        do { try copy.save(s) } catch { throw FuzzViolation("cannot save the restored \(show(s)): \(error)") }
        guard case .restored(let back) = copy.load() else { throw FuzzViolation("the saved snapshot does not load: \(copy.load())") }
        try require(back == s, "the state file round trip changed \(show(s)) into \(show(back))")
        // The writer continues by publishing it.
        let published = s.encoded().withUnsafeBytes { SnapshotCodec.decode($0) }
        try require(published == .success(s), "the restored \(show(s)) published decodes as \(show(published))")
        return .accepted
    }

    // MARK: - Control and query messages

    /// `raw` decoded as each message of the control plane, the snapshot
    /// service and the query role; what decodes must encode and decode again
    /// to the same message.
    static func messages(_ raw: UnsafeRawBufferPointer) throws(FuzzViolation) -> FuzzOutcome {
        let bytes = Array(raw)
        var accepted = false
        if let m = try roundTrip(Clustersim_V1_ControlMessage.self, bytes, floatingPoint: hasDoubles) {
            accepted = true
            _ = m.body   // the orchestrator's and the nodes' dispatch
        }
        if let m = try roundTrip(Clustersim_V1_SnapshotRequest.self, bytes) {
            accepted = true
            _ = (m.client, m.requestID)
        }
        if let reply = try roundTrip(Clustersim_V1_SnapshotReply.self, bytes) {
            accepted = true
            // The reader's use of an answer: the snapshot it keeps and the one its log records.
            if reply.hasSnapshot {
                let s = Snapshot(reply.snapshot)
                let again = s.encoded().withUnsafeBytes { SnapshotCodec.decode($0) }
                try require(again == .success(s), "\(show(s)) from a reply re-encoded decodes as \(show(again))")
            }
        }
        if let request = try roundTrip(Clustersim_V1_QueryRequest.self, bytes) {
            accepted = true
            _ = (request.requestID, request.kind, request.sendMonotonicNs)
        }
        if let reply = try roundTrip(Clustersim_V1_QueryReply.self, bytes) {
            accepted = true
            if reply.hasSnapshot { _ = Snapshot(reply.snapshot) }
        }
        return accepted ? .accepted : .rejected
    }

    /// Whether a control message holds doubles (stats; a fault request's
    /// loss), which may be NaN, so that only the bytes of its round trip can be
    /// compared.
    static func hasDoubles(_ m: Clustersim_V1_ControlMessage) -> Bool {
        switch m.body {
        case .stats, .faultRequest: true
        default: false
        }
    }

    /// Decodes `bytes` as `M`; what decodes must encode, decode again equal,
    /// and encode to the same bytes again.
    static func roundTrip<M: SwiftProtobuf.Message & Equatable>(
        _ type: M.Type, _ bytes: [UInt8], floatingPoint: (M) -> Bool = { _ in false }
    ) throws(FuzzViolation) -> M? {
        guard let m = try? M(serializedBytes: bytes) else { return nil }
        do {
            let once: [UInt8] = try m.serializedBytes()
            let again = try M(serializedBytes: once)
            let twice: [UInt8] = try again.serializedBytes()
            try require(twice == once, "\(M.self) encodes differently after a round trip")
            try require(again == m || floatingPoint(m), "\(M.self) decodes differently after a round trip")
        } catch let v as FuzzViolation {
            throw v
        } catch {
            throw FuzzViolation("\(M.self) decoded but does not round-trip: \(error)")
        }
        return m
    }

    // MARK: - Topologies

    static let topologyFile = "fuzz.json"

    static func topology(_ raw: UnsafeRawBufferPointer) throws(FuzzViolation) -> FuzzOutcome {
        let topology: Topology
        do {
            topology = try TopologyLoader.parse(Data(raw), file: topologyFile)
        } catch let error as TopologyError {
            try require(error.file == topologyFile && !error.issues.isEmpty, "a topology error without issues")
            let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false)
            try require(lines.count == min(error.issues.count, TopologyError.maxListed + 1)
                            && lines.allSatisfy { $0.hasPrefix("\(topologyFile): ") },
                        "the error is not one line per issue:\n\(error.description)")
            return .rejected
        } catch {
            throw FuzzViolation("parse threw \(type(of: error)), not a TopologyError: \(error)")
        }
        do {
            try require(topology.validate().isEmpty, "an accepted topology fails validate(): \(topology.validate())")
            let encoded = try TopologyLoader.encode(topology)
            let again = try TopologyLoader.parse(encoded, file: "encoded.json")
            try require(again == topology, "the encoded topology parses to another one:\n\(String(decoding: encoded, as: UTF8.self))")
            try require(try TopologyLoader.encode(again) == encoded, "encoding is not stable")
            let decoded = try JSONDecoder().decode(Topology.self, from: encoded)
            try require(decoded == topology, "JSONDecoder reads the encoded topology as another one")
        } catch let v as FuzzViolation {
            throw v
        } catch {
            throw FuzzViolation("an accepted topology does not round-trip: \(error)")
        }
        // What the orchestrator derives from it: nodes, fault targets, chaos targets.
        let nodes = topology.nodes
        try require(nodes.count <= Topology.maxNodes + 1 && Set(nodes.map(\.name)).count == nodes.count,
                    "\(nodes.count) nodes, or names that repeat")
        for fault in topology.faults {
            try require(!topology.nodes(matching: fault.target).isEmpty, "fault target \(fault.target) names no node")
        }
        for pattern in topology.chaos?.targets ?? [] {
            _ = topology.nodes(matching: pattern)
        }
        return .accepted
    }
}

/// A byte-by-byte walk of a protobuf message, independent of the codecs under
/// test: what a frame holds that the reader's fast path leaves to the full
/// parser, and the encodings our codecs refuse on purpose where SwiftProtobuf
/// accepts them.
struct WireWalk {
    /// Which length-delimited fields hold messages, to walk into them.
    struct Nesting {
        let messages: [UInt64: Nesting]
        static let entry = Nesting(messages: [:])
        static let snapshot = Nesting(messages: [12: .entry])
        static let envelope = Nesting(messages: [5: .snapshot])
        static let batch = Nesting(messages: [5: .envelope])
    }

    /// A fixed-width field or a ten-byte varint at the top level (what
    /// `FrameCodec.header(of:)` declines).
    private(set) var hasSlowEncoding = false
    /// A group (wire types 3 and 4, which proto3 never writes) or a ten-byte
    /// varint with bits past the 64th, anywhere: SwiftProtobuf skips the one
    /// and drops the bits of the other; our codecs refuse both.
    private(set) var refused = false
    /// Top-level field 5 length-delimited occurrences (an envelope's snapshots).
    private(set) var snapshotFields = 0

    init(_ raw: UnsafeRawBufferPointer, from start: Int, nesting: Nesting) {
        walk(raw, min(start, raw.count)..<raw.count, nesting, top: true)
    }

    /// Reads a varint at `i`; nil past the end or after ten bytes.
    private mutating func varint(_ raw: UnsafeRawBufferPointer, _ i: inout Int, _ end: Int, top: Bool) -> UInt64? {
        var value: UInt64 = 0
        for n in 0..<10 {
            guard i < end else { return nil }
            let byte = raw[i]
            i += 1
            value |= UInt64(byte & 0x7F) << UInt64(7 * n)
            if byte < 0x80 {
                if n == 9 {
                    if top { hasSlowEncoding = true }
                    if byte > 1 { refused = true }
                }
                return value
            }
        }
        return nil
    }

    private mutating func walk(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ nesting: Nesting, top: Bool) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            guard let tag = varint(raw, &i, end, top: top) else { return }
            let field = tag >> 3
            switch tag & 7 {
            case 0:
                guard varint(raw, &i, end, top: top) != nil else { return }
            case 1, 5:
                if top { hasSlowEncoding = true }
                let width = tag & 7 == 1 ? 8 : 4
                guard end - i >= width else { return }
                i += width
            case 2:
                guard let length = varint(raw, &i, end, top: top), length <= UInt64(end - i) else { return }
                let body = i..<(i + Int(length))
                i = body.upperBound
                if top && field == 5 { snapshotFields += 1 }
                if let inner = nesting.messages[field] { walk(raw, body, inner, top: false) }
            case 3, 4:
                refused = true
                return
            default:
                return
            }
        }
    }
}
