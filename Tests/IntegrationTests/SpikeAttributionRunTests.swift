import ClusterCore
import ClusterOrchestrator
import Foundation
import Testing

/// Latency spikes in real runs, and what the report puts them down to
/// (report.json's `spikes`, docs/architecture.md "Latency spikes").
@Suite("latency spikes attributed", .serialized)
struct SpikeAttributionRunTests {
    func run(_ json: String, tag: String) async throws -> RunReport {
        try #require(Harness.binariesExist, "build first: swift build")
        let (r, dir) = try await Harness.runTopology(json, tag: tag)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(1500))")
        return try RunReport.load(path: try #require(dir, "no run directory") + "/report.json")
    }

    /// The spike that covers `second`, if any.
    func spike(at second: ClosedRange<Int>, in r: RunReport) -> LatencySpike? {
        r.spikes?.first { $0.toSeconds >= second.lowerBound && $0.fromSeconds <= second.upperBound }
    }

    @Test("a cpu hog on a pinned reader's CPU: its neighbour's spike is put down to run-queue wait, and to the fault")
    func cpuHog() async throws {
        // Readers pinned in turn: cli-1 and cli-3 share the first CPU. Eight threads
        // spin there for 3 s; cli-1 is the fault's target, so cli-3 is the fast reader that suffers.
        let r = try await run("""
            { "name": "spike-hog", "duration": "12s", "warmup": "1s", "writer": { "rate": 1000 }, "cpuPinning": "spread",
              "readers": [ { "role": "cli", "count": 4 } ],
              "faults": [ { "at": "4s", "action": "cpu-hog", "target": "cli-1", "for": "3s", "threads": 8 } ] }
            """, tag: "spike-hog")
        let fault = try #require(r.faults.first { $0.action == .fault(.cpuHog) })
        #expect(fault.outcome == .applied && fault.detail.contains("8 threads"), "\(fault)")
        let s = try #require(spike(at: 4...8, in: r), "no spike during the hog: \(r.spikes ?? [])")
        #expect(s.causes.contains { $0.hasPrefix("cpu-hog cli-1 at") }, "\(s.causes)")
        #expect(s.causes.contains { $0.contains("on the run queue") }, "\(s.causes)")
        #expect((s.runQueueMs ?? 0) >= 10, "run-queue wait \(s.runQueueMs ?? -1) ms a second")
    }

    @Test("a paused relay: the spike of the readers behind it is put down to the pause")
    func pausedRelay() async throws {
        let r = try await run("""
            { "name": "spike-pause", "duration": "12s", "warmup": "1s", "writer": { "rate": 1000 },
              "readers": [ { "role": "relay", "name": "hub" }, { "role": "cli", "count": 3, "via": "hub" },
                           { "role": "cli", "name": "direct", "count": 2 } ],
              "faults": [ { "at": "4s", "action": "pause", "target": "hub", "for": "1s" } ] }
            """, tag: "spike-pause")
        let s = try #require(spike(at: 4...6, in: r), "no spike around the pause: \(r.spikes ?? [])")
        #expect(s.causes.contains { $0.hasPrefix("pause hub at") }, "\(s.causes)")
        // Frames held for the second of the pause: the worst of them waited about that long.
        #expect(s.p99Us >= 500_000, "p99 \(s.p99Us) µs")
        #expect(s.readers >= 3, "\(s.readers) readers spiked")
    }

    @Test("a quiet run: no spike that a fault or nothing measured explains")
    func quiet() async throws {
        let r = try await run("""
            { "name": "spike-quiet", "duration": "8s", "warmup": "1s", "writer": { "rate": 200 },
              "readers": [ { "role": "cli", "count": 2 } ] }
            """, tag: "spike-quiet")
        #expect(r.spikes != nil, "the report has no spikes field")
        // On a quiet host there is no row. A row can only come from the host itself
        // (other work on it): then it must name what was measured there.
        for s in r.spikes ?? [] {
            #expect(s.causes.allSatisfy { $0.contains("host") || $0.contains("run queue") }, "\(s)")
        }
    }
}
