import ClusterCore
import Foundation
import Testing

@testable import ClusterOrchestrator

@Suite("knee search: the probe rule")
struct ProbeRuleTests {
    @Test("3/3,5/6: pass on 3 of 3, go on to 6 when mixed, fail when 5 of 6 is out of reach")
    func decisions() throws {
        let r = try ProbeRule(parsing: "3/3,5/6")
        #expect(r == .standard && r.description == "3/3,5/6" && r.maxRuns == 6)
        #expect(r.decide(passes: 1, runs: 1) == .more)
        #expect(r.decide(passes: 0, runs: 1) == .more)
        #expect(r.decide(passes: 0, runs: 2) == .fail)  // 0 + 4 < 5
        #expect(r.decide(passes: 3, runs: 3) == .pass)
        #expect(r.decide(passes: 2, runs: 3) == .more)
        #expect(r.decide(passes: 1, runs: 3) == .fail)
        #expect(r.decide(passes: 4, runs: 5) == .more)
        #expect(r.decide(passes: 5, runs: 6) == .pass)
        #expect(r.decide(passes: 4, runs: 6) == .fail)
    }

    @Test("its operating characteristic is the exact binomial sum")
    func characteristic() throws {
        let r = ProbeRule.standard
        for p in [0.0, 0.2, 0.5, 0.8, 0.9, 0.95, 1.0] {
            // Pass: 3 of 3, or exactly 2 of the first 3 and the next 3 all passing.
            let exact = pow(p, 3) + 3 * pow(p, 5) * (1 - p)
            #expect(abs(r.passProbability(p) - exact) < 1e-12, "p = \(p)")
        }
        #expect(abs(r.expectedRuns(1) - 3) < 1e-12)
        #expect(abs(r.expectedRuns(0) - 2) < 1e-12)
        let single = try ProbeRule(parsing: "4/5")
        #expect(abs(single.passProbability(0.9) - (pow(0.9, 5) + 5 * pow(0.9, 4) * 0.1)) < 1e-12)
        #expect(try ProbeRule(parsing: "1/1").passProbability(0.7) == 0.7)
        // Decided once certain: 4 of 4 passes, or 2 failures.
        #expect(single.decide(passes: 4, runs: 4) == .pass)
        #expect(single.decide(passes: 2, runs: 4) == .fail)
        #expect(single.decide(passes: 3, runs: 4) == .more)
        #expect(abs(single.expectedRuns(1) - 4) < 1e-12)
    }

    @Test("refusals", arguments: [
        ("3", "--probe 3: stage 1 \"3\" is not K/N, expected passes needed and runs, e.g. 3/3,5/6 or 4/5"),
        ("0/3", "--probe 0/3: stage 1 needs 0 passes of 3 runs, expected 1 ... 3"),
        ("3/3,3/3", "--probe 3/3,3/3: stage 2 has 3 runs, expected more than the 3 of the stage before"),
        ("3/3,2/6", "--probe 3/3,2/6: stage 2 (2/6) is easier than the stage before (3/3), expected each stage to need at least as many passes and allow at least as many failures"),
        ("1/99", "--probe 1/99: stage 1 runs 99, expected 1 ... 50 runs"),
    ])
    func refusals(_ text: String, _ message: String) {
        let e = #expect(throws: SweepError.self) { try ProbeRule(parsing: text) }
        #expect(e?.lines == [message])
    }

    @Test("binomial bounds: Clopper–Pearson, one-sided 95 %")
    func bounds() {
        #expect(abs(Stats.clopperPearsonLower(successes: 3, trials: 3) - pow(0.05, 1.0 / 3)) < 1e-9)
        #expect(abs(Stats.clopperPearsonUpper(successes: 0, trials: 2) - (1 - pow(0.05, 0.5))) < 1e-9)
        #expect(Stats.clopperPearsonLower(successes: 0, trials: 5) == 0)
        #expect(Stats.clopperPearsonUpper(successes: 5, trials: 5) == 1)
    }
}

@Suite("knee search: the search on a known knee")
struct KneeSearchTests {
    /// Runs the search to its end against `passes`; returns the outcome and the values probed.
    func search(_ s: KneeSearch, _ passes: (Double) -> Bool) -> (KneeSearch.Outcome, [Double]) {
        var s = s
        var probed: [Double] = []
        for _ in 0..<100 {
            switch s.next() {
            case .done(let o): return (o, probed)
            case .probe(let v):
                probed.append(v)
                s.record(v, passed: passes(v))
            }
        }
        Issue.record("the search did not end")
        return (.nonePassed(lowest: 0), probed)
    }

    @Test("doubling, then bisecting to the tolerance")
    func doublingThenBisecting() {
        let s = KneeSearch(start: 1000, lowerLimit: 1, upperLimit: 1_024_000, tolerance: .relative(0.05), integral: true)
        let (outcome, probed) = search(s) { $0 <= 7300 }
        #expect(Array(probed.prefix(5)) == [1000, 2000, 4000, 8000, 6000])
        guard case .found(let knee, let above) = outcome else { Issue.record("\(outcome)"); return }
        #expect(knee <= 7300 && above > 7300)
        #expect(above - knee <= 0.05 * knee)
        #expect(Set(probed).count == probed.count, "a value probed twice: \(probed)")
    }

    @Test("a count: whole numbers, down to a gap of one")
    func counts() {
        let s = KneeSearch(start: 10, lowerLimit: 1, upperLimit: 10_240, tolerance: .absolute(1), integral: true)
        let (outcome, probed) = search(s) { $0 <= 37 }
        #expect(outcome == .found(knee: 37, failedAbove: 38))
        #expect(probed.allSatisfy { $0 == $0.rounded() })
        #expect(Array(probed.prefix(3)) == [10, 20, 40])
    }

    @Test("a start that fails: halving first")
    func halving() {
        let s = KneeSearch(start: 1000, lowerLimit: 1, upperLimit: 1_024_000, tolerance: .absolute(10), integral: true)
        let (outcome, probed) = search(s) { $0 <= 300 }
        #expect(Array(probed.prefix(3)) == [1000, 500, 250])
        guard case .found(let knee, let above) = outcome else { Issue.record("\(outcome)"); return }
        #expect(knee <= 300 && above > 300 && above - knee <= 10)
    }

    @Test("nothing passes; everything passes")
    func limits() {
        let none = KneeSearch(start: 8, lowerLimit: 1, upperLimit: 8192, tolerance: .relative(0.05), integral: true)
        let (o1, p1) = search(none) { _ in false }
        #expect(o1 == .nonePassed(lowest: 1))
        #expect(p1 == [8, 4, 2, 1])
        let all = KneeSearch(start: 1000, lowerLimit: 1, upperLimit: 5000, tolerance: .relative(0.05), integral: true)
        let (o2, p2) = search(all) { _ in true }
        #expect(o2 == .noFailure(highest: 5000))
        #expect(p2 == [1000, 2000, 4000, 5000])
    }

    @Test("results out of order: the failure wins and is reported")
    func contradictions() {
        var s = KneeSearch(start: 1000, lowerLimit: 1, upperLimit: 1_024_000, tolerance: .relative(0.05), integral: false)
        s.record(1000, passed: true)
        s.record(2000, passed: false)
        s.record(3000, passed: true)
        #expect(s.passed == 1000 && s.failed == 2000)
        #expect(s.contradictions.count == 1)
        if case .probe(let v) = s.next() { #expect(v == 1500) } else { Issue.record("expected a probe") }
    }
}

/// A runner with no processes: each run passes with a probability that falls
/// with the writer's rate (seeded), and reports figures that grow with it.
final class SyntheticRunner: SweepRunner {
    var rng: SeededRandom
    let passProbability: (Topology) -> Double
    var requests: [SweepRunRequest] = []
    var stopAfter: Int?
    /// When false, runs pass with nothing measured (as when every reader stops before its final dump).
    var measured = true
    var stopRequested: String? {
        if let n = stopAfter, requests.count >= n { return "interrupted by SIGINT" }
        return nil
    }

    init(seed: UInt64, passProbability: @escaping (Topology) -> Double) {
        rng = SeededRandom(seed: seed)
        self.passProbability = passProbability
    }

    func run(_ request: SweepRunRequest, tick: () -> Void) -> SweepRunResult {
        requests.append(request)
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        let ok = u < passProbability(request.topology)
        var report = RenderFixtures.report(passing: ok)
        let rate = request.topology.writer.rate
        report.latencyOverall = measured ? RenderFixtures.latency(p50: 100 + rate / 100, p99: 1_000 + rate / 5, max: 5_000 + rate) : .empty
        let dir = request.runParent + "/run"
        return SweepRunResult(runDirectory: dir, exitStatus: ok ? 0 : 1, outcome: ok ? .passed : .sloViolated, report: report, detail: nil)
    }
}

@Suite("sweeps with an injected runner")
struct SweeperTests {
    /// The knee at 7 300 msg/s: certain pass below 6 500, certain fail above 8 000, a ramp between.
    static func ramp(_ t: Topology) -> Double {
        min(1, max(0, (8_000 - t.writer.rate) / 1_500))
    }

    @Test("find-max with noisy runs: the knee lies in the ramp, the rule's tallies are consistent, the files are written")
    func findMax() throws {
        let file = SweepFixtures.file("sweeper-knee")
        let out = SweepFixtures.directory("sweeper-knee-out")
        var o = SweepFixtures.options(file, findMax: "writer.rate")
        o.tolerance = "5%"
        let plan = try SweepPlan.make(o)
        let runner = SyntheticRunner(seed: 42, passProbability: Self.ramp)
        let sweeper = try Sweeper(plan: plan, runner: runner, outDirectory: out, quiet: true)
        let report = sweeper.run()
        #expect(report.exitStatus == 0)
        #expect(!report.partial)
        let knee = try #require(report.knees.first)
        #expect(knee.outcome == .found)
        let k = try #require(knee.knee), above = try #require(knee.failedAbove)
        #expect(k >= 6_000 && k <= 8_000, "knee \(k)")
        #expect(above > k && above - k <= 0.05 * k)
        // Every probe's decision follows the rule from its runs.
        for p in report.points where p.result != .invalid {
            let passes = p.passedRuns, runs = p.countedRuns
            let decision = ProbeRule.standard.decide(passes: passes, runs: runs)
            #expect(decision == (p.result == .pass ? .pass : .fail), "\(p.label): \(passes)/\(runs) → \(p.result)")
            #expect(ProbeRule.standard.decide(passes: p.runs.dropLast().filter { $0.outcome == .passed }.count, runs: runs - 1) == .more)
        }
        #expect(knee.kneeRuns != nil && knee.kneePassProbabilityLower95 != nil)
        // Probes far from the knee are cheap: 1 000 passes in 3 runs.
        #expect(report.points.first?.runs.count == 3)
        // sweep.json on disk decodes to the same points.
        let disk = try SweepReport.load(path: sweeper.directory + "/sweep.json")
        #expect(disk.points.count == report.points.count && disk.knees.first?.knee == k)
        #expect(FileManager.default.fileExists(atPath: sweeper.directory + "/topology.json"))
        let summary = try String(contentsOfFile: sweeper.directory + "/summary.txt", encoding: .utf8)
        #expect(summary.contains("knee: writer.rate = \(SweepParameter.format(k))"))
        #expect(summary.contains("result: knee at writer.rate = \(SweepParameter.format(k)) (\(SweepParameter.format(above)) failed, tolerance 5%)\n"))
        let html = try String(contentsOfFile: sweeper.directory + "/sweep.html", encoding: .utf8)
        #expect(html.contains("knee \(SweepParameter.format(k))"))
        SweepHTMLTests.expectSelfContained(html)
    }

    @Test("find-max with a --vary: a knee for each of its values, each marked on the page")
    func kneePerValue() throws {
        let file = SweepFixtures.file("sweeper-knees")
        var o = SweepFixtures.options(file, ["readers[0].count=3,6"], findMax: "writer.rate")
        o.probe = "1/1"
        o.tolerance = "2%"
        let plan = try SweepPlan.make(o)
        // Certain results: the knee is at 24 000 / count msg/s.
        let runner = SyntheticRunner(seed: 1) { t in t.writer.rate <= 24_000 / Double(t.readers[0].count) ? 1 : 0 }
        let sweeper = try Sweeper(plan: plan, runner: runner, outDirectory: SweepFixtures.directory("sweeper-knees-out"), quiet: true)
        let report = sweeper.run()
        #expect(report.knees.map(\.outcome) == [.found, .found])
        #expect(report.knees.map { $0.fixed.map(\.text) } == [["readers[0].count=3"], ["readers[0].count=6"]])
        let k3 = try #require(report.knees[0].knee), k6 = try #require(report.knees[1].knee)
        #expect(k3 <= 8_000 && k3 >= 8_000 * 0.98 && k6 <= 4_000 && k6 >= 4_000 * 0.98, "\(k3), \(k6)")
        #expect(report.conclusion == "readers[0].count=3: knee at writer.rate = \(SweepParameter.format(k3)) (\(SweepParameter.format(report.knees[0].failedAbove!)) failed, tolerance 2%)\nreaders[0].count=6: knee at writer.rate = \(SweepParameter.format(k6)) (\(SweepParameter.format(report.knees[1].failedAbove!)) failed, tolerance 2%)")
        let html = SweepHTML(report).render()
        #expect(html.contains("knee \(SweepParameter.format(k3)) (readers[0].count=3)") && html.contains("knee \(SweepParameter.format(k6)) (readers[0].count=6)"))
        #expect(html.contains("readers[0].count = 3") && html.contains("readers[0].count = 6"))
    }

    @Test("the same seed gives the same search")
    func deterministic() throws {
        let file = SweepFixtures.file("sweeper-det")
        let plan = try SweepPlan.make(SweepFixtures.options(file, findMax: "writer.rate"))
        var knees: [Double?] = []
        for _ in 0..<2 {
            let s = try Sweeper(plan: plan, runner: SyntheticRunner(seed: 7, passProbability: Self.ramp),
                                outDirectory: SweepFixtures.directory("sweeper-det-out"), quiet: true)
            knees.append(s.run().knees.first?.knee)
        }
        #expect(knees[0] != nil && knees[0] == knees[1])
    }

    @Test("a grid: rounds of repeats, every point decided, one line per value of the second parameter")
    func grid() throws {
        let file = SweepFixtures.file("sweeper-grid")
        var o = SweepFixtures.options(file, ["writer.rate=1000,4000,9000", "readers[0].policy=drop,conflate"])
        o.repeats = 2
        let plan = try SweepPlan.make(o)
        let runner = SyntheticRunner(seed: 1, passProbability: Self.ramp)
        let sweeper = try Sweeper(plan: plan, runner: runner, outDirectory: SweepFixtures.directory("sweeper-grid-out"), quiet: true)
        let report = sweeper.run()
        #expect(runner.requests.count == 12)
        // Round 1 visits every point before round 2 begins.
        #expect(runner.requests.map(\.repeatIndex) == Array(repeating: 1, count: 6) + Array(repeating: 2, count: 6))
        #expect(runner.requests.prefix(6).map(\.point) == [1, 2, 3, 4, 5, 6])
        #expect(report.points.map(\.result) == [.pass, .pass, .fail, .pass, .pass, .fail])
        #expect(report.exitStatus == 0)
        #expect(report.conclusion == "4 of 6 points met every SLO in every run")
        let t = try TopologyLoader.load(path: sweeper.directory + "/" + report.points[3].directory + "/topology.json")
        #expect(t.writer.rate == 1000 && t.readers[0].policy == .conflate)
        let html = SweepHTML(report).render()
        #expect(html.contains("readers[0].policy = drop") && html.contains("readers[0].policy = conflate"))
        #expect(html.contains("p01_writer.rate-1000_readers0.policy-drop/r1/run/report.html"))
        SweepHTMLTests.expectSelfContained(html)
        let text = SweepText(report).render()
        #expect(text.contains("writer.rate × readers[0].policy, 2 runs per point"))
    }

    @Test("stopped in the middle: partial, the points done kept, exit 2")
    func interrupted() throws {
        let file = SweepFixtures.file("sweeper-stop")
        let plan = try SweepPlan.make(SweepFixtures.options(file, ["writer.rate=1000,2000,3000,4000"]))
        let runner = SyntheticRunner(seed: 1, passProbability: { _ in 1 })
        runner.stopAfter = 2
        let sweeper = try Sweeper(plan: plan, runner: runner, outDirectory: SweepFixtures.directory("sweeper-stop-out"), quiet: true)
        let report = sweeper.run()
        #expect(runner.requests.count == 2)
        #expect(report.partial && report.exitStatus == 2)
        #expect(report.points.map(\.result) == [.pass, .pass, .partial, .partial])
        let disk = try SweepReport.load(path: sweeper.directory + "/sweep.json")
        #expect(disk.partial && disk.interruption == "interrupted by SIGINT")
        #expect(SweepText(report).render().contains("PARTIAL: interrupted by SIGINT"))
    }

    @Test("a run that passed with nothing measured counts as a failed run")
    func nothingMeasured() throws {
        let plan = try SweepPlan.make(SweepFixtures.options(SweepFixtures.file("sweeper-empty"), ["writer.rate=1000"]))
        let runner = SyntheticRunner(seed: 1, passProbability: { _ in 1 })
        runner.measured = false
        let report = try Sweeper(plan: plan, runner: runner, outDirectory: SweepFixtures.directory("sweeper-empty-out"), quiet: true).run()
        #expect(report.points[0].runs.map(\.outcome) == [.failed])
        #expect(report.points[0].runs[0].detail == "no fast reader reported a latency sample: the SLOs could not be judged")
        #expect(report.points[0].result == .fail)
        #expect(report.exitStatus == 2)  // every run failed
    }

    @Test("nothing passes: exit 1")
    func nonePassed() throws {
        let plan = try SweepPlan.make(SweepFixtures.options(SweepFixtures.file("sweeper-none"), ["writer.rate=1000,2000"]))
        let sweeper = try Sweeper(plan: plan, runner: SyntheticRunner(seed: 1, passProbability: { _ in 0 }),
                                  outDirectory: SweepFixtures.directory("sweeper-none-out"), quiet: true)
        #expect(sweeper.run().exitStatus == 1)
    }
}

@Suite("sweep.html")
struct SweepHTMLTests {
    /// No external resource: no http(s) URL but the SVG namespace, no src=, no url( but clip paths.
    static func expectSelfContained(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let stripped = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        #expect(!stripped.contains("http://"), sourceLocation: sourceLocation)
        #expect(!stripped.contains("https://"), sourceLocation: sourceLocation)
        #expect(!html.contains("src="), sourceLocation: sourceLocation)
        #expect(!html.contains("@import"), sourceLocation: sourceLocation)
        #expect(!html.contains("url(http"), sourceLocation: sourceLocation)
        #expect(!html.contains("<link"), sourceLocation: sourceLocation)
        for href in html.components(separatedBy: "href=\"").dropFirst() {
            let target = String(href.prefix { $0 != "\"" })
            #expect(!target.contains(":") && !target.hasPrefix("/"), "a link leaves the sweep directory: \(target)", sourceLocation: sourceLocation)
        }
    }

    @Test("categorical x axis, escaping, no external resource")
    func categorical() throws {
        let file = SweepFixtures.file("html-cat")
        let plan = try SweepPlan.make(SweepFixtures.options(file, ["readers[0].policy=drop,conflate,resync"]))
        let sweeper = try Sweeper(plan: plan, runner: SyntheticRunner(seed: 3, passProbability: { _ in 0.5 }),
                                  outDirectory: SweepFixtures.directory("html-cat-out"), quiet: true)
        let html = SweepHTML(sweeper.run()).render()
        for v in ["drop", "conflate", "resync"] { #expect(html.contains(">\(v)</text>")) }
        #expect(html.contains("chart-p99") && html.contains("chart-cpu") && html.contains("chart-memory") && html.contains("chart-loss"))
        Self.expectSelfContained(html)
    }
}
