import ClusterCore
import ClusterOrchestrator
import Foundation
import Testing

/// A batching writer against real readers: every version reaches the log,
/// each version of a batch is counted, and a lossy relay's dropped batches
/// are counted exactly by the readers behind it.
@Suite("batching", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct BatchingTests {
    @Test("a log reader's file holds every version; relay loss drops whole batches, counted version by version")
    func everyVersion() async throws {
        // 2 000/s with frames at most every 2 ms: about four versions a frame.
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-batch", "duration": "3s", "warmup": "500ms",
              "writer": { "rate": 2000, "batch": { "maxCount": 16, "maxDelay": "2ms" } },
              "readers": [
                { "role": "log" },
                { "role": "cli", "count": 2 },
                { "role": "relay", "name": "lossy", "relay": { "loss": 0.1 } },
                { "role": "cli", "name": "behind", "count": 2, "via": "lossy" }
              ],
              "slo": { "maxLossFastReaders": 0 } }
            """, tag: "batch", timeout: 90)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let run = try #require(dir)
        let rep = try RunReport.load(path: run + "/report.json")
        func node(_ n: String) throws -> NodeReport { try #require(rep.nodes.first { $0.name == n }) }

        let batching = try #require(rep.writer.batching, "no batching in report.json")
        #expect(batching.batchFrames > 0 && batching.batchedVersions > batching.batchFrames)
        #expect(batching.maxCount == 16 && batching.maxDelayUs == 2000)
        #expect(batching.sizes.reduce(0) { $0 + $1.frames } == batching.frames)
        // The delay batching added, in µs: most versions wait at most maxDelay; a descheduled writer (this
        // suite runs beside the others on two cores) can hold a frame longer, so only a wrong unit or clock
        // (a thousandfold) fails the maximum.
        #expect(batching.delay.count == batching.versions && batching.delay.p50Us <= 2_000 && batching.delay.maxUs < 1_000_000,
                "batching delay p50 \(batching.delay.p50Us) µs, max \(batching.delay.maxUs) µs")
        #expect(batching.versions == rep.writer.published)

        // The log: one line per version, none missing, none twice, up to the writer's last.
        let log = try node("log-1")
        #expect(log.lost == 0 && log[.batchedVersions] > 0)
        try Self.expectEveryVersion(logOf: run + "/nodes/log-1", upTo: rep.writer.finalVersion)

        for name in ["cli-1", "cli-2"] {
            let n = try node(name)
            #expect(n.lost == 0 && n[.skipped] == 0 && n[.batchFrames] > 0, "\(name): \(n.counters)")
            // Every batch frame is counted; its transport is timed while the reader measures
            // (not the frames of the drain after STOP, nor any before START).
            let timed = n.latencies[LatencyName.batchTransport]?.count ?? 0
            #expect(timed > 0 && timed <= n[.batchFrames], "\(name): \(timed) timed of \(n[.batchFrames]) batch frames")
        }
        let relay = try node("lossy")
        let droppedVersions = relay[.droppedVersions]
        #expect(relay[.dropped] > 0 && droppedVersions > relay[.dropped], "relay dropped \(relay[.dropped]) frames, \(droppedVersions) versions")
        for name in ["behind-1", "behind-2"] {
            let lost = try node(name).lost
            #expect(lost == droppedVersions, "\(name) lost \(lost), the relay dropped \(droppedVersions) versions")
        }
        let summary = try String(contentsOfFile: run + "/summary.txt", encoding: .utf8)
        #expect(summary.contains("batching (promise every-version, up to 16 a frame") && summary.contains("frames by versions carried"))
        #expect(Harness.processes(tagged: "batch").isEmpty)
    }

    /// The log's snapshot lines: one per version, none missing, none twice, up to `last`.
    static func expectEveryVersion(logOf directory: String, upTo last: UInt64) throws {
        let lines = try String(contentsOfFile: directory + "/snapshots.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "snapshot" }
        let versions = lines.compactMap { ($0["version"] as? NSNumber)?.uint64Value }
        let first = try #require(versions.first)
        #expect(versions == Array(first...last), "the log's versions \(first)...\(versions.last ?? 0) have holes or repeats")
    }

    /// Readers that read ZMTP themselves (`subscriber: direct`) in every reader role, straight from the
    /// writer and through a relay, one of them joining late and resyncing, and a libzmq reader beside
    /// them: all of them get every version, from libzmq's PUB and from the writer's own publisher.
    @Test("direct subscribers: every version to cli, log and query readers, through a relay and after a late join",
          arguments: [PublisherKind.libzmq, .direct])
    func directSubscribers(publisher: PublisherKind) async throws {
        let tag = "direct-\(publisher.rawValue)"
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-\(tag)", "duration": "3s", "warmup": "500ms",
              "writer": { "rate": 2000, "batch": { "maxCount": 16, "maxDelay": "1ms" }, "publisher": "\(publisher.rawValue)" },
              "readers": [
                { "role": "cli", "count": 2, "subscriber": "direct" },
                { "role": "cli", "name": "plain" },
                { "role": "log", "subscriber": "direct" },
                { "role": "query", "subscriber": "direct" },
                { "role": "relay", "name": "hub" },
                { "role": "cli", "name": "behind", "via": "hub", "subscriber": "direct" },
                { "role": "cli", "name": "late", "policy": "resync", "startAt": "1s", "subscriber": "direct" }
              ],
              "slo": { "maxLossFastReaders": 0 } }
            """, tag: tag, timeout: 90)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let run = try #require(dir)
        let rep = try RunReport.load(path: run + "/report.json")
        func node(_ n: String) throws -> NodeReport { try #require(rep.nodes.first { $0.name == n }) }
        for name in ["cli-1", "cli-2", "plain", "log-1", "query-1", "behind"] {
            let n = try node(name)
            #expect(n.lost == 0 && n[.skipped] == 0 && n[.received] > 1_000 && n[.batchFrames] > 0, "\(name): \(n.counters)")
        }
        let late = try node("late")
        #expect(late.lost == 0 && late[.received] > 0, "late: \(late.counters)")
        try Self.expectEveryVersion(logOf: run + "/nodes/log-1", upTo: rep.writer.finalVersion)
        let writer = try node("writer")
        if publisher == .direct {
            #expect(writer.counters["subscriber_queue_drops"] == 0 && writer.counters["handshakes_refused"] == 0, "\(writer.counters)")
        } else {
            #expect(writer.counters["subscriber_queue_drops"] == nil)
        }
        #expect(Harness.processes(tagged: tag).isEmpty)
    }
}
