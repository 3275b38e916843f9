import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing

/// An outside subscriber attaching to an orchestrated run through the
/// endpoints the run records: the independent Python subscriber of
/// scripts/, which knows the protocol from docs/protocol.md alone.
@Suite("attaching to a run", .serialized)
struct AttachTests {
    static var pythonHasZMQ: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import zmq"]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// What Python adds between a frame's arrival and its timestamp, allowed on top of the 50 %.
    static let pythonReceiveCostUs = 150.0

    /// Runs `topology` and py-subscriber attached to it; returns the run's and the
    /// subscriber's results, the run directory and the subscriber's JSON summary.
    func attach(_ topology: String, tag: String) async throws -> (run: Harness.Result, py: Harness.Result, dir: String, stats: [String: Any]) {
        try #require(Harness.binariesExist, "build first: swift build")
        let stats = Harness.tempDirectory(tag + "-py") + "/py.json"
        // One thread starts the run, finds its directory and starts the subscriber: a
        // task could wait for the cooperative pool until the run is over.
        let (r, py, dir) = try await offPool { () throws -> (Harness.Result, Harness.Result, String) in
            let run = try Harness.startTopology(topology, tag: tag)
            let deadline = Date().addingTimeInterval(30)
            var runDir: String?
            while runDir == nil, Date() < deadline {
                usleep(20_000)
                runDir = (try? FileManager.default.contentsOfDirectory(atPath: run.runs))?.first.map { run.runs + "/" + $0 }
            }
            // The orchestrator is --quiet: its pipes are read when it is waited for.
            guard let dir = runDir else {
                return (Harness.wait(run.process, run.out, run.err, timeout: 60),
                        Harness.Result(status: -1, stdout: "", stderr: "no run directory", pid: 0), "")
            }
            let (p, o, e) = try Harness.start("/usr/bin/env", ["python3", Harness.root + "/scripts/py-subscriber.py", "--run", dir,
                                                               "--seconds", "60", "--json", stats])
            let py = Harness.wait(p, o, e, timeout: 90)
            return (Harness.wait(run.process, run.out, run.err, timeout: 60), py, dir)
        }
        #expect(r.status == 0, "run: exit \(r.status) \(r.stderr.suffix(1000))")
        #expect(py.status == 0, "py-subscriber: exit \(py.status) \(py.stderr.suffix(1000)) \(py.stdout.suffix(1000))")
        try #require(!dir.isEmpty, "no run directory")
        let got = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stats))) as? [String: Any])
        return (r, py, dir, got)
    }

    @Test("py-subscriber attaches with endpoints.json; its loss equals the report's, its p50 lies among the readers'",
          .enabled(if: pythonHasZMQ, "pyzmq is not installed (scripts/setup.sh installs it)"))
    func pySubscriberAgrees() async throws {
        let (_, _, dir, got) = try await attach("""
            { "name": "attach", "duration": "5s", "warmup": "3s", "writer": { "rate": 500 },
              "readers": [ { "role": "cli", "count": 3 } ] }
            """, tag: "attach")
        let endpoints = try JSONDecoder().decode(RunEndpoints.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/endpoints.json")))
        let rep = try RunReport.load(path: dir + "/report.json")
        #expect(rep.endpoints == endpoints && endpoints.writer.pub.hasPrefix("tcp://127.0.0.1:"))
        let lost = (got["lost"] as? NSNumber)?.uint64Value, bad = (got["bad"] as? NSNumber)?.intValue
        #expect(lost == rep.totals.lostFastReaders && bad == 0, "py lost \(String(describing: lost)), report \(rep.totals.lostFastReaders)")
        #expect((got["highest"] as? NSNumber)?.uint64Value == rep.writer.finalVersion, "py held \(got["highest"] ?? "-")")
        // Its p50 lies near the readers': from half the fastest to half as much again as the
        // slowest, plus Python's own receive cost (from the wake-up to the timestamp it runs
        // the interpreter: the GIL, a bytes object, the call; 40–130 µs more than a reader's
        // path on the development machine). What this catches is a subscriber that reads the
        // protocol's stamps wrongly (another clock, another unit: off by milliseconds or a
        // factor of a thousand); where the scheduler puts four processes on two cores moves
        // each p50 by tens of percent (Python's came out 30 % below the readers' once).
        let p50 = try #require((got["p50_us"] as? NSNumber)?.doubleValue)
        let readers = rep.nodes.filter { $0.role.isReader }.map(\.latency.p50Us)
        let (lo, hi) = (readers.min() ?? 0, readers.max() ?? 0)
        #expect(p50 >= lo * 0.5 && p50 <= hi * 1.5 + Self.pythonReceiveCostUs, "py p50 \(p50) µs, readers \(readers)")
    }

    @Test("py-subscriber decodes a batching writer's SNB1 frames: every version counted, its loss equals the report's",
          .enabled(if: pythonHasZMQ, "pyzmq is not installed (scripts/setup.sh installs it)"),
          arguments: [PublisherKind.libzmq, .direct])
    func pySubscriberDecodesBatches(publisher: PublisherKind) async throws {
        let (_, _, dir, got) = try await attach("""
            { "name": "attach-batch", "duration": "4s", "warmup": "3s",
              "writer": { "rate": 2000, "batch": { "maxCount": 32, "maxDelay": "2ms" }, "publisher": "\(publisher.rawValue)" },
              "readers": [ { "role": "cli", "count": 2 } ] }
            """, tag: "attach-batch-\(publisher.rawValue)")
        let rep = try RunReport.load(path: dir + "/report.json")
        let batches = (got["batches"] as? NSNumber)?.intValue ?? 0, bad = (got["bad"] as? NSNumber)?.intValue
        #expect(batches > 100 && bad == 0, "py decoded \(batches) batch frames, \(bad ?? -1) bad")
        #expect((got["mismatched"] as? NSNumber)?.intValue == 0)
        let lost = (got["lost"] as? NSNumber)?.uint64Value
        #expect(lost == rep.totals.lostFastReaders, "py lost \(String(describing: lost)), report \(rep.totals.lostFastReaders)")
        #expect((got["highest"] as? NSNumber)?.uint64Value == rep.writer.finalVersion, "py held \(got["highest"] ?? "-")")
        // Every version after the first it held (the snapshot service's answer) up to the last, batched or not.
        let first = try #require((got["first_version"] as? NSNumber)?.uint64Value)
        let snapshots = (got["snapshots"] as? NSNumber)?.uint64Value ?? 0
        #expect(snapshots + (lost ?? 0) >= rep.writer.finalVersion - first, "py took \(snapshots) versions after \(first)")
    }
}
