import Foundation
import SwiftProtobuf

/// Kinds of frame published on the writer's PUB socket.
///
/// Every published message is ONE ZeroMQ frame: a 4-byte ASCII prefix naming
/// its kind, then a protobuf message. One frame, because `ZMQ_CONFLATE`
/// silently breaks multipart messages; a prefix, because SUB sockets filter
/// by prefix, so a reader subscribes to exactly the kinds it wants.
public enum FrameKind: Sendable, Hashable, CaseIterable {
    /// `SNP1` + `Envelope`: a new snapshot.
    case snapshot
    /// `HBT1` + `Heartbeat`: the writer is alive; carries its latest version.
    case heartbeat
    /// `END1` + `EndOfStream`: the writer stops; carries the final version.
    case end
    /// `SNB1` + `Batch`: several new snapshots in one frame (a batching writer
    /// that had more than one version due).
    case batch

    /// The prefix bytes, also the SUB subscription for this kind.
    public var prefix: [UInt8] {
        switch self {
        case .snapshot: return Array("SNP1".utf8)
        case .heartbeat: return Array("HBT1".utf8)
        case .end: return Array("END1".utf8)
        case .batch: return Array("SNB1".utf8)
        }
    }

    /// Length of every prefix.
    public static let prefixLength = 4

    @inlinable @inline(__always)
    static func match(_ raw: UnsafeRawBufferPointer) -> FrameKind? {
        guard raw.count >= prefixLength, raw[0] == 0x53 || raw[0] == 0x48 || raw[0] == 0x45 else { return nil }
        let a = raw[0], b = raw[1], c = raw[2], d = raw[3]
        if a == 0x53, b == 0x4E, c == 0x50, d == 0x31 { return .snapshot }   // SNP1
        if a == 0x48, b == 0x42, c == 0x54, d == 0x31 { return .heartbeat }  // HBT1
        if a == 0x45, b == 0x4E, c == 0x44, d == 0x31 { return .end }        // END1
        if a == 0x53, b == 0x4E, c == 0x42, d == 0x31 { return .batch }      // SNB1
        return nil
    }
}

/// Why a frame could not be decoded. Decoding never traps: a bad frame is a
/// value the reader counts.
public enum WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The frame is shorter than its prefix or ends inside a field.
    case truncated(at: Int)
    /// The frame does not start with a known prefix.
    case unknownPrefix([UInt8])
    /// The protobuf body is not valid.
    case malformed(String)

    public var description: String {
        switch self {
        case .truncated(let at): return "frame truncated at byte \(at)"
        case .unknownPrefix(let p): return "unknown frame prefix \(p.map { String(format: "%02x", $0) }.joined())"
        case .malformed(let why): return "malformed frame: \(why)"
        }
    }
}

/// The fields of a published frame that every reader needs on its hot path,
/// read without decoding the embedded snapshot.
///
/// For `.snapshot` frames `snapshotRange` locates the encoded `Snapshot`
/// inside the frame, so a role that needs it decodes it then (see
/// `FrameHeader.decodeSnapshot(in:)`); readers that only measure never do.
public struct FrameHeader: Sendable, Hashable {
    public var kind: FrameKind
    public var epoch: UInt64 = 0
    /// Envelope/Heartbeat `version`, or EndOfStream `final_version`.
    public var version: UInt64 = 0
    public var sendMonotonicNanos: UInt64 = 0
    public var sendWallNanos: UInt64 = 0
    /// Envelope `coalesced`; Heartbeat `sequence`; EndOfStream `published`;
    /// Batch: the number of entries.
    public var extra: UInt64 = 0
    /// `.snapshot`: where the encoded `Snapshot` lies in the frame.
    public var snapshotRange: Range<Int>?
    /// Heartbeat and EndOfStream `epoch_first_version`: where the writer's incarnation began the epoch (0: not said).
    public var epochFirstVersion: UInt64 = 0

    public init(kind: FrameKind) { self.kind = kind }

    /// Takes varint field `field` of this kind's message; others are ignored.
    @inlinable @inline(__always)
    mutating func set(varintField field: UInt64, _ v: UInt64) {
        switch (kind, field) {
        case (_, 1): epoch = v
        case (_, 2): version = v
        case (.snapshot, 3), (.heartbeat, 3), (.batch, 3): sendMonotonicNanos = v
        case (.snapshot, 4), (.heartbeat, 4), (.batch, 4): sendWallNanos = v
        case (.snapshot, 6), (.heartbeat, 5), (.end, 3): extra = v
        case (.heartbeat, 6), (.end, 4): epochFirstVersion = v
        default: break
        }
    }

    /// Decodes the embedded snapshot of a `.snapshot` frame.
    /// - Parameter frame: the same bytes the header was parsed from.
    /// - Returns: the snapshot, or a `WireError`.
    public func decodeSnapshot(in frame: UnsafeRawBufferPointer) -> Result<Snapshot, WireError> {
        guard let range = snapshotRange else { return .failure(.malformed("no snapshot in frame")) }
        return SnapshotCodec.decode(UnsafeRawBufferPointer(rebasing: frame[range]))
    }
}

/// The fields of a snapshot a log line needs, read without decoding the
/// history or the payload (a full decode allocates a string per history
/// entry, per message, per log reader).
public struct SnapshotSummary: Sendable, Hashable {
    public var version: UInt64 = 0
    public var epoch: UInt64 = 0
    public var state: FSMState = .unspecified
    public var prevState: FSMState = .unspecified
    public var reason = ""
    public var wallNanos: UInt64 = 0

    public init() {}

    public init(_ s: Snapshot) {
        version = s.version
        epoch = s.epoch
        state = s.state
        prevState = s.prevState
        reason = s.reason
        wallNanos = s.wallNanos
    }
}

extension FrameHeader {
    /// Reads the summary fields of the embedded snapshot of a `.snapshot` frame.
    /// - Parameter frame: the same bytes the header was parsed from.
    public func scanSnapshotSummary(in frame: UnsafeRawBufferPointer) -> Result<SnapshotSummary, WireError> {
        guard let range = snapshotRange else { return .failure(.malformed("no snapshot in frame")) }
        return SnapshotSummary.scan(frame, snapshotRange: range)
    }
}

extension SnapshotSummary {
    /// Reads the summary fields of the snapshot at `snapshotRange` of `frame`.
    public static func scan(_ frame: UnsafeRawBufferPointer, snapshotRange range: Range<Int>) -> Result<SnapshotSummary, WireError> {
        guard range.upperBound <= frame.count else { return .failure(.truncated(at: frame.count)) }
        let sub = UnsafeRawBufferPointer(rebasing: frame[..<range.upperBound])
        var reader = ProtoReader(sub, from: range.lowerBound)
        var out = SnapshotSummary()
        while !reader.atEnd {
            let tag: UInt64
            switch reader.varint() { case .success(let t): tag = t; case .failure(let e): return .failure(e) }
            let field = tag >> 3, wireType = tag & 7
            if wireType == 0 {
                let v: UInt64
                switch reader.varint() { case .success(let x): v = x; case .failure(let e): return .failure(e) }
                switch field {
                case 1: out.version = v
                case 2: out.epoch = v
                case 3: out.state = FSMState(wireValue: v)
                case 4: out.prevState = FSMState(wireValue: v)
                case 11: out.wallNanos = v
                default: break
                }
            } else if wireType == 2 {
                let r: Range<Int>
                switch reader.lengthDelimited() { case .success(let x): r = x; case .failure(let e): return .failure(e) }
                if field == 5 {
                    out.reason = String(decoding: UnsafeRawBufferPointer(rebasing: sub[r]), as: UTF8.self)
                }
            } else if let e = reader.skip(wireType: wireType) {
                return .failure(e)
            }
        }
        return .success(out)
    }
}

/// Encodes and decodes the frames of the publish channel.
public enum FrameCodec {
    /// Parses the prefix and the scalar fields of a published frame.
    ///
    /// A hand-written reader of the protobuf wire format for the three
    /// published messages: fields 1–4 and 6 are varints, field 5 (the
    /// snapshot) is skipped and located. Unknown fields are skipped, as
    /// protobuf requires, so newer writers stay readable.
    /// - Parameter raw: one whole frame.
    /// - Returns: the header, or why the frame is bad.
    public static func parseHeader(_ raw: UnsafeRawBufferPointer) -> Result<FrameHeader, WireError> {
        if let header = header(of: raw) { return .success(header) }
        return parseHeaderExplained(raw)
    }

    /// The reader's per-message parse: the header `parseHeader` gives, or nil
    /// where it would fail and for the encodings our writer never produces
    /// (fixed-width fields, ten-byte varints), which `parseHeader` then reads.
    ///
    /// `parseHeader`'s own loop builds a `Result` for every varint, and its
    /// failures carry strings and arrays: about 530 instructions a frame and
    /// twice the code, which a reader woken with cold caches pays for in
    /// misses. This one builds no error value: about a third of both. It is
    /// inlined into the reader's handler, so the per-message code lies together.
    @inlinable @inline(__always)
    public static func header(of raw: UnsafeRawBufferPointer) -> FrameHeader? {
        guard let kind = FrameKind.match(raw) else { return nil }
        var header = FrameHeader(kind: kind)
        let n = raw.count
        var i = FrameKind.prefixLength
        while i < n {
            guard let tag = plainVarint(raw, &i) else { return nil }
            let field = tag >> 3
            switch tag & 7 {
            case 0:
                guard let v = plainVarint(raw, &i) else { return nil }
                header.set(varintField: field, v)
            case 2:
                guard let length = plainVarint(raw, &i), length <= UInt64(n &- i) else { return nil }
                let start = i
                i &+= Int(truncatingIfNeeded: length)
                if field == 5 {
                    if kind == .snapshot { header.snapshotRange = start..<i } else if kind == .batch { header.extra &+= 1 }
                }
            default:
                return nil
            }
        }
        return header
    }

    /// A varint of at most nine bytes (values below 2^63) starting at `i`,
    /// which it moves past it; nil if the frame ends first or it is longer.
    /// One-byte varints (tags, small values) return at once; longer ones are
    /// read as one little-endian word where eight bytes remain, byte by byte
    /// only in a frame's last seven. On nil, `i` is where it was.
    @inlinable @inline(__always)
    static func plainVarint(_ raw: UnsafeRawBufferPointer, _ i: inout Int) -> UInt64? {
        let n = raw.count
        guard i < n else { return nil }
        let first = raw.load(fromByteOffset: i, as: UInt8.self)
        if first < 0x80 { i &+= 1; return UInt64(first) }
        guard n &- i >= 8 else { return shortVarint(raw, &i) }
        let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        let stops = ~word & 0x8080_8080_8080_8080
        if stops == 0 {
            // Eight continuation bytes: a ninth ends it, or it is too long for here.
            guard n &- i > 8 else { return nil }
            let last = raw.load(fromByteOffset: i &+ 8, as: UInt8.self)
            guard last < 0x80 else { return nil }
            i &+= 9
            return ProtoReader.pack(word) | UInt64(last) &<< 56
        }
        let bits = stops.trailingZeroBitCount &+ 1  // through the terminating byte's top bit
        i &+= bits >> 3
        return ProtoReader.pack(bits == 64 ? word : word & ((1 &<< UInt64(bits)) &- 1))
    }

    /// `plainVarint` where fewer than eight bytes remain (at most seven, so
    /// the shift never overflows).
    @usableFromInline @inline(never)
    static func shortVarint(_ raw: UnsafeRawBufferPointer, _ i: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var j = i
        while j < raw.count {
            let byte = raw.load(fromByteOffset: j, as: UInt8.self)
            j &+= 1
            value |= UInt64(byte & 0x7F) &<< shift
            if byte < 0x80 { i = j; return value }
            shift &+= 7
        }
        return nil
    }

    /// `parseHeader` for the frames `header(of:)` leaves to it: every
    /// encoding protobuf allows, and the reason for a failure.
    static func parseHeaderExplained(_ raw: UnsafeRawBufferPointer) -> Result<FrameHeader, WireError> {
        guard raw.count >= FrameKind.prefixLength else { return .failure(.truncated(at: raw.count)) }
        guard let kind = FrameKind.match(raw) else {
            return .failure(.unknownPrefix(Array(raw[0..<FrameKind.prefixLength])))
        }
        var header = FrameHeader(kind: kind)
        var reader = ProtoReader(raw, from: FrameKind.prefixLength)
        while !reader.atEnd {
            let tag: UInt64
            switch reader.varint() { case .success(let t): tag = t; case .failure(let e): return .failure(e) }
            let field = tag >> 3, wireType = tag & 7
            if wireType == 0 {
                let v: UInt64
                switch reader.varint() { case .success(let x): v = x; case .failure(let e): return .failure(e) }
                header.set(varintField: field, v)
            } else if wireType == 2 {
                let range: Range<Int>
                switch reader.lengthDelimited() { case .success(let r): range = r; case .failure(let e): return .failure(e) }
                if field == 5 {
                    if kind == .snapshot { header.snapshotRange = range } else if kind == .batch { header.extra &+= 1 }
                }
            } else if let e = reader.skip(wireType: wireType) {
                return .failure(e)
            }
        }
        return .success(header)
    }

    /// Decodes a whole published frame with SwiftProtobuf: for tools and tests.
    public static func decodeEnvelope(_ frame: [UInt8]) -> Result<Clustersim_V1_Envelope, WireError> {
        guard frame.count >= FrameKind.prefixLength else { return .failure(.truncated(at: frame.count)) }
        guard frame.starts(with: FrameKind.snapshot.prefix) else {
            return .failure(.unknownPrefix(Array(frame.prefix(FrameKind.prefixLength))))
        }
        do {
            return .success(try Clustersim_V1_Envelope(serializedBytes: Array(frame.dropFirst(FrameKind.prefixLength))))
        } catch {
            return .failure(.malformed("\(error)"))
        }
    }

    /// A heartbeat frame.
    public static func heartbeat(epoch: UInt64, version: UInt64, sequence: UInt64, epochFirstVersion: UInt64 = 0) -> [UInt8] {
        var out = FrameKind.heartbeat.prefix
        out.reserveCapacity(48)
        ProtoWriter.varintField(1, epoch, into: &out)
        ProtoWriter.varintField(2, version, into: &out)
        ProtoWriter.varintField(3, SystemClock.monotonicNanos(), into: &out)
        ProtoWriter.varintField(4, SystemClock.wallNanos(), into: &out)
        ProtoWriter.varintField(5, sequence, into: &out)
        if epochFirstVersion > 0 { ProtoWriter.varintField(6, epochFirstVersion, into: &out) }
        return out
    }

    /// An end-of-stream frame.
    public static func endOfStream(epoch: UInt64, finalVersion: UInt64, published: UInt64, epochFirstVersion: UInt64 = 0) -> [UInt8] {
        var out = FrameKind.end.prefix
        ProtoWriter.varintField(1, epoch, into: &out)
        ProtoWriter.varintField(2, finalVersion, into: &out)
        ProtoWriter.varintField(3, published, into: &out)
        if epochFirstVersion > 0 { ProtoWriter.varintField(4, epochFirstVersion, into: &out) }
        return out
    }
}

/// Builds snapshot frames with a reused buffer: the snapshot is encoded once,
/// the send stamps are appended last, immediately before the send.
///
/// The frame is `SNP1`, then Envelope field 5 (the pre-encoded snapshot),
/// then fields 1, 2, 6, 3, 4. Protobuf does not fix field order, so any
/// protobuf library decodes it as an `Envelope`.
public struct SnapshotFrameBuilder: Sendable {
    private var buffer: [UInt8] = []

    /// Where the stamps go: right after the prefix, fields 3 and 4 as
    /// nine-byte varints (tag, then value), rewritten in place by each
    /// `stampAndSend`.
    static let stampOffset = FrameKind.prefixLength
    static let stampLength = 2 * (1 + ProtoWriter.paddedVarintLength)

    public init() { buffer.reserveCapacity(1024) }

    /// Starts a frame for one snapshot: the prefix, room for the stamps,
    /// fields 1, 2 and 6, then the snapshot (field 5) last. Every field a
    /// reader reads on its per-message path is in the frame's first 48 bytes,
    /// so it reads one or two cache lines of the frame, not the snapshot's.
    /// - Parameters:
    ///   - encodedSnapshot: `Snapshot` protobuf bytes (see `Snapshot.encoded()`).
    ///   - coalesced: versions folded into this frame before it (0 when none).
    public mutating func begin(encodedSnapshot: [UInt8], epoch: UInt64, version: UInt64, coalesced: UInt32 = 0) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: FrameKind.snapshot.prefix)
        buffer.append(contentsOf: repeatElement(0, count: Self.stampLength))
        ProtoWriter.varintField(1, epoch, into: &buffer)
        ProtoWriter.varintField(2, version, into: &buffer)
        if coalesced > 0 { ProtoWriter.varintField(6, UInt64(coalesced), into: &buffer) }
        ProtoWriter.tag(5, wireType: 2, into: &buffer)
        ProtoWriter.varint(UInt64(encodedSnapshot.count), into: &buffer)
        buffer.append(contentsOf: encodedSnapshot)
    }

    /// Stamps the frame with the clocks now and hands its bytes to `send`.
    /// The stamps overwrite their reserved bytes: nothing is appended or
    /// moved between reading the clock and the send.
    /// - Returns: what `send` returns, and the monotonic stamp written.
    public mutating func stampAndSend<R>(_ send: (UnsafeRawBufferPointer) throws -> R) rethrows -> (R, UInt64) {
        try SnapshotFrameBuilder.stamp(&buffer, send)
    }

    /// Writes the clocks now into the stamp fields (3 and 4, nine-byte varints
    /// right after the prefix) of a frame and hands its bytes to `send`.
    /// - Returns: what `send` returns, and the monotonic stamp written.
    @inline(__always)
    static func stamp<R>(_ buffer: inout [UInt8], _ send: (UnsafeRawBufferPointer) throws -> R) rethrows -> (R, UInt64) {
        let mono = SystemClock.monotonicNanos()
        let wall = SystemClock.wallNanos()
        let result = try buffer.withUnsafeMutableBytes { raw in
            var i = stampOffset
            ProtoWriter.paddedVarintField(3, mono, into: raw, at: &i)
            ProtoWriter.paddedVarintField(4, wall, into: raw, at: &i)
            return try send(UnsafeRawBufferPointer(raw))
        }
        return (result, mono)
    }

    /// The current frame (after `stampAndSend`, with its stamps).
    public var bytes: [UInt8] { buffer }
}

// MARK: - Batches

extension FrameHeader {
    /// Calls `body` with each version of a `.batch` frame, in the frame's
    /// order, as the header of a `.snapshot` frame would carry it: the
    /// batch's epoch, the entry's version, its stamps (when the writer made
    /// that version), its `snapshotRange` in `frame`.
    /// - Parameter frame: the same bytes the header was parsed from.
    /// - Returns: false when an entry is malformed (the entries before it were handed over).
    @inlinable
    public func forEachEntry(in frame: UnsafeRawBufferPointer, _ body: (FrameHeader) -> Void) -> Bool {
        guard kind == .batch else { return false }
        let n = frame.count
        var i = FrameKind.prefixLength
        while i < n {
            guard let tag = FrameCodec.plainVarint(frame, &i) else { return false }
            switch tag & 7 {
            case 0:
                guard FrameCodec.plainVarint(frame, &i) != nil else { return false }
            case 2:
                guard let length = FrameCodec.plainVarint(frame, &i), length <= UInt64(n &- i) else { return false }
                let start = i
                i &+= Int(truncatingIfNeeded: length)
                if tag >> 3 == 5 {
                    guard var entry = FrameCodec.envelopeFields(frame, start..<i) else { return false }
                    entry.epoch = epoch
                    body(entry)
                }
            default:
                return false
            }
        }
        return true
    }
}

extension FrameCodec {
    /// The fields of an `Envelope` embedded at `range` of `frame` (a batch
    /// entry), as a `.snapshot` header with `snapshotRange` in `frame`'s
    /// offsets; nil when it is malformed or uses encodings our writer never
    /// produces.
    @inlinable @inline(__always)
    static func envelopeFields(_ frame: UnsafeRawBufferPointer, _ range: Range<Int>) -> FrameHeader? {
        var header = FrameHeader(kind: .snapshot)
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            guard let tag = plainVarint(frame, &i), i <= end else { return nil }
            let field = tag >> 3
            switch tag & 7 {
            case 0:
                guard let v = plainVarint(frame, &i), i <= end else { return nil }
                header.set(varintField: field, v)
            case 2:
                guard let length = plainVarint(frame, &i), i <= end, length <= UInt64(end &- i) else { return nil }
                let start = i
                i &+= Int(truncatingIfNeeded: length)
                if field == 5 { header.snapshotRange = start..<i }
            default:
                return nil
            }
        }
        return header
    }
}

/// Builds batch frames (`SNB1`): several versions, each with the stamps of
/// the moment the writer made it, and the frame's own send stamps written
/// in place immediately before the send.
///
/// The frame is `SNB1`, the send stamps (Batch fields 3 and 4, nine-byte
/// varints), the epoch (field 1), then one `Envelope` per version (field 5,
/// repeated): `version` (2), the version's own stamps (3, 4), its snapshot (5).
public struct BatchFrameBuilder: Sendable {
    private var buffer: [UInt8] = []
    private var entry: [UInt8] = []
    /// Versions in the frame being built.
    public private(set) var count = 0

    public init() {
        buffer.reserveCapacity(16 * 1024)
        entry.reserveCapacity(1024)
    }

    /// Starts a batch of `epoch`.
    public mutating func begin(epoch: UInt64) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: FrameKind.batch.prefix)
        buffer.append(contentsOf: repeatElement(0, count: SnapshotFrameBuilder.stampLength))
        ProtoWriter.varintField(1, epoch, into: &buffer)
        count = 0
    }

    /// Adds one version, made at `madeMonotonicNanos` / `madeWallNanos`.
    public mutating func append(encodedSnapshot: [UInt8], version: UInt64, madeMonotonicNanos: UInt64, madeWallNanos: UInt64) {
        entry.removeAll(keepingCapacity: true)
        ProtoWriter.varintField(2, version, into: &entry)
        ProtoWriter.varintField(3, madeMonotonicNanos, into: &entry)
        ProtoWriter.varintField(4, madeWallNanos, into: &entry)
        ProtoWriter.tag(5, wireType: 2, into: &entry)
        ProtoWriter.varint(UInt64(encodedSnapshot.count), into: &entry)
        entry.append(contentsOf: encodedSnapshot)
        ProtoWriter.tag(5, wireType: 2, into: &buffer)
        ProtoWriter.varint(UInt64(entry.count), into: &buffer)
        buffer.append(contentsOf: entry)
        count += 1
    }

    /// Stamps the frame with the clocks now and hands its bytes to `send`.
    /// - Returns: what `send` returns, and the monotonic stamp written.
    public mutating func stampAndSend<R>(_ send: (UnsafeRawBufferPointer) throws -> R) rethrows -> (R, UInt64) {
        try SnapshotFrameBuilder.stamp(&buffer, send)
    }

    /// The current frame (after `stampAndSend`, with its stamps).
    public var bytes: [UInt8] { buffer }
}

// MARK: - Minimal protobuf wire reading/writing

@usableFromInline
struct ProtoReader {
    let raw: UnsafeRawBufferPointer
    var offset: Int

    init(_ raw: UnsafeRawBufferPointer, from offset: Int) {
        self.raw = raw
        self.offset = offset
    }

    var atEnd: Bool { offset >= raw.count }

    /// One varint: `FrameCodec.plainVarint` (one byte at once, else a word at
    /// a time) for every varint of nine bytes or fewer, byte by byte with the
    /// reason for a failure (`longVarint`) for the rest.
    @inline(__always)
    mutating func varint() -> Result<UInt64, WireError> {
        if let v = FrameCodec.plainVarint(raw, &offset) { return .success(v) }
        return longVarint()
    }

    /// Packs the low seven bits of each byte of `w` into one value (the
    /// continuation bits are dropped): pairs into 14 bits, quads into 28, all into 56.
    @inlinable @inline(__always)
    static func pack(_ w: UInt64) -> UInt64 {
        var x = w & 0x7F7F_7F7F_7F7F_7F7F
        x = (x & 0x007F_007F_007F_007F) | ((x & 0x7F00_7F00_7F00_7F00) >> 1)
        x = (x & 0x0000_3FFF_0000_3FFF) | ((x & 0x3FFF_0000_3FFF_0000) >> 2)
        x = (x & 0x0000_0000_0FFF_FFFF) | ((x & 0x0FFF_FFFF_0000_0000) >> 4)
        return x
    }

    @inline(__always)
    mutating func longVarint() -> Result<UInt64, WireError> {
        var i = offset
        let end = raw.count
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while i < end {
            let byte = raw.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            if shift == 63, byte > 1 { offset = i; return .failure(.malformed("varint overflows 64 bits")) }
            value |= UInt64(byte & 0x7F) &<< shift
            if byte < 0x80 { offset = i; return .success(value) }
            shift &+= 7
            if shift > 63 { offset = i; return .failure(.malformed("varint longer than 10 bytes")) }
        }
        offset = i
        return .failure(.truncated(at: i))
    }

    mutating func lengthDelimited() -> Result<Range<Int>, WireError> {
        switch varint() {
        case .failure(let e): return .failure(e)
        case .success(let n):
            guard n <= UInt64(raw.count - offset) else { return .failure(.truncated(at: raw.count)) }
            let start = offset
            offset += Int(n)
            return .success(start..<offset)
        }
    }

    mutating func skip(wireType: UInt64) -> WireError? {
        switch wireType {
        case 1:
            guard raw.count - offset >= 8 else { return .truncated(at: raw.count) }
            offset += 8
        case 5:
            guard raw.count - offset >= 4 else { return .truncated(at: raw.count) }
            offset += 4
        default:
            return .malformed("unsupported wire type \(wireType)")
        }
        return nil
    }
}

enum ProtoWriter {
    @inline(__always)
    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    @inline(__always)
    static func tag(_ field: UInt64, wireType: UInt64, into out: inout [UInt8]) {
        varint(field << 3 | wireType, into: &out)
    }

    /// Length of a padded varint: nine bytes hold any value below 2^63.
    static let paddedVarintLength = 9

    /// Writes a varint field in exactly 1 + 9 bytes at `i` (and moves `i`
    /// past it): the value's seven-bit groups with the continuation bit set
    /// on all but the ninth, so small values carry zero groups. Protobuf
    /// readers accept such non-minimal varints (up to ten bytes); a fixed
    /// width lets the field be rewritten in place. Values of 2^63 and more
    /// (none of our clocks reach them) are written as 2^63 − 1.
    @inline(__always)
    static func paddedVarintField(_ field: UInt64, _ value: UInt64, into raw: UnsafeMutableRawBufferPointer, at i: inout Int) {
        raw[i] = UInt8(truncatingIfNeeded: field << 3)
        i += 1
        var v = min(value, UInt64(Int64.max))
        for _ in 0..<(paddedVarintLength - 1) {
            raw[i] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            i += 1
        }
        raw[i] = UInt8(truncatingIfNeeded: v)
        i += 1
    }

    /// Writes a varint field; proto3 omits zero values.
    @inline(__always)
    static func varintField(_ field: UInt64, _ value: UInt64, into out: inout [UInt8]) {
        guard value != 0 else { return }
        tag(field, wireType: 0, into: &out)
        varint(value, into: &out)
    }
}
