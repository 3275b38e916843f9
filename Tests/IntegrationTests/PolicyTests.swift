import ClusterCore
import ClusterOrchestrator
import Foundation
import Testing

/// One slow reader per policy beside fast ones, against the real writer.
@Suite("slow-subscriber policies", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct PolicyTests {
    @Test("each policy does what it says with a slow reader; the fast readers lose nothing")
    func policies() async throws {
        // 1 000/s against readers that need 2 ms per message: they fall behind by 500/s.
        // Small kernel buffers on both ends (sndbuf, rcvbuf) let the backlog reach
        // the high-water marks in about a second and a half, so the writer drops and
        // gaps appear; a fast reader has a second of buffer (sndhwm 1000) for stalls.
        // 8 s: beside the other suites on two cores a 5 s run once ended with the resync
        // reader's gaps counted and no resync done yet.
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-policies", "duration": "8s", "writer": { "rate": 1000, "sndhwm": 1000, "sndbuf": 4096 },
              "readers": [
                { "role": "cli", "count": 2 },
                { "role": "cli", "name": "drop", "policy": "drop", "processingDelay": "2ms", "rcvhwm": 50, "rcvbuf": 4096 },
                { "role": "cli", "name": "conflate", "policy": "conflate", "processingDelay": "2ms" },
                { "role": "cli", "name": "resync", "policy": "resync", "processingDelay": "2ms", "rcvhwm": 50, "rcvbuf": 4096 },
                { "role": "cli", "name": "snail", "policy": "snail", "processingDelay": "2ms", "lagLimit": "100ms" },
                { "role": "cli", "name": "resync-direct", "policy": "resync", "subscriber": "direct", "processingDelay": "2ms", "rcvbuf": 4096 },
                { "role": "cli", "name": "snail-direct", "policy": "snail", "subscriber": "direct", "processingDelay": "2ms", "lagLimit": "100ms" }
              ] }
            """, tag: "policies", timeout: 120)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try RunReport.load(path: try #require(dir) + "/report.json")
        func node(_ n: String) throws -> NodeReport { try #require(rep.nodes.first { $0.name == n }) }
        for fast in ["cli-1", "cli-2"] {
            let n = try node(fast)
            #expect(n.fast && n.lost == 0, "\(fast) lost \(n.lost)")
        }
        let drop = try node("drop")
        #expect(drop.lost > 0, "drop: a reader this slow must lose messages")
        #expect((drop.counters["resyncs"] ?? 0) == 0)
        let conflate = try node("conflate")
        #expect((conflate.counters["skipped"] ?? 0) > 0, "conflate: skipped \(conflate.counters["skipped"] ?? 0)")
        #expect(conflate.lost == 0, "conflate: skips are not losses")
        // Conflation keeps the newest snapshot: the slow reader stays near the writer.
        #expect(conflate.latency.p50Us < 50_000, "conflate p50 \(conflate.latency.p50Us) µs")
        // The same policies with readers that read ZMTP themselves (no SUB queue: the
        // backlog is the writer's queue and the kernel's buffers).
        for name in ["resync", "resync-direct"] {
            let resync = try node(name)
            #expect((resync.counters["gaps"] ?? 0) > 0, "\(name)")
            #expect((resync.counters["resyncs"] ?? 0) > 0, "\(name): no resync after \(resync.counters["gaps"] ?? 0) gaps; converge \(resync.converge)")
        }
        for name in ["snail", "snail-direct"] {
            let snail = try node(name)
            #expect((snail.counters["snail_disconnects"] ?? 0) > 0, "\(name): never disconnected")
            #expect((snail.counters["skipped"] ?? 0) > 0, "\(name)")
        }
        #expect(Harness.processes(tagged: "policies").isEmpty, "processes left behind")
    }

    @Test("a coalescing writer behind schedule sends only the newest snapshot; every reader counts the folded versions as skipped, exactly")
    func writerCoalesces() async throws {
        // Pausing the writer for 300 ms puts it 300 snapshots behind: on resume they
        // are all due at once, made, and only the newest is sent.
        let (r, dir) = try await Harness.runTopology("""
            { "name": "it-coalesce", "duration": "3s", "writer": { "rate": 1000, "coalesce": true },
              "readers": [ { "role": "cli", "count": 2 }, { "role": "log" } ],
              "faults": [ { "at": "1s", "action": "pause", "target": "writer", "for": "300ms" } ] }
            """, tag: "coalesce", timeout: 90)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        let rep = try RunReport.load(path: try #require(dir) + "/report.json")
        let writer = try #require(rep.nodes.first { $0.name == "writer" })
        let folded = try #require(writer.counters["coalesced"])
        #expect(folded >= 200, "writer coalesced \(folded) versions after a 300 ms pause at 1000/s")
        for name in ["cli-1", "cli-2", "log-1"] {
            let n = try #require(rep.nodes.first { $0.name == name })
            #expect(n.counters["coalesced"] == folded, "\(name) counted \(n.counters["coalesced"] ?? 0) coalesced, the writer \(folded)")
            #expect(n.lost == 0, "\(name) lost \(n.lost)")
            #expect((n.counters["skipped"] ?? 0) >= folded)
        }
        #expect(Harness.processes(tagged: "coalesce").isEmpty)
    }
}
