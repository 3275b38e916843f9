import ClusterTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The log and query roles against a real writer, as standalone processes
/// (no orchestrator), so each test controls the signals and the load itself.
@Suite("reader roles", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct ReaderRoleTests {
    /// A writer on ipc endpoints of its own, for `seconds`.
    func startWriter(_ dir: String, tag: String, rate: Int, seconds: Int) throws -> (Process, Pipe, Pipe) {
        try Harness.start(Harness.clusterNode, ["writer", "--name", "writer", "--pub", "ipc://\(dir)/pub", "--snapshots", "ipc://\(dir)/snap",
                                                "--rate", "\(rate)", "--duration", "\(seconds)s"],
                          environment: ["CLUSTERSIM_TEST_TAG": tag])
    }

    /// Kills a process the test did not stop itself (a failed expectation on the way), and waits for it.
    func reap(_ p: Process, _ out: Pipe, _ err: Pipe) {
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        _ = Harness.wait(p, out, err, timeout: 5)
    }

    func counters(_ metricsDir: String) throws -> [String: UInt64] {
        let data = try Data(contentsOf: URL(fileURLWithPath: metricsDir + "/metrics.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let c = try #require(json["counters"] as? [String: Any])
        return c.compactMapValues { ($0 as? NSNumber)?.uint64Value }
    }

    func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// Runs a log reader until SIGTERM after `seconds`; returns its exit and its counters.
    func logReaderUntilSIGTERM(_ dir: String, tag: String, file: String, metrics: String, seconds: Double) async throws -> (Harness.Result, [String: UInt64]) {
        let (p, o, e) = try Harness.start(Harness.clusterNode, [
            "reader", "--name", "log-t", "--role", "log", "--pub", "ipc://\(dir)/pub", "--snapshots", "ipc://\(dir)/snap",
            "--log-file", file, "--log-flush-every", "4096", "--metrics-dir", metrics,
        ], environment: ["CLUSTERSIM_TEST_TAG": tag])
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        kill(p.processIdentifier, SIGTERM)
        let r = try await offPool { Harness.wait(p, o, e, timeout: 10) }
        return (r, try counters(metrics))
    }

    @Test("log: after SIGTERM every snapshot received is in the file; a restart appends and records the range it missed")
    func logCompleteAfterSIGTERM() async throws {
        let tag = "role-log"
        let dir = Harness.tempDirectory(tag)
        // The test stops the writer itself; a long duration, so that a test held back on the busy
        // cooperative pool (once for 25 s beside the other suites) still finds it publishing.
        let (w, wo, we) = try startWriter(dir, tag: tag, rate: 500, seconds: 300)
        defer { reap(w, wo, we) }
        let file = dir + "/log.jsonl"

        // Batches of 4 096 lines: only the log's 200 ms timed flush writes
        // before the stop, so the last lines are still buffered when SIGTERM
        // comes (a stop that dropped its buffer fails the count below).
        let (r1, c1) = try await logReaderUntilSIGTERM(dir, tag: tag, file: file, metrics: dir + "/m1", seconds: 1.5)
        #expect(r1.status == 0, "first reader: exit \(r1.status): \(r1.stderr)")
        let first = try lines(file)
        let snapshots1 = first.filter { $0["type"] as? String == "snapshot" }
        let received1 = (c1["applied"] ?? 0) + (c1["snapshots_applied"] ?? 0)
        #expect(received1 > 300, "only \(received1) received in 1.5 s at 500/s")
        #expect(UInt64(snapshots1.count) == received1, "\(snapshots1.count) lines for \(received1) snapshots received")
        #expect(c1["log_lines"] == UInt64(first.count))
        let versions1 = snapshots1.compactMap { ($0["version"] as? NSNumber)?.uint64Value }
        #expect(versions1 == Array(versions1.first!...versions1.last!), "the file's versions have holes")
        #expect(c1["lost"] == 0)

        // The writer goes on while the reader is down.
        try await Task.sleep(for: .milliseconds(500))
        let (r2, c2) = try await logReaderUntilSIGTERM(dir, tag: tag, file: file, metrics: dir + "/m2", seconds: 1.0)
        #expect(r2.status == 0, "second reader: exit \(r2.status): \(r2.stderr)")
        let all = try lines(file)
        #expect(all.count == first.count + Int(c2["log_lines"] ?? 0), "appended \(all.count - first.count) lines, the reader logged \(c2["log_lines"] ?? 0)")
        // Appended, never truncated: the first run's lines are still the file's start.
        let before = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").prefix(first.count)
        #expect(try before.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["version"] as? NSNumber }
                == first.map { $0["version"] as? NSNumber })
        let missed = try #require(all[first.count...].first { $0["type"] as? String == "missed" }, "no missed line after the restart")
        let resumed = try #require(all[first.count...].first { $0["type"] as? String == "snapshot" })
        let resumedAt = try #require((resumed["version"] as? NSNumber)?.uint64Value)
        #expect((missed["from"] as? NSNumber)?.uint64Value == versions1.last! + 1)
        #expect((missed["to"] as? NSNumber)?.uint64Value == resumedAt - 1)
        #expect(resumedAt - versions1.last! > 100, "the reader was down 0.5 s at 500/s, yet resumed at \(resumedAt) after \(versions1.last!)")
        kill(w.processIdentifier, SIGTERM)
        _ = Harness.wait(w, wo, we, timeout: 10)
        #expect(Harness.processes(tagged: tag).isEmpty, "processes left behind")
    }

    @Test("query: load above the worker pool gets BUSY at once; the pool serves no more than it can, with no queue")
    func queryBusy() async throws {
        let tag = "role-query"
        let dir = Harness.tempDirectory(tag)
        let (w, wo, we) = try startWriter(dir, tag: tag, rate: 200, seconds: 30)
        defer { reap(w, wo, we) }
        // One worker that takes 20 ms a request: at most 50 requests a second.
        let (q, qo, qe) = try Harness.start(Harness.clusterNode, [
            "reader", "--name", "query-t", "--role", "query", "--pub", "ipc://\(dir)/pub", "--snapshots", "ipc://\(dir)/snap",
            "--service", "ipc://\(dir)/q", "--workers", "1", "--service-delay", "20ms", "--metrics-dir", dir + "/mq",
        ], environment: ["CLUSTERSIM_TEST_TAG": tag])
        defer { reap(q, qo, qe) }
        try await Task.sleep(for: .milliseconds(500))
        // 8 clients asking 400 a second for 2 s: eight times what the pool can serve.
        let load = try await Harness.run(Harness.clusterNode, [
            "query-load", "--target", "ipc://\(dir)/q", "--clients", "8", "--rate", "400", "--duration", "2s",
            "--mix", "latest:1", "--timeout", "1s", "--metrics-dir", dir + "/ml",
        ], timeout: 30, environment: ["CLUSTERSIM_TEST_TAG": tag])
        #expect(load.status == 0, "query-load: exit \(load.status): \(load.stderr)")
        kill(q.processIdentifier, SIGTERM)
        let qr = try await offPool { Harness.wait(q, qo, qe, timeout: 10) }
        #expect(qr.status == 0, "query reader: exit \(qr.status): \(qr.stderr)")
        let lc = try counters(dir + "/ml"), qc = try counters(dir + "/mq")
        let ok = lc["ok"] ?? 0, busy = lc["busy"] ?? 0
        #expect(ok > 20, "only \(ok) answered in 2 s by a 20 ms worker")
        #expect(busy > ok, "busy \(busy), ok \(ok): eight times the pool's rate must be mostly refused")
        // No queue: the one worker served at most what 20 ms a request allows
        // over the reader's whole life (2.5 s, plus slack for the clock), and
        // nothing timed out waiting in one.
        #expect((qc["query_served"] ?? 0) <= 3_000 / 20, "served \(qc["query_served"] ?? 0)")
        #expect((qc["query_busy"] ?? 0) >= busy, "the reader counted \(qc["query_busy"] ?? 0) BUSY, the load \(busy)")
        #expect((lc["timeouts"] ?? 0) == 0, "\(lc["timeouts"] ?? 0) requests timed out: a refused request must be answered at once")
        kill(w.processIdentifier, SIGTERM)
        _ = Harness.wait(w, wo, we, timeout: 10)
        #expect(Harness.processes(tagged: tag).isEmpty, "processes left behind")
    }
}
