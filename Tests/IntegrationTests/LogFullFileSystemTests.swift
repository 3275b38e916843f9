import ClusterCore
import ClusterTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A log reader whose file system fills up and frees again, on a small tmpfs
/// this test mounts (root only).
@Suite("log role on a full file system", .serialized)
struct LogFullFileSystemTests {
    static var isRoot: Bool { geteuid() == 0 }

    @Test("write errors are counted; once space returns every version is in the file once, on whole lines",
          .enabled(if: isRoot, "mounting a tmpfs needs root"))
    func fullThenFree() async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let mnt = Harness.tempDirectory("log-tmpfs")
        let mount = try await Harness.run("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], timeout: 10)
        try #require(mount.status == 0, "mount: \(mount.stderr)")
        defer { _ = umount2(mnt, Int32(MNT_DETACH)) }
        // A filler leaves about 40 KB for the log (~180 lines).
        let filler = mnt + "/filler"
        try Data(count: 212 * 1024).write(to: URL(fileURLWithPath: filler))
        let p = try ForgedInputTests.Publisher()
        let metrics = Harness.tempDirectory("log-tmpfs-metrics")
        let (proc, out, err) = try Harness.start(Harness.clusterNode, [
            "reader", "--name", "log-full", "--role", "log", "--pub", p.endpoint, "--snapshots", p.serviceEndpoint,
            "--log-file", mnt + "/snapshots.jsonl", "--log-flush-every", "16", "--duration", "6s", "--metrics-dir", metrics,
        ])
        let epoch: UInt64 = 5
        let sent = try await offPool { () -> Bool in
            guard try p.awaitSubscriber() else { return false }
            try p.heartbeat(epoch: epoch, version: 0)
            for v in UInt64(1)...600 {
                try p.publish(epoch: epoch, version: v)
                usleep(1_000)
            }
            unlink(filler)   // space returns
            for v in UInt64(601)...800 {
                try p.publish(epoch: epoch, version: v)
                usleep(1_000)
            }
            try p.end(epoch: epoch, version: 800)
            return true
        }
        #expect(sent, "the reader never subscribed")
        let r = await offPoolWait(proc, out, err, timeout: 30)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        let m = try NodeMetrics.decode(json: try String(contentsOfFile: metrics + "/metrics.json", encoding: .utf8))
        #expect(m[.logWriteErrors] > 0, "the file system never filled: \(m.counters)")
        let text = try String(contentsOfFile: mnt + "/snapshots.jsonl", encoding: .utf8)
        #expect(text.hasSuffix("\n"), "the file ends inside a line")
        let lines = text.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.allSatisfy { $0 != nil }, "a line is not JSON")
        let versions = lines.compactMap { $0 }.filter { $0["type"] as? String == "snapshot" }
            .compactMap { ($0["version"] as? NSNumber)?.uint64Value }
        #expect(Set(versions).count == versions.count, "a version was written twice")
        #expect(m[.logLines] == UInt64(lines.count), "log_lines \(m[.logLines]) against \(lines.count) lines in the file")
        // Nothing was dropped (8 MiB of buffer holds the backlog): every version the reader
        // took up is in the file, from its start snapshot on.
        let first = try #require(versions.min())
        #expect(m[.logLinesDropped] == 0 && Set(versions) == Set(first...800), "\(m.counters)")
    }
}
