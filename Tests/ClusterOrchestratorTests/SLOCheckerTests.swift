import ClusterCore
import Testing

@testable import ClusterOrchestrator

/// The checks every run gets, whatever its topology's SLOs.
@Suite("SLO checks")
struct SLOCheckerTests {
    @Test("a crashed node is a failed SLO, named")
    func crashedNode() {
        var r = RenderFixtures.report(passing: true)
        #expect(SLOChecker.check(SLOSpec(), report: r).isEmpty)
        r.nodes[1].status = .crashed
        let results = SLOChecker.check(SLOSpec(), report: r)
        #expect(results.count == 1 && results[0].name == "crashed nodes" && !results[0].pass && results[0].detail == r.nodes[1].name)
    }

    @Test("log lines a reader could not write are a failed SLO, with the write errors and the readers")
    func logLinesNotWritten() {
        var r = RenderFixtures.report(passing: true)
        r.totals.logLinesNotWritten = 120
        r.totals.logWriteErrors = 7
        r.nodes[1].counters["log_lines_dropped"] = 120
        let results = SLOChecker.check(SLOSpec(), report: r)
        #expect(results.count == 1 && results[0].name == "log lines not written" && results[0].measured == 120 && !results[0].pass)
        #expect(results[0].detail == "7 write errors in \(r.nodes[1].name)")
        #expect(ReportWriter.summary(r).contains("log lines not written 120 (7 write errors)"))
    }

    @Test("a node no fault aimed at that ended without its final dump fails the run; one a fault killed does not")
    func withoutFinalDump() {
        var r = RenderFixtures.report(passing: true)
        let killed = r.nodes.firstIndex { $0.status == .killed }
        #expect(killed != nil && SLOChecker.check(SLOSpec(), report: r).isEmpty, "a killed node a fault aimed at is expected")
        r.nodes[2].status = .noFinalDump
        let results = SLOChecker.check(SLOSpec(), report: r)
        #expect(results.count == 1 && results[0].name == "nodes without a final dump" && !results[0].pass, "\(results)")
        #expect(results[0].detail == "\(r.nodes[2].name) no-final-dump")
    }
}
