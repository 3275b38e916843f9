import ClusterCore
import Foundation
import Testing

@testable import ClusterNode

/// The log role's file under write errors, with a sink that fails on cue.
@Suite("log writer")
struct LogWriterTests {
    /// Collects what a file would hold; fails with `failing` (an errno) when set,
    /// and takes at most `chunk` bytes per call (a short write).
    final class FlakySink: LogSink {
        var bytes: [UInt8] = []
        var failing: Int32?
        var chunk = Int.max
        var calls = 0

        func write(_ b: UnsafeRawBufferPointer) -> Int {
            calls += 1
            if let e = failing { errno = e; return -1 }
            let n = min(chunk, b.count)
            bytes.append(contentsOf: b.prefix(n))
            return n
        }

        func sync() -> Bool { failing == nil }
        var text: String { String(decoding: bytes, as: UTF8.self) }
        var lines: [[String: Any]] {
            text.split(separator: "\n").map { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) ?? ["bad": String($0)] }
        }
    }

    func summary(_ v: UInt64) -> SnapshotSummary {
        var s = SnapshotSummary()
        s.version = v
        s.epoch = 3
        s.state = .active
        s.reason = "r"
        return s
    }

    @Test("a full file system: nothing written twice, the buffer bounded, the dropped versions recorded as missed")
    func fullFileSystem() throws {
        let sink = FlakySink()
        let log = LogWriter(path: "test.jsonl", node: "log-1", flushEvery: 8, maxBufferedBytes: 4_096, sink: sink, previous: nil)
        for v in UInt64(1)...20 { log.record(summary(v), recvWall: 1, via: "update") }
        sink.failing = ENOSPC
        for v in UInt64(21)...400 { log.record(summary(v), recvWall: 1, via: "update") }
        #expect(log.writeErrors > 0 && log.lastError == String(cString: strerror(ENOSPC)))
        #expect(log.droppedLines > 0, "the bound never held")
        sink.failing = nil
        for v in UInt64(401)...410 { log.record(summary(v), recvWall: 1, via: "update") }
        #expect(log.close())
        let lines = sink.lines
        #expect(lines.allSatisfy { $0["bad"] == nil }, "a line is not JSON: \(sink.text.suffix(300))")
        let versions = lines.filter { $0["type"] as? String == "snapshot" }.compactMap { ($0["version"] as? NSNumber)?.uint64Value }
        #expect(Set(versions).count == versions.count, "a version was written twice")
        #expect(versions == versions.sorted())
        let missed = try #require(lines.first { $0["reason"] as? String == "log write failed" })
        let from = try #require((missed["from"] as? NSNumber)?.uint64Value), to = try #require((missed["to"] as? NSNumber)?.uint64Value)
        // Every version is in the file or in the missed range, and the counts agree.
        #expect(Set(1...410).subtracting(versions).allSatisfy { (from...to).contains($0) })
        #expect((missed["lines"] as? NSNumber)?.uint64Value == log.droppedLines)
        #expect(UInt64(versions.count) + log.droppedLines == 410)
        #expect(log.linesWritten == UInt64(lines.count))
    }

    @Test("short writes and a failure part-way through a line: the line is finished once, never repeated")
    func shortWrites() {
        let sink = FlakySink()
        sink.chunk = 37
        let log = LogWriter(path: "test.jsonl", node: "log-1", flushEvery: 4, maxBufferedBytes: 1 << 20, sink: sink, previous: nil)
        for v in UInt64(1)...10 { log.record(summary(v), recvWall: 1, via: "update") }
        sink.failing = EIO
        log.record(summary(11), recvWall: 1, via: "update")
        _ = log.flush()
        sink.failing = nil
        for v in UInt64(12)...20 { log.record(summary(v), recvWall: 1, via: "update") }
        #expect(log.close())
        let versions = sink.lines.compactMap { ($0["version"] as? NSNumber)?.uint64Value }
        #expect(versions == Array(1...20), "\(sink.text)")
        #expect(log.linesWritten == 20 && log.droppedLines == 0 && log.writeErrors == 1)
    }

    @Test("lines still unwritten at close are counted as dropped")
    func unwrittenAtClose() {
        let sink = FlakySink()
        let log = LogWriter(path: "test.jsonl", node: "log-1", flushEvery: 1_000, maxBufferedBytes: 1 << 20, sink: sink, previous: nil)
        for v in UInt64(1)...5 { log.record(summary(v), recvWall: 1, via: "update") }
        sink.failing = ENOSPC
        #expect(!log.close())
        #expect(log.droppedLines == 5 && log.linesWritten == 0)
    }

    @Test("a torn last line left by a killed reader is cut off and recorded; the next line starts fresh")
    func tornTail() throws {
        let dir = NSTemporaryDirectory() + "logwriter-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/snapshots.jsonl"
        let whole = #"{"type":"snapshot","node":"log-1","version":7,"epoch":3,"state":"ACTIVE"}"#
        try Data((whole + "\n" + #"{"type":"snapshot","node":"log-1","version":8,"ep"#).utf8).write(to: URL(fileURLWithPath: path))
        let log = try LogWriter(path: path, node: "log-1", flushEvery: 1)
        #expect(log.previous?.version == 7)
        log.record(summary(9), recvWall: 1, via: "update")
        #expect(log.close())
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5 && lines.last == "", "\(lines)")
        #expect(lines[0] == whole[...])
        #expect(lines[1].contains(#""type":"torn-tail-removed""#) && lines[1].contains(#""bytes":49"#), "\(lines[1])")
        #expect(lines[2].contains(#""type":"missed""#) && lines[2].contains(#""from":8,"to":8"#), "\(lines[2])")
        #expect(lines[3].contains(#""version":9"#))
    }
}
