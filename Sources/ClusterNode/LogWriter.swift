import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the log role's bytes go: the file, or a stand-in in tests.
protocol LogSink: AnyObject {
    /// `write(2)`: the number of bytes written, or -1 with `errno` set.
    func write(_ bytes: UnsafeRawBufferPointer) -> Int
    /// `fsync(2)`: whether it succeeded.
    func sync() -> Bool
}

/// The log file itself, opened `O_APPEND`.
final class FileLogSink: LogSink {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }
    deinit { Glibc.close(fd) }

    func write(_ bytes: UnsafeRawBufferPointer) -> Int { Glibc.write(fd, bytes.baseAddress, bytes.count) }
    func sync() -> Bool { fsync(fd) == 0 }
}

/// The log role's JSON Lines file: one line per snapshot received, written
/// in batches, flushed and fsync'd on stop.
///
/// The file is opened `O_APPEND` and never truncated but for a torn last
/// line (a line a killed predecessor left half written), which is cut off
/// and recorded (`"type":"torn-tail-removed"`); a restarted log reader
/// appends, and its first line records the range of versions it missed
/// while it was down (`"type":"missed"`).
///
/// Write errors (a full file system, a failing disk) never lose or repeat a
/// byte: what `write(2)` took is never written again, what it did not is
/// kept and tried again at the next batch. The unwritten bytes are bounded
/// (``maxBufferedBytes``): past the bound new snapshot lines are dropped,
/// counted, and recorded as a `"missed"` range (`"reason":"log write
/// failed"`) once writing works again.
final class LogWriter {
    let path: String
    let node: String
    let flushEvery: Int
    /// The most bytes kept waiting for the file; past it lines are dropped.
    let maxBufferedBytes: Int
    private let sink: any LogSink
    private var buffer: [UInt8] = []
    private var pendingLines = 0
    private var lastFlushMono = SystemClock.monotonicNanos()
    private(set) var linesWritten: UInt64 = 0
    private(set) var flushes: UInt64 = 0
    private(set) var fsyncs: UInt64 = 0
    /// Failed `write(2)` and `fsync(2)` calls.
    private(set) var writeErrors: UInt64 = 0
    /// Snapshot lines dropped because the file could not take them, or left unwritten at the end.
    private(set) var droppedLines: UInt64 = 0
    /// The last write error, as `strerror` says it.
    private(set) var lastError: String?
    /// Versions dropped since writing last worked: (epoch, first, last, lines).
    private var dropped: (epoch: UInt64, first: UInt64, last: UInt64, lines: UInt64)?
    /// Epoch and version of the last snapshot line already in the file when it was opened.
    let previous: (epoch: UInt64, version: UInt64)?
    private var checkedPrevious = false

    struct OpenError: Error, CustomStringConvertible {
        let path: String
        let errno: Int32
        var description: String { "cannot open log file \(path): \(String(cString: strerror(errno)))" }
    }

    /// Opens (creating) the file for appending, first cutting off a torn last line.
    convenience init(path: String, node: String, flushEvery: Int, maxBufferedBytes: Int = 8 << 20) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OpenError(path: path, errno: errno) }
        let torn = Self.removeTornTail(fd: fd)
        self.init(path: path, node: node, flushEvery: flushEvery, maxBufferedBytes: maxBufferedBytes,
                  sink: FileLogSink(fd: fd), previous: Self.lastEntry(path: path))
        if torn > 0 {
            appendLine(#"{"type":"torn-tail-removed","node":"\#(node)","bytes":\#(torn)}"#)
        }
    }

    init(path: String, node: String, flushEvery: Int, maxBufferedBytes: Int, sink: any LogSink,
         previous: (epoch: UInt64, version: UInt64)?) {
        self.path = path
        self.node = node
        self.flushEvery = max(1, flushEvery)
        self.maxBufferedBytes = max(4_096, maxBufferedBytes)
        self.sink = sink
        self.previous = previous
        buffer.reserveCapacity(64 * 1024)
    }

    /// Appends one line for a snapshot fetched from the snapshot service.
    func recordSnapshot(_ s: Snapshot, recvWall: UInt64, via: String) {
        record(SnapshotSummary(s), recvWall: recvWall, via: via)
    }

    /// Appends one snapshot line (written out when the batch is full or 200 ms old).
    func record(_ s: SnapshotSummary, recvWall: UInt64, via: String) {
        if !checkedPrevious {
            checkedPrevious = true
            if let p = previous {
                if p.epoch == s.epoch, s.version > p.version + 1 {
                    appendLine(#"{"type":"missed","node":"\#(node)","epoch":\#(s.epoch),"from":\#(p.version + 1),"to":\#(s.version - 1)}"#)
                } else if p.epoch != s.epoch {
                    appendLine(#"{"type":"missed","node":"\#(node)","previous_epoch":\#(p.epoch),"previous_version":\#(p.version),"epoch":\#(s.epoch),"first_version":\#(s.version)}"#)
                }
            }
        }
        if buffer.count >= maxBufferedBytes {
            drop(epoch: s.epoch, version: s.version)
        } else {
            if dropped != nil { recordDropped() }
            appendLine(#"{"type":"snapshot","node":"\#(node)","version":\#(s.version),"epoch":\#(s.epoch),"state":"\#(s.state.name)","prev_state":"\#(s.prevState.name)","reason":\#(Self.quoted(s.reason)),"snapshot_wall_ns":\#(s.wallNanos),"recv_wall_ns":\#(recvWall),"via":"\#(via)"}"#)
        }
        if pendingLines >= flushEvery || SystemClock.monotonicNanos() - lastFlushMono > 200_000_000 {
            flush()
        }
    }

    private func drop(epoch: UInt64, version: UInt64) {
        droppedLines += 1
        if let d = dropped, d.epoch == epoch {
            dropped = (epoch, min(d.first, version), max(d.last, version), d.lines + 1)
        } else {
            if dropped != nil { recordDropped() }
            dropped = (epoch, version, version, 1)
        }
    }

    /// The `"missed"` line for the versions dropped while the file took nothing.
    private func recordDropped() {
        guard let d = dropped else { return }
        dropped = nil
        appendLine(#"{"type":"missed","node":"\#(node)","epoch":\#(d.epoch),"from":\#(d.first),"to":\#(d.last),"lines":\#(d.lines),"reason":"log write failed"}"#)
    }

    private func appendLine(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(UInt8(ascii: "\n"))
        pendingLines += 1
    }

    /// Writes what is buffered with write(2), retrying short writes and EINTR.
    /// Bytes written leave the buffer at once, so a failure part-way never
    /// writes them twice; what is left is tried again at the next batch.
    /// - Returns: whether everything buffered is now in the file.
    @discardableResult
    func flush() -> Bool {
        lastFlushMono = SystemClock.monotonicNanos()
        guard !buffer.isEmpty else { return true }
        var offset = 0
        var failed = false
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { sink.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            if n < 0 {
                if errno == EINTR { continue }
                noteError(errno)
                failed = true
                break
            }
            if n == 0 { failed = true; break }
            offset += n
        }
        if offset > 0 {
            let lines = buffer[..<offset].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            linesWritten += UInt64(lines)
            pendingLines -= lines
            buffer.removeFirst(offset)
            flushes += 1
        }
        return !failed && buffer.isEmpty
    }

    private func noteError(_ code: Int32) {
        writeErrors += 1
        lastError = String(cString: strerror(code))
    }

    /// Flushes and fsyncs: after this returns true every line received is on
    /// disk. When the file still takes nothing, what is left is counted in
    /// ``droppedLines`` (a last partial line, if any, is cut off by the next
    /// reader to open the file).
    @discardableResult
    func close() -> Bool {
        if dropped != nil { recordDropped() }
        let complete = flush()
        if !complete {
            droppedLines += UInt64(pendingLines)
            pendingLines = 0
            buffer.removeAll()
        }
        if sink.sync() { fsyncs += 1 } else { noteError(errno) }
        return complete
    }

    static func quoted(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) { return "\"" + s + "\"" }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// Cuts a last line that has no newline (a predecessor killed mid-write)
    /// off the file open at `fd`.
    /// - Returns: how many bytes were cut, 0 when the file ended on a line.
    static func removeTornTail(fd: Int32) -> Int {
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return 0 }
        let window = min(Int(size), 1 << 20)
        var tail = [UInt8](repeating: 0, count: window)
        let start = Int(size) - window
        let n = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, window, off_t(start)) }
        guard n == window, tail.last != UInt8(ascii: "\n") else { return 0 }
        // Keep up to the last newline; a file with none in its last MiB is one torn line.
        let keep = tail.lastIndex(of: UInt8(ascii: "\n")).map { start + $0 + 1 } ?? start
        guard ftruncate(fd, off_t(keep)) == 0 else { return 0 }
        return Int(size) - keep
    }

    /// The epoch and version of the last snapshot line of an existing file.
    static func lastEntry(path: String) -> (epoch: UInt64, version: UInt64)? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()) ?? 0
        let start = size > 65_536 ? size - 65_536 : 0
        try? h.seek(toOffset: start)
        guard let data = try? h.readToEnd() else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n").reversed() {
            guard line.contains("\"type\":\"snapshot\""),
                  let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let e = (obj["epoch"] as? NSNumber)?.uint64Value, let v = (obj["version"] as? NSNumber)?.uint64Value
            else { continue }
            return (e, v)
        }
        return nil
    }
}
