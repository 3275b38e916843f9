import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The log role's JSON Lines file: one line per snapshot received, written
/// in batches, flushed and fsync'd on stop.
///
/// The file is opened `O_APPEND` and never truncated: a restarted log reader
/// appends, and its first line records the range of versions it missed
/// while it was down (`"type":"missed"`).
final class LogWriter {
    let path: String
    let node: String
    let flushEvery: Int
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var pendingLines = 0
    private var lastFlushMono = SystemClock.monotonicNanos()
    private(set) var linesWritten: UInt64 = 0
    private(set) var flushes: UInt64 = 0
    private(set) var fsyncs: UInt64 = 0
    /// Epoch and version of the last snapshot line already in the file when it was opened.
    let previous: (epoch: UInt64, version: UInt64)?
    private var checkedPrevious = false

    struct OpenError: Error, CustomStringConvertible {
        let path: String
        let errno: Int32
        var description: String { "cannot open log file \(path): \(String(cString: strerror(errno)))" }
    }

    init(path: String, node: String, flushEvery: Int) throws {
        self.path = path
        self.node = node
        self.flushEvery = max(1, flushEvery)
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        previous = Self.lastEntry(path: path)
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OpenError(path: path, errno: errno) }
        buffer.reserveCapacity(64 * 1024)
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

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
        appendLine(#"{"type":"snapshot","node":"\#(node)","version":\#(s.version),"epoch":\#(s.epoch),"state":"\#(s.state.name)","prev_state":"\#(s.prevState.name)","reason":\#(Self.quoted(s.reason)),"snapshot_wall_ns":\#(s.wallNanos),"recv_wall_ns":\#(recvWall),"via":"\#(via)"}"#)
        if pendingLines >= flushEvery || SystemClock.monotonicNanos() - lastFlushMono > 200_000_000 {
            try? flush()
        }
    }

    private func appendLine(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(UInt8(ascii: "\n"))
        pendingLines += 1
    }

    /// Writes the batch with write(2), retrying short writes and EINTR.
    func flush() throws {
        guard !buffer.isEmpty else { return }
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw OpenError(path: path, errno: errno)
            }
            offset += n
        }
        linesWritten += UInt64(pendingLines)
        flushes += 1
        pendingLines = 0
        buffer.removeAll(keepingCapacity: true)
        lastFlushMono = SystemClock.monotonicNanos()
    }

    /// Flushes and fsyncs: after this returns every line received is on disk.
    func close() throws {
        try flush()
        if fsync(fd) == 0 { fsyncs += 1 }
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

/// The cli role's view: redrawn in place on a terminal, plain lines otherwise.
final class CLIView {
    let node: String
    let isTTY = isatty(STDOUT_FILENO) == 1

    init(node: String) { self.node = node }

    /// Nanoseconds as milliseconds with three decimals (to the nearest
    /// microsecond, halves up), without Foundation's formatter.
    static func millis(nanos: UInt64) -> String {
        let micros = nanos / 1000 + (nanos % 1000 >= 500 ? 1 : 0)
        let frac = micros % 1000
        return "\(micros / 1000)." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + "\(frac)"
    }

    func render(state: String, version: UInt64, epoch: UInt64, lagNanos: UInt64, lost: UInt64, received: UInt64) {
        let line = "\(node)  state=\(state) version=\(version) epoch=\(epoch) lag=\(Self.millis(nanos: lagNanos))ms received=\(received) lost=\(lost)"
        if isTTY {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
        } else {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
