import ClusterCore
import Foundation
import Testing

@testable import ClusterOrchestrator

@Suite("Report rendering: summary.txt")
struct RenderSummaryTests {
    let text = ReportRenderer.summaryText(RenderFixtures.report())

    func lines(containing s: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { $0.contains(s) }
    }

    @Test func headerAndWriterLines() {
        #expect(text.hasPrefix("ClusterSim run render-test\n"))
        #expect(text.contains("duration 30.0 s   seed 42   launcher local"))
        #expect(text.contains("host testhost: 2 cores, Linux 6.1.0-test, 8.0 GB   libzmq 4.3.4"))
        #expect(text.contains("writer: published 30,000   rate 1,000/s asked, 999.9/s achieved   final version 30,000 (epoch 1)"))
        #expect(text.contains("illegal events 0   send-call p50 8 µs p99 31 µs"))
        #expect(!text.contains("ABORTED"))
        #expect(!text.contains("of the versions asked"))
    }

    @Test("a writer short of its rate is said, with the rate the readers' figures are for")
    func writerShortOfItsRate() {
        var report = RenderFixtures.report()
        report.writer.rateAchieved = 85.8
        let text = ReportRenderer.summaryText(report)
        #expect(text.contains("  the writer made 8.6 % of the versions asked (it fell behind, or was paused or restarted): "
                              + "the readers' figures are for 85.8/s, not 1,000/s"), "\(text.prefix(900))")
    }

    @Test func roleTableHasEveryRoleAndAll() throws {
        for role in ["cli", "log", "query", "all"] {
            #expect(lines(containing: "  \(role) ").count >= 1, "no row for \(role)")
        }
        let cli = try #require(lines(containing: "  cli ").first)
        // 18 cli-N plus <x&y>; 19,500 + 12 + 3 lost; merged p50 330 µs, p99 1.400 ms, max 48.00 ms.
        #expect(cli.contains(" 19 "))
        #expect(cli.contains("19,515"))
        #expect(cli.contains("330 µs"))
        #expect(cli.contains("1.400 ms"))
        #expect(cli.contains("48.00 ms"))
    }

    @Test func nodeTableIsTrimmedToTheInterestingNodes() throws {
        let header = try #require(lines(containing: "received").first)
        for column in ["node", "role", "policy", "status", "received", "lost", "skipped", "p50", "p99", "max", "peak RSS MB", "CPU %"] {
            #expect(header.contains(column))
        }
        // The writer, the killed node, the slow node and the worst losers are listed; plain nodes are not all.
        let writer = try #require(lines(containing: "  writer ").first)
        #expect(writer.contains("writer  -       completed         -       -        -"))
        #expect(lines(containing: "cli-3").contains { $0.contains("killed") && $0.contains("19,500") })
        #expect(lines(containing: "  slow ").contains { $0.contains("resync") && $0.contains("800") })
        #expect(lines(containing: "cli-7 ").count == 1)
        #expect(lines(containing: "<x&y>").contains { $0.hasPrefix("  <x&y> ") && $0.contains(" cli ") })
        let more = try #require(lines(containing: "more nodes in report.json").first)
        // 27 nodes, 15 shown.
        #expect(more == "  … 12 more nodes in report.json")
    }

    @Test func faultsAndSLOs() throws {
        let fault = try #require(lines(containing: "  kill  ").first)
        #expect(fault.contains("10.000 s") && fault.contains("10.012 s") && fault.contains("cli-3") && fault.contains("applied"))
        let loss = try #require(lines(containing: "maxLossFastReaders").first)
        #expect(loss.contains("FAIL") && loss.contains("0 versions") && loss.contains("15 versions"))
        let p99 = try #require(lines(containing: "p99LatencyMs").first)
        #expect(p99.contains("PASS") && p99.contains("5 ms") && p99.contains("1.85 ms"))
        #expect(text.hasSuffix("result: FAIL (1 of 3 SLOs violated)\n"))
    }

    @Test func passingRunSaysPass() {
        let t = ReportRenderer.summaryText(RenderFixtures.report(passing: true))
        #expect(t.hasSuffix("result: PASS (0 of 3 SLOs violated)\n"))
        #expect(!t.contains("FAIL"))
    }

    @Test func deterministicWhateverTheNodeOrder() {
        var shuffled = RenderFixtures.report()
        var rng = SplitMix(seed: 7)
        shuffled.nodes.shuffle(using: &rng)
        #expect(ReportRenderer.summaryText(RenderFixtures.report()) == text)
        #expect(ReportRenderer.summaryText(shuffled) == text)
        #expect(ReportRenderer.html(shuffled) == ReportRenderer.html(RenderFixtures.report()))
    }

    @Test func columnsAreAligned() throws {
        // Every row of the node table is as wide as its rule, up to the last (right-aligned) column.
        let all = text.split(separator: "\n").map(String.init)
        let headerIndex = try #require(all.firstIndex { $0.contains("received") })
        let rule = all[headerIndex + 1]
        #expect(rule.allSatisfy { $0 == "-" || $0 == " " })
        var i = headerIndex + 2
        while i < all.count, !all[i].hasPrefix("  …") {
            #expect(all[i].count == rule.count, "row \(all[i]) not aligned")
            i += 1
        }
    }

    @Test func hostStealIsShownWhenKnown() {
        #expect(text.contains("orchestrator CPU 3.5 %   peak RSS 31.2 MB   host steal 12.3 % of CPU time"))
        var r = RenderFixtures.report()
        r.environment.hostStealPercent = nil
        let t = ReportRenderer.summaryText(r)
        #expect(t.contains("orchestrator CPU 3.5 %   peak RSS 31.2 MB\n") && !t.contains("steal"))
    }

    @Test func abortedRunSaysSo() {
        let t = ReportRenderer.summaryText(RenderFixtures.report(aborted: "interrupted by SIGINT"))
        #expect(t.contains("ABORTED: interrupted by SIGINT (partial report)"))
        #expect(t.contains("; run aborted, report partial"))
    }

    @Test func smallRunListsEveryNode() {
        var r = RenderFixtures.report()
        r.nodes = Array(r.nodes.prefix(6))
        let t = ReportRenderer.summaryText(r)
        #expect(!t.contains("more nodes"))
        for n in r.nodes { #expect(t.contains("  \(n.name) ")) }
    }
}

@Suite("Report rendering: report.html")
struct RenderHTMLTests {
    let html = ReportRenderer.html(RenderFixtures.report())

    func count(_ needle: String, in s: String) -> Int { s.components(separatedBy: needle).count - 1 }

    @Test func wellFormedEnough() {
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.hasSuffix("</html>\n"))
        for tag in ["html", "head", "body", "main", "section", "table", "svg", "style", "script", "header"] {
            let opened = count("<\(tag)>", in: html) + count("<\(tag) ", in: html)
            #expect(opened == count("</\(tag)>", in: html), "unbalanced <\(tag)>")
            #expect(opened > 0, "no <\(tag)>")
        }
        #expect(html.contains("<meta charset=\"utf-8\">"))
    }

    @Test func hasTheCharts() {
        for id in ["chart-percentiles", "chart-latency-time", "chart-loss", "chart-cpu", "chart-rss"] {
            #expect(html.contains("<svg id=\"\(id)\""), "missing \(id)")
        }
        #expect(count("<svg ", in: html) == 5)
        #expect(html.contains("<polyline"))
        #expect(html.contains("<rect"))
        for tick in [">50%<", ">90%<", ">99%<", ">99.9%<", ">99.99%<"] { #expect(html.contains(tick)) }
    }

    @Test func selfContained() {
        let withoutXmlns = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        #expect(!withoutXmlns.contains("http://"))
        #expect(!withoutXmlns.contains("https://"))
        #expect(!html.contains("<link"))
        #expect(!html.contains("src="))
        #expect(!html.contains("@import"))
        #expect(!html.contains("url(http"))
    }

    @Test func faultMarkersAreDrawn() {
        #expect(html.contains("class=\"marker\""))
        #expect(html.contains(">kill cli-3</text>"))
    }

    @Test func textIsEscaped() {
        #expect(html.contains("&lt;x&amp;y&gt;"))
        #expect(!html.contains("<x&y>"))
        var r = RenderFixtures.report()
        r.name = "a\"b<script>alert(1)</script>"
        r.faults[0].target = "<b>'t'</b>"
        let h = ReportRenderer.html(r)
        #expect(!h.contains("<script>alert"))
        #expect(!h.contains("<b>"))
        #expect(h.contains("&lt;b&gt;&#39;t&#39;&lt;/b&gt;"))
    }

    @Test func resultBadgeAndSLOs() {
        #expect(html.contains("class=\"badge fail\">FAIL</span>"))
        #expect(html.contains("<td class=\"fail\">FAIL</td>"))
        #expect(html.contains("<td class=\"pass\">PASS</td>"))
        #expect(ReportRenderer.html(RenderFixtures.report(passing: true)).contains("class=\"badge pass\">PASS</span>"))
    }

    @Test func abortedShowsAborted() {
        let h = ReportRenderer.html(RenderFixtures.report(aborted: "writer never ready"))
        #expect(h.contains("class=\"badge aborted\">ABORTED</span>"))
        #expect(h.contains("ABORTED: writer never ready."))
    }

    @Test func fullNodeTableListsEveryNode() {
        let r = RenderFixtures.report()
        let table = html.components(separatedBy: "<table id=\"node-table\"").last ?? ""
        for n in r.nodes { #expect(table.contains(">\(esc(n.name))</td>")) }
        #expect(html.contains("<table id=\"converge-table\""))
        #expect(html.contains("<table id=\"fault-table\""))
        #expect(html.contains("<table id=\"role-table\""))
    }

    @Test func emptyDataShowsNoDataNotes() {
        let h = ReportRenderer.html(RenderFixtures.empty())
        #expect(h.hasPrefix("<!DOCTYPE html>"))
        #expect(!h.contains("<svg "))
        #expect(count("class=\"nodata\"", in: h) == 5)  // latency, series, host, losses, resources
        #expect(h.contains("No host or scheduling samples"))
        #expect(h.contains("No losses"))
        let t = ReportRenderer.summaryText(RenderFixtures.empty())
        #expect(t.contains("faults: none"))
        #expect(t.contains("result: PASS (0 of 0 SLOs violated)"))

        var none = RenderFixtures.empty()
        none.nodes = []
        #expect(ReportRenderer.html(none).contains("nodata"))
        #expect(ReportRenderer.summaryText(none).contains("result:"))
    }

    /// Writes the sample report when RENDER_SAMPLE_PATH is set, for looking at it in a browser.
    @Test func writeSampleWhenAsked() throws {
        guard let path = ProcessInfo.processInfo.environment["RENDER_SAMPLE_PATH"] else { return }
        try Data(html.utf8).write(to: URL(fileURLWithPath: path))
        try Data(ReportRenderer.summaryText(RenderFixtures.report()).utf8)
            .write(to: URL(fileURLWithPath: path + ".txt"))
    }
}

@Suite("Report rendering: helpers")
struct RenderHelperTests {
    @Test func formats() {
        #expect(Fmt.count(0) == "0")
        #expect(Fmt.count(999) == "999")
        #expect(Fmt.count(1_234_567) == "1,234,567")
        #expect(Fmt.count(-1_000) == "-1,000")
        #expect(Fmt.latency(us: 850) == "850 µs")
        #expect(Fmt.latency(us: 1_234) == "1.234 ms")
        #expect(Fmt.latency(us: 12_345) == "12.35 ms")
        #expect(Fmt.latency(us: 2_500_000) == "2.500 s")
        #expect(Fmt.number(1.850) == "1.85")
        #expect(Fmt.number(40) == "40")
        #expect(Fmt.truncate("abcdef", 4) == "abc…")
    }

    @Test func naturalOrder() {
        let names = ["cli-10", "cli-2", "log-1", "cli-1", "writer"]
        #expect(names.sorted(by: NaturalOrder.less) == ["cli-1", "cli-2", "cli-10", "log-1", "writer"])
    }

    @Test func escaping() {
        #expect(esc("<a href=\"x\">&'</a>") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;")
    }

    @Test func textTableAligns() {
        var t = TextTable([.init("name", .left), .init("n")])
        t.add(["a", "1"])
        t.add(["longer", "1,000"])
        #expect(t.render() == "  name        n\n  ------  -----\n  a           1\n  longer  1,000\n")
    }

    @Test func axes() {
        let lin = Axis.linear("x", hi: 9.3, format: Fmt.number)
        #expect(lin.lo == 0 && lin.hi == 10)
        #expect(lin.ticks.map(\.label) == ["0", "2", "4", "6", "8", "10"])
        let log = Axis.log("y", lo: 0.3, hi: 45, format: Fmt.number)
        #expect(log.lo == 0.1 && log.hi == 100)
        #expect(log.kind == .log)
        let s = Scale(kind: .log, lo: 1, hi: 100, from: 0, to: 200)
        #expect(abs(s(10) - 100) < 1e-9)
        #expect(s(0) == 0)  // clamped, not NaN
    }
}

/// A seeded generator so shuffles are repeatable.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Clock offsets")
struct ClockOffsetTests {
    @Test("the lowest round trips win; the offset is the node's clock minus the midpoint")
    func estimate() throws {
        // A node 5 ms ahead; round trips of 2, 10, 1 and 40 ms (the 40 ms one skewed by its delay).
        let samples: [(sent: UInt64, node: UInt64, received: UInt64)] = [
            (1_000_000_000, 1_006_000_000, 1_002_000_000),
            (2_000_000_000, 2_010_000_000, 2_010_000_000),
            (3_000_000_000, 3_005_500_000, 3_001_000_000),
            (4_000_000_000, 4_039_000_000, 4_040_000_000),
        ]
        let c = try #require(ClockOffset.estimate(samples))
        #expect(c.samples == 4)
        #expect(c.uncertaintyNs == 500_000)
        #expect(c.offsetNs == 5_000_000)
        #expect(ClockOffset.estimate([]) == nil)
    }
}
