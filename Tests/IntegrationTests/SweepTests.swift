import ClusterCore
import ClusterOrchestrator
import ClusterTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `orchestrator sweep` with real runs: each point a child `orchestrator run`.
@Suite("orchestrator sweep", .serialized, .enabled(if: Harness.binariesExist, "build the executables first (scripts/test.sh does)"))
struct SweepIntegrationTests {
    static let topology = """
        { "name": "it-sweep", "duration": "3s", "writer": { "rate": 100 }, "readers": [ { "role": "cli" } ],
          "slo": { "maxLossFastReaders": 0 } }
        """

    /// The run directories under a sweep directory (`<point>/r<k>/<name>-<time>`).
    static func runDirectories(_ sweep: String) -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        for point in ((try? fm.contentsOfDirectory(atPath: sweep)) ?? []).sorted() where point.hasPrefix("p") {
            for r in ((try? fm.contentsOfDirectory(atPath: "\(sweep)/\(point)")) ?? []).sorted() where r.hasPrefix("r") {
                for run in ((try? fm.contentsOfDirectory(atPath: "\(sweep)/\(point)/\(r)")) ?? []).sorted() where run.hasPrefix("it-sweep") {
                    out.append("\(sweep)/\(point)/\(r)/\(run)")
                }
            }
        }
        return out
    }

    @Test("Ctrl-C in the middle of a sweep: the run stops cleanly, no process is left, sweep.json is written, partial")
    func interrupt() async throws {
        let dir = Harness.tempDirectory("sweep-int")
        let file = dir + "/it-sweep.json"
        try Self.topology.write(toFile: file, atomically: true, encoding: .utf8)
        let out = dir + "/sweeps"
        let (p, o, e) = try Harness.start(Harness.orchestrator, ["sweep", file, "--vary", "writer.rate=100,150,200,250,300,350", "--out", out,
                                                                 "--node-binary", Harness.clusterNode],
                                          environment: ["CLUSTERSIM_TEST_TAG": "sweep-int"])
        // Wait (bounded) until a run after the first is in its measured phase, and
        // interrupt it there, on a thread of its own: beside the whole suite the
        // cooperative pool can be late by seconds, longer than a run's 3 s.
        let pid = p.processIdentifier
        let (sweep, measuring, processes) = try await offPool { () -> (String?, Bool, Int) in
            var sweep: String?
            let deadline = Date().addingTimeInterval(90)
            while Date() < deadline {
                usleep(50_000)
                sweep = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).first.map { out + "/" + $0 }
                guard let sweep else { continue }
                let runs = Self.runDirectories(sweep)
                if runs.count >= 2, let ev = try? String(contentsOfFile: runs[runs.count - 1] + "/events.jsonl", encoding: .utf8),
                   ev.contains("\"event\":\"measure-started\""), !ev.contains("\"event\":\"run-ended\"") {
                    let processes = Harness.processes(tagged: "sweep-int").count
                    kill(pid, SIGINT)
                    return (sweep, true, processes)
                }
            }
            kill(pid, SIGINT)
            return (sweep, false, 0)
        }
        #expect(measuring, "no run after the first reached its measured phase")
        #expect(processes >= 3, "expected the sweep, a run and its nodes")
        let (p2, o2, e2) = (p, o, e)
        let r = try await offPool { Harness.wait(p2, o2, e2, timeout: 60) }
        #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
        #expect(Harness.processes(tagged: "sweep-int").isEmpty, "processes left behind after SIGINT")
        let s = try #require(sweep)
        let report = try SweepReport.load(path: s + "/sweep.json")
        #expect(report.partial)
        #expect(report.interruption == "interrupted by SIGINT")
        #expect(report.exitStatus == 2)
        #expect(report.points.count == 6)
        // The points before the one running at Ctrl-C ran to their end; that one was interrupted; the rest never started.
        let k = try #require(report.points.firstIndex { $0.runs.contains { $0.outcome == .interrupted } }, "no interrupted run")
        #expect(k >= 1)
        for point in report.points[..<k] {
            #expect(point.runs.map(\.outcome) == [.passed] && point.result == .pass && point.figures != nil, "\(point.label): \(point.runs.map(\.outcome))")
        }
        #expect(report.points[k].runs.map(\.outcome) == [.interrupted] && report.points[k].result == .partial)
        for point in report.points[(k + 1)...] {
            #expect(point.runs.isEmpty && point.result == .partial, "\(point.label) ran after the interruption")
        }
        // The interrupted run stopped its nodes and wrote its partial report.
        let interruptedRun = try #require(report.points[k].runs[0].runDirectory)
        let interrupted = try RunReport.load(path: s + "/" + interruptedRun + "/report.json")
        #expect(interrupted.aborted?.contains("interrupted") == true)
        #expect(FileManager.default.fileExists(atPath: s + "/sweep.html"))
        #expect(r.stdout.contains("PARTIAL: interrupted by SIGINT"))
    }

    @Test("a sweep with a value the topology refuses runs nothing; exit 2")
    func refused() async throws {
        let dir = Harness.tempDirectory("sweep-bad")
        let file = dir + "/it-sweep.json"
        try Self.topology.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try await Harness.run(Harness.orchestrator, ["sweep", file, "--vary", "readers[0].count=1,5000", "--out", dir + "/sweeps"],
                                      timeout: 30)
        #expect(r.status == 2)
        #expect(r.stderr == "\(file): readers[0].count: 5000 is out of range, expected 1 ... 2000 (with --vary readers[0].count=5000)\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/sweeps"))
    }
}
