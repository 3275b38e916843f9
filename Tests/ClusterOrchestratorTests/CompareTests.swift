import ClusterCore
import Foundation
import Testing

@testable import ClusterOrchestrator

/// Synthetic runs for the comparison tests: seeded, no I/O.
enum CompareFixtures {
    struct Shape {
        var readers = 10
        var seconds = 20
        var p50Us = 300.0
        var p99Factor = 5.0
        var readerCpu = 8.0
        var writerCpu = 40.0
        var rssMB = 25.0
        var lostPerSecond: UInt64 = 0
        var skipped: UInt64 = 0
    }

    /// A standard normal draw (Box–Muller).
    static func normal(_ rng: inout SeededRandom) -> Double {
        let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-12), u2 = Double(rng.next() >> 11) / Double(1 << 53)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// A run whose per-second figures wander: a machine-wide AR(1) component
    /// every reader shares (neighbouring seconds alike) and each reader's own noise.
    static func report(seed: UInt64, _ s: Shape = Shape()) -> RunReport {
        var rng = SeededRandom(seed: seed)
        var machine = 0.0
        var shared: [Double] = []
        for _ in 0..<s.seconds {
            machine = 0.6 * machine + 0.8 * 0.15 * normal(&rng)
            shared.append(machine)
        }
        func resources(_ cpu: Double, _ rss: Double) -> ResourceSummary {
            let samples = (1...(s.seconds * 2)).map { i in
                ResourceSample(t: Double(i) / 2, cpuPercent: cpu * exp(0.1 * normal(&rng) + shared[(i - 1) / 2]),
                               rssMB: rss + Double(i) * 0.01, ussMB: 0, pssMB: 0)
            }
            return ResourceSummary(peakCpuPercent: samples.map(\.cpuPercent).max()!, meanCpuPercent: Stats.mean(samples.map(\.cpuPercent)),
                                   peakRssMB: samples.map(\.rssMB).max()!, meanRssMB: rss, peakUssMB: 0, peakPssMB: 0,
                                   growthMB: 0, samples: samples)
        }
        var nodes: [NodeReport] = []
        var allP50: [Double] = [], allP99: [Double] = []
        for r in 1...s.readers {
            let series = (0..<s.seconds).map { sec -> SeriesPoint in
                let level = exp(shared[sec] + 0.1 * normal(&rng))
                let p50 = s.p50Us * level, p99 = p50 * s.p99Factor * exp(0.15 * normal(&rng))
                return SeriesPoint(t: Double(sec) + 0.3, count: 1_000, p50Us: p50, p99Us: p99, maxUs: p99 * 1.5, lost: s.lostPerSecond)
            }
            allP50 += series.map(\.p50Us)
            allP99 += series.map(\.p99Us)
            let lat = LatencySummary(count: 20_000, p50Us: Stats.median(series.map(\.p50Us)), p90Us: 0, p99Us: Stats.median(series.map(\.p99Us)),
                                     p999Us: Stats.median(series.map(\.p99Us)) * 1.6 * exp(0.1 * normal(&rng)),
                                     maxUs: series.map(\.maxUs).max()!, meanUs: 0)
            nodes.append(NodeReport(name: "cli-\(r)", group: "cli", role: .reader(.cli), policy: "drop", fast: true, status: .completed,
                                    exit: "0", restarts: 0, pids: [Int32(r)],
                                    counters: ["received": 20_000, "lost": s.lostPerSecond * UInt64(s.seconds), "skipped": s.skipped],
                                    gauges: [:], latency: lat, latencies: [:], series: series, converge: [],
                                    resources: resources(s.readerCpu, s.rssMB)))
        }
        let writerSeries = (0..<s.seconds).map { sec in
            SeriesPoint(t: Double(sec) + 0.5, count: 1_000, p50Us: 30 * exp(0.05 * normal(&rng)), p99Us: 400 * exp(0.2 * normal(&rng)),
                        maxUs: 900, lost: 0)
        }
        nodes.insert(NodeReport(name: "writer", group: "writer", role: .writer, policy: nil, fast: false, status: .completed, exit: "0",
                                restarts: 0, pids: [1], counters: ["published": 20_000], gauges: [:],
                                latency: LatencySummary(count: 20_000, p50Us: 30, p90Us: 0, p99Us: 400, p999Us: 600, maxUs: 900, meanUs: 0),
                                latencies: [:], series: writerSeries, converge: [], resources: resources(s.writerCpu, 35)), at: 0)
        let overall = LatencySummary(count: 200_000, p50Us: Stats.median(allP50), p90Us: 0, p99Us: Stats.quantile(allP99, 0.5),
                                     p999Us: Stats.quantile(allP99, 0.9), maxUs: allP99.max()! * 1.5, meanUs: 0)
        var r = RenderFixtures.report(passing: true)
        r.nodes = nodes
        r.durationSeconds = Double(s.seconds)
        r.latencyByRole = ["cli": overall]
        r.latencyOverall = overall
        r.faults = []
        r.writer.sendCallLatency = LatencySummary(count: 20_000, p50Us: 30, p90Us: 0, p99Us: 400, p999Us: 600, maxUs: 900, meanUs: 0)
        return r
    }

    static func rows(_ c: [CompareTable], _ table: String) -> [String: CompareRow] {
        let t = c.first { $0.title.hasPrefix(table) }!
        return Dictionary(uniqueKeysWithValues: t.rows.map { ($0.metric, $0) })
    }

    static func compare(_ a: RunReport, _ b: RunReport, threshold: Double = 0.1, replicates: Int = 2_000) -> [CompareTable] {
        var rng = SeededRandom(seed: 99)
        var c = Comparer(threshold: threshold)
        c.replicates = replicates
        return c.tables(.init([a]), .init([b]), rng: &rng)
    }
}

@Suite("compare: the bootstrap")
struct BootstrapTests {
    @Test("order statistics")
    func quantiles() {
        #expect(Stats.median([3, 1, 2]) == 2)
        #expect(Stats.median([4, 1, 2, 3]) == 2.5)
        #expect(Stats.quantile([1, 2, 3, 4, 5], 0.25) == 2)
        #expect(Stats.median([]).isNaN)
        #expect(Bootstrap.relative(0, 0) == 0 && Bootstrap.relative(0, 1) == .infinity && Bootstrap.relative(2, 3) == 0.5)
    }

    @Test("no shift: the interval holds 0; a real shift: it does not")
    func shift() throws {
        var rng = SeededRandom(seed: 1)
        let a = (0..<30).map { _ in 100 + 10 * CompareFixtures.normal(&rng) }
        let same = (0..<30).map { _ in 100 + 10 * CompareFixtures.normal(&rng) }
        let shifted = (0..<30).map { _ in 130 + 10 * CompareFixtures.normal(&rng) }
        let boot = Bootstrap(statistic: .median)
        let i0 = try #require(boot.interval(.init(groups: [a], ordered: true), .init(groups: [same], ordered: true), rng: &rng))
        #expect(i0.relativeLow < 0 && i0.relativeHigh > 0)
        let i1 = try #require(boot.interval(.init(groups: [a], ordered: true), .init(groups: [shifted], ordered: true), rng: &rng))
        #expect(i1.relativeLow > 0.15 && i1.relativeHigh < 0.45, "\(i1)")
        #expect(boot.interval(.init(groups: [[]], ordered: true), .init(groups: [same], ordered: true), rng: &rng) == nil)
    }

    @Test("several runs widen the interval by the spread between them")
    func runs() throws {
        var rng = SeededRandom(seed: 2)
        // Each run sits at its own level: within a run the seconds agree, between runs they do not.
        func run(_ level: Double) -> [Double] { (0..<20).map { _ in level + CompareFixtures.normal(&rng) } }
        let a = [run(100), run(120), run(85)], b = [run(110), run(95), run(125)]
        let boot = Bootstrap(statistic: .median)
        let pooled = try #require(boot.interval(.init(groups: [a.flatMap { $0 }], ordered: false), .init(groups: [b.flatMap { $0 }], ordered: false), rng: &rng))
        let grouped = try #require(boot.interval(.init(groups: a, ordered: true), .init(groups: b, ordered: true), rng: &rng))
        #expect(grouped.relativeHigh - grouped.relativeLow > pooled.relativeHigh - pooled.relativeLow)
    }
}

@Suite("compare: verdicts on synthetic runs")
struct CompareVerdictTests {
    @Test("two runs of the same shape: no row is significantly different")
    func same() {
        let tables = CompareFixtures.compare(CompareFixtures.report(seed: 1), CompareFixtures.report(seed: 2))
        for t in tables {
            for r in t.rows {
                #expect(r.verdict == .same || r.verdict == .untested, "\(t.title) \(r.metric): \(r.verdict) \(r.intervalLow ?? 0) … \(r.intervalHigh ?? 0)")
            }
        }
    }

    @Test("false alarms between runs of the same shape are rare")
    func falseAlarmRate() {
        var flagged = 0, tested = 0
        for seed in stride(from: UInt64(10), to: 70, by: 2) {
            for t in CompareFixtures.compare(CompareFixtures.report(seed: seed), CompareFixtures.report(seed: seed + 1), replicates: 400) {
                for r in t.rows where r.verdict != .untested {
                    tested += 1
                    if r.verdict == .better || r.verdict == .worse { flagged += 1 }
                }
            }
        }
        // 30 pairs × 10 rows; the threshold keeps noise of this size (±15 % a second) from being called a change.
        #expect(tested >= 250)
        #expect(Double(flagged) / Double(tested) <= 0.02, "\(flagged) of \(tested) rows flagged")
    }

    @Test("a real shift is reported: slower and lossy B is worse, lighter CPU is better")
    func shifted() {
        var slow = CompareFixtures.Shape()
        slow.p50Us = 450
        slow.p99Factor = 10
        slow.readerCpu = 3
        slow.lostPerSecond = 5
        let tables = CompareFixtures.compare(CompareFixtures.report(seed: 1), CompareFixtures.report(seed: 2, slow))
        let all = CompareFixtures.rows(tables, "all fast readers")
        #expect(all["p50"]?.verdict == .worse)
        #expect(all["p99"]?.verdict == .worse)
        #expect(all["loss"]?.verdict == .worse)
        #expect(all["CPU %"]?.verdict == .better)
        #expect(all["RSS MB"]?.verdict == .same)
        let p50 = all["p50"]!
        #expect(p50.intervalLow! > 0.1 && p50.change! > 0.3)
    }

    @Test("the threshold: a 40 % shift is reported at 0 %, not at 50 %")
    func threshold() {
        var s = CompareFixtures.Shape()
        s.p50Us = 300 * 1.4
        let a = CompareFixtures.report(seed: 3), b = CompareFixtures.report(seed: 4, s)
        #expect(CompareFixtures.rows(CompareFixtures.compare(a, b, threshold: 0), "all fast")["p50"]?.verdict == .worse)
        #expect(CompareFixtures.rows(CompareFixtures.compare(a, b, threshold: 0.5), "all fast")["p50"]?.verdict == .same)
    }

    @Test("too few samples: not tested")
    func untested() {
        var one = CompareFixtures.Shape()
        one.readers = 1
        one.skipped = 5
        var other = one
        other.skipped = 7
        let tables = CompareFixtures.compare(CompareFixtures.report(seed: 1, one), CompareFixtures.report(seed: 2, other))
        // Skips are compared per reader: one reader is one sample.
        #expect(CompareFixtures.rows(tables, "all fast")["skipped"]?.verdict == .untested)
        #expect(CompareFixtures.rows(tables, "all fast")["p50"]?.verdict == .same)
    }

    @Test("the same reports give the same comparison")
    func deterministic() {
        let a = CompareFixtures.report(seed: 5), b = CompareFixtures.report(seed: 6)
        let x = CompareFixtures.compare(a, b), y = CompareFixtures.compare(a, b)
        #expect(x.flatMap { $0.rows.map { $0.intervalLow } } == y.flatMap { $0.rows.map { $0.intervalLow } })
    }
}

@Suite("compare: directories, warnings and pages")
struct CompareDirectoryTests {
    func runDirectory(_ tag: String, _ report: RunReport, topology: String) throws -> String {
        let d = SweepFixtures.directory(tag)
        try report.jsonData().write(to: URL(fileURLWithPath: d + "/report.json"))
        try topology.write(toFile: d + "/topology.json", atomically: true, encoding: .utf8)
        return d
    }

    @Test("nice values are settings a comparison names when they differ")
    func niceDifferences() throws {
        var a = try TopologyLoader.parse(Data(SweepFixtures.topology.utf8), file: "a.json")
        var b = a
        #expect(Comparison.differences(a, b).isEmpty)
        b.writer.nice = -10
        b.readers[0].nice = 10
        #expect(Comparison.differences(a, b) == [
            "writer.nice: default vs -10",
            "readers: cli: cli×3 drop, slow: log×1 drop delay 1ms vs cli: cli×3 drop nice 10, slow: log×1 drop delay 1ms",
        ])
        a.writer.nice = -10
        a.readers[0].nice = 10
        #expect(Comparison.differences(a, b).isEmpty)
    }

    @Test("runs of different settings: compared, with a warning listing each difference")
    func warnings() throws {
        let a = try runDirectory("cmp-a", CompareFixtures.report(seed: 1), topology: SweepFixtures.topology)
        let other = SweepFixtures.topology.replacingOccurrences(of: "\"rate\": 1000", with: "\"rate\": 500")
            .replacingOccurrences(of: "\"count\": 3", with: "\"count\": 4")
        let b = try runDirectory("cmp-b", CompareFixtures.report(seed: 2), topology: other)
        let c = try Comparison.make(a, b, comparer: Comparer(threshold: 0.1))
        #expect(c.kind == .runs)
        #expect(c.warnings.contains("writer.rate: 1,000 vs 500"))
        #expect(c.warnings.contains("readers: cli: cli×3 drop, slow: log×1 drop delay 1ms vs cli: cli×4 drop, slow: log×1 drop delay 1ms"))
        #expect(c.warnings.contains("reader count: 4 vs 5"))
        let text = CompareRenderer.text(c)
        #expect(text.contains("WARNING: A and B differ in these settings"))
        #expect(text.contains("\nall fast readers, role cli (fast readers: 10 vs 10)\n"))
        #expect(!text.contains("\nrole cli"))  // one role: its table would repeat the overall one
        #expect(text.contains("result: 0 rows worse"))
        let html = CompareRenderer.html(c)
        #expect(html.contains("A and B differ in these settings"))
        SweepHTMLTests.expectSelfContained(html)
        // The same settings: no warning.
        let b2 = try runDirectory("cmp-b2", CompareFixtures.report(seed: 2), topology: SweepFixtures.topology)
        #expect(try Comparison.make(a, b2, comparer: Comparer(threshold: 0.1)).warnings.isEmpty)
        // The same settings, but B's writer made a twelfth of the versions asked: said, with both shares.
        var behind = CompareFixtures.report(seed: 2)
        behind.writer.rateAchieved = behind.writer.rateAsked / 12
        let b3 = try runDirectory("cmp-b3", behind, topology: SweepFixtures.topology)
        let warned = try Comparison.make(a, b3, comparer: Comparer(threshold: 0.1)).warnings
        #expect(warned.count == 1 && warned[0].hasPrefix("writer rate achieved: ") && warned[0].contains("(8.3 % of the rate asked)")
                && warned[0].hasSuffix("the readers carried different loads"), "\(warned)")
    }

    @Test("directories that cannot be compared are refused")
    func refusals() throws {
        let run = try runDirectory("cmp-run", CompareFixtures.report(seed: 1), topology: SweepFixtures.topology)
        let empty = SweepFixtures.directory("cmp-empty")
        func message(_ a: String, _ b: String) -> String? {
            #expect(throws: SweepError.self) { try Comparison.make(a, b, comparer: Comparer(threshold: 0.1)) }?.description
        }
        #expect(message(run, empty) == "\(empty): holds neither report.json nor sweep.json, expected a run directory or a sweep directory")
        #expect(message(run, empty + "/nope") == "\(empty)/nope: no such directory, expected a run directory (runs/<name>-<time>) or a sweep directory (sweeps/<name>-<time>)")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: empty + "/sweep.json"))
        #expect(message(run, empty)?.hasPrefix("\(empty)/sweep.json: cannot be read (") == true)
    }
}
