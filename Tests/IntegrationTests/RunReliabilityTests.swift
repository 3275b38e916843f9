import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// How the orchestrator copes with its own mistakes' neighbours: runs side by
/// side, nodes that die at once, crashes, file-descriptor limits.
@Suite("run reliability", .serialized)
struct RunReliabilityTests {
    static func tiny(_ name: String, seconds: Int = 1, extra: String = "") -> String {
        """
        { "name": "\(name)", "duration": "\(seconds)s", "readyTimeout": "20s", "writer": { "rate": 100 },
          "readers": [ { "role": "cli", "count": 2 } ]\(extra) }
        """
    }

    @Test("two runs started together into one directory keep their own run directories, events and seeds")
    func sameSecond() async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let dir = Harness.tempDirectory("same-second")
        let file = dir + "/t.json"
        try Self.tiny("same-second").write(toFile: file, atomically: true, encoding: .utf8)
        let args = ["run", file, "--out", dir + "/runs", "--node-binary", Harness.clusterNode]
        let a = try Harness.start(Harness.orchestrator, args + ["--seed", "1"], environment: ["CLUSTERSIM_TEST_TAG": "same-second"])
        let b = try Harness.start(Harness.orchestrator, args + ["--seed", "99"], environment: ["CLUSTERSIM_TEST_TAG": "same-second"])
        let ra = await offPoolWait(a.0, a.1, a.2, timeout: 60), rb = await offPoolWait(b.0, b.1, b.2, timeout: 60)
        #expect(ra.status == 0 && rb.status == 0, "\(ra.stderr)\n\(rb.stderr)")
        #expect(ra.stdout.contains("seed 1 ") && rb.stdout.contains("seed 99 "), "\(ra.stdout.prefix(400))\n\(rb.stdout.prefix(400))")
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs")
        #expect(runs.count == 2, "\(runs)")
        for run in runs {
            let events = try String(contentsOfFile: dir + "/runs/\(run)/events.jsonl", encoding: .utf8)
            #expect(events.components(separatedBy: "\"run-started\"").count == 2, "\(run): one run-started per events.jsonl")
            let log = try String(contentsOfFile: dir + "/runs/\(run)/nodes/writer/node.log", encoding: .utf8)
            #expect(log.components(separatedBy: "writer bound").count == 2, "\(run): one writer per node.log")
        }
        #expect(Harness.processes(tagged: "same-second").isEmpty)
    }

    @Test("a node that dies before READY ends the launch at once, naming it, its exit and its log's last lines")
    func diesAtStart() async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let dir = Harness.tempDirectory("dies-at-start")
        let fake = dir + "/fake-node"
        try "#!/bin/sh\necho \"fake-node: cannot start: the reason is here\" >&2\nexit 64\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let file = dir + "/t.json"
        try Self.tiny("dies-at-start").write(toFile: file, atomically: true, encoding: .utf8)
        let started = Date()
        let r = try await Harness.run(Harness.orchestrator, ["run", file, "--out", dir + "/runs", "--quiet", "--node-binary", fake],
                                      timeout: 60)
        let took = Date().timeIntervalSince(started)
        #expect(r.status == 2, "exit \(r.status)")
        #expect(took < 15, "took \(took) s: the 20 s readiness timeout was waited out")
        #expect(r.stderr.contains("ended before it was ready (exit 64)"), "\(r.stderr)")
        #expect(r.stderr.contains("fake-node: cannot start: the reason is here"), "\(r.stderr)")
    }

    @Test("a node that crashes during the run fails it: never a PASS")
    func crashFailsTheRun() async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let run = try Harness.startTopology(Self.tiny("crash-fails", seconds: 4), tag: "crash-fails")
        #expect(try await Harness.waitForEvent("measure-started", in: run.runs, timeout: 30))
        // SIGKILL from outside the orchestrator: an unexpected end, unlike a kill fault.
        let dirs = try FileManager.default.contentsOfDirectory(atPath: run.runs)
        let events = try String(contentsOfFile: run.runs + "/\(dirs[0])/events.jsonl", encoding: .utf8)
        let launched = try #require(events.split(separator: "\n").first { $0.contains("\"launched\"") && $0.contains("\"cli-1\"") })
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(launched.utf8)) as? [String: Any])
        let pid = try #require(Int32(obj["pid"] as? String ?? ""))
        #expect(kill(pid, SIGKILL) == 0)
        let r = await offPoolWait(run.process, run.out, run.err, timeout: 60)
        #expect(r.status == 1, "exit \(r.status): \(r.stdout.suffix(1500))")
        let rep = try RunReport.load(path: run.runs + "/\(dirs[0])/report.json")
        #expect(!rep.sloPassed && rep.totals.crashes == 1)
        #expect(rep.slo.contains { $0.name == "crashed nodes" && !$0.pass && $0.detail == "cli-1" }, "\(rep.slo)")
    }

    @Test("every command-line error exits 2, with a message saying what was wrong", arguments: [
        (["run"], "Missing expected argument"),
        (["run", "t.json", "--duration", "-1s"], "--duration -1s: expected a positive duration"),
        (["run", "t.json", "--bogus"], "Unknown option '--bogus'"),
        (["validate"], "Missing expected argument"),
        (["report"], "Missing expected argument"),
        (["nonsense"], "Unexpected argument 'nonsense'"),
        (["validate", "/dev/null"], "is a character device"),
    ])
    func commandLineErrors(_ args: [String], _ message: String) async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let r = try await Harness.run(Harness.orchestrator, args, timeout: 30)
        #expect(r.status == 2, "\(args): exit \(r.status)")
        #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
    }

    @Test("cluster-node's command-line errors exit 2 as well")
    func nodeCommandLineErrors() async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        for args in [["writer"], ["reader", "--pub", "tcp://127.0.0.1:1", "--snapshots", "tcp://127.0.0.1:2"], ["nonsense"]] {
            let r = try await Harness.run(Harness.clusterNode, args, timeout: 30)
            #expect(r.status == 2, "\(args): exit \(r.status) \(r.stderr)")
        }
    }

    /// Runs the orchestrator under `ulimit` settings (a shell sets them, then execs it).
    static func runLimited(_ limits: String, _ args: [String]) async throws -> Harness.Result {
        let quoted = args.map { "'\($0)'" }.joined(separator: " ")
        return try await Harness.run("/bin/sh", ["-c", "\(limits) && exec '\(Harness.orchestrator)' \(quoted)"], timeout: 90,
                                     environment: ["CLUSTERSIM_TEST_TAG": "fd-limit"])
    }

    @Test("too few file descriptors: refused before launching, naming the limit; a low soft limit is raised and the run passes")
    func fileDescriptors() async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let dir = Harness.tempDirectory("fd-limit")
        let many = dir + "/many.json"
        try """
            { "name": "fd-limit", "duration": "1s", "writer": { "rate": 50 }, "readers": [ { "role": "cli", "count": 300 } ] }
            """.write(toFile: many, atomically: true, encoding: .utf8)
        let refused = try await Self.runLimited("ulimit -n 256", ["run", many, "--out", dir + "/runs", "--quiet",
                                                                  "--node-binary", Harness.clusterNode])
        #expect(refused.status == 2, "exit \(refused.status)")
        #expect(refused.stderr.contains("file descriptors for 301 nodes") && refused.stderr.contains("at most 256 (ulimit -Hn)"), "\(refused.stderr)")
        let runDirs = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/runs")) ?? []
        #expect(runDirs.isEmpty, "a run directory was made: \(runDirs)")
        let some = dir + "/some.json"
        try """
            { "name": "fd-raised", "duration": "1s", "writer": { "rate": 50 }, "readers": [ { "role": "cli", "count": 40 } ] }
            """.write(toFile: some, atomically: true, encoding: .utf8)
        let raised = try await Self.runLimited("ulimit -Sn 64", ["run", some, "--out", dir + "/runs", "--quiet",
                                                                 "--node-binary", Harness.clusterNode])
        #expect(raised.status == 0, "exit \(raised.status): \(raised.stderr.suffix(1500))")
        #expect(Harness.processes(tagged: "fd-limit").isEmpty)
    }

    @Test("a writer killed and restarted from its saved state: published adds up over both incarnations, and every reader's losses add up")
    func writerRestartAccounting() async throws {
        try #require(Harness.binariesExist, "build first: swift build")
        let (r, dir) = try await Harness.runTopology("""
            { "name": "restart-accounting", "duration": "8s", "warmup": "1s",
              "writer": { "rate": 1000, "persist": true },
              "readers": [ { "role": "cli", "count": 3 } ],
              "faults": [ { "at": "3s", "action": "kill", "target": "writer" },
                          { "at": "4s", "action": "restart", "target": "writer" } ] }
            """, tag: "restart-accounting")
        let rep = try RunReport.load(path: try #require(dir, "no run directory") + "/report.json")
        #expect(r.status <= 1, "exit \(r.status): \(r.stderr.suffix(1500))")
        let parts = try #require(rep.writer.incarnations, "no incarnations in the report")
        #expect(parts.count == 2 && parts[0].epoch < parts[1].epoch, "\(parts)")
        #expect(rep.writer.published == parts.reduce(0) { $0 + $1.published })
        // The first ran about 3 s, the second about 4 s, at 1 000/s.
        #expect(parts.allSatisfy { $0.published >= 1_000 }, "\(parts)")
        for n in rep.nodes where n.role.isReader {
            #expect(n[.epochChanges] == 1, "\(n.name): \(n.counters)")
            #expect(n.lost == n[.lostInGaps] + n[.lostAtEpochStart] + n[.lostTail], "\(n.name): \(n.counters)")
        }
        let text = try String(contentsOfFile: dir! + "/summary.txt", encoding: .utf8)
        #expect(text.contains("over 2 incarnations"), "\(text.prefix(800))")
    }
}