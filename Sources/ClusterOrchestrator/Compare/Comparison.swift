import ClusterCore
import Foundation

/// What a comparison row concluded.
public enum CompareVerdict: String, Sendable, Hashable, Codable {
    /// B is lower (every figure compared is better lower), beyond the threshold with 95 % confidence.
    case better
    /// B is higher, beyond the threshold with 95 % confidence.
    case worse
    /// The interval of the change reaches inside ±threshold.
    case same = "no significant difference"
    /// Too few samples to test (a role with one reader has one p99.9).
    case untested = "not tested"
}

/// One figure of one role, side A against side B.
public struct CompareRow: Sendable, Codable {
    public var metric: String
    public var unit: String
    /// The figure as the reports give it (the median over the runs of a side).
    public var a: Double?
    public var b: Double?
    /// (b − a) / a of the figures shown; ±infinity from 0.
    public var change: Double?
    /// The 95 % interval of the relative change of the test's statistic.
    public var intervalLow: Double?
    public var intervalHigh: Double?
    /// What the test compared: "per-second median over readers, 10 vs 10 s".
    public var basis: String
    public var verdict: CompareVerdict
}

/// The rows of one role (or the writer, or every fast reader).
public struct CompareTable: Sendable, Codable {
    public var title: String
    public var rows: [CompareRow]
}

/// A comparison of two runs, or of the matching points of two sweeps.
public struct Comparison: Sendable, Codable {
    public enum Kind: String, Sendable, Codable { case runs, sweeps }

    public var kind: Kind
    public var a: String
    public var b: String
    /// The smallest relative change reported, 0.1 for 10 %.
    public var threshold: Double
    public var level: Double
    public var replicates: Int
    /// Settings that differ between the sides: the comparison may measure them rather than what was meant.
    public var warnings: [String]
    /// One per role and overall (runs), or per matching point (sweeps).
    public var tables: [CompareTable]

    public var worse: Int { tables.reduce(0) { $0 + $1.rows.filter { $0.verdict == .worse }.count } }
    public var better: Int { tables.reduce(0) { $0 + $1.rows.filter { $0.verdict == .better }.count } }
    public var same: Int { tables.reduce(0) { $0 + $1.rows.filter { $0.verdict == .same }.count } }
    public var untested: Int { tables.reduce(0) { $0 + $1.rows.filter { $0.verdict == .untested }.count } }

    public func jsonData() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try enc.encode(self)
    }
}

/// Builds comparisons: the figures of each side, the bootstrap interval of
/// each change, and the verdict against the threshold.
///
/// A row is `worse` when the whole 95 % interval of the relative change lies
/// above +threshold (and its absolute change above 0), `better` when it lies
/// below −threshold, otherwise `no significant difference`. The threshold is
/// the smallest change worth reporting; 0 makes it a plain two-sided test at
/// the 5 % level. docs/capacity.md explains what the samples are and what the
/// rate of false alarms was between identical runs.
public struct Comparer {
    public var threshold: Double
    public var level = 0.95
    public var replicates = 2_000
    /// The bootstrap's seed: the same reports always give the same comparison.
    public var seed: UInt64 = 0x5EED

    public init(threshold: Double) {
        self.threshold = threshold
    }

    // MARK: Runs

    /// One side: the reports of its runs (one for a run directory, the repeats of a sweep point).
    public struct Side: Sendable {
        public var reports: [RunReport]
        public init(_ reports: [RunReport]) { self.reports = reports }
    }

    /// Tables for every fast-reader role, all fast readers, and the writer.
    public func tables(_ a: Side, _ b: Side, rng: inout SeededRandom, prefix: String = "") -> [CompareTable] {
        let roles = Set(a.reports.flatMap(readerRoles) + b.reports.flatMap(readerRoles)).sorted()
        var out: [CompareTable] = []
        // With one role, its table would repeat the overall one.
        for role in (roles.count > 1 ? roles : []) + ["all"] {
            let na = a.reports.map { fastReaders($0, role).count }, nb = b.reports.map { fastReaders($0, role).count }
            let title = role != "all" ? "role \(role)" : roles.count == 1 ? "all fast readers, role \(roles[0])" : "all fast readers"
            out.append(CompareTable(title: "\(prefix)\(title) (fast readers: \(counts(na)) vs \(counts(nb)))",
                                    rows: readerRows(a, b, role: role, rng: &rng)))
        }
        out.append(CompareTable(title: "\(prefix)writer", rows: writerRows(a, b, rng: &rng)))
        return out
    }

    private func counts(_ n: [Int]) -> String {
        Set(n).count == 1 ? "\(n[0])" : n.map(String.init).joined(separator: "/")
    }

    func readerRoles(_ r: RunReport) -> [String] {
        r.nodes.filter { $0.role.isReader && $0.fast }.map(\.role.name)
    }

    func fastReaders(_ r: RunReport, _ role: String) -> [NodeReport] {
        r.nodes.filter { $0.role.isReader && $0.fast && (role == "all" || $0.role.name == role) }
    }

    func latency(_ r: RunReport, _ role: String) -> LatencySummary? {
        role == "all" ? r.latencyOverall : r.latencyByRole[role]
    }

    /// A metric: how its figure is read from a report, how its samples are drawn from a run.
    private struct Metric {
        var name: String
        var unit: String
        var figure: (RunReport) -> Double?
        var samples: (RunReport) -> [Double]
        var ordered: Bool
        var statistic: Bootstrap.Statistic
        var basis: String
    }

    private func readerRows(_ a: Side, _ b: Side, role: String, rng: inout SeededRandom) -> [CompareRow] {
        let metrics: [Metric] = [
            Metric(name: "p50", unit: "µs", figure: { latency($0, role).flatMap { $0.count > 0 ? $0.p50Us : nil } },
                   samples: { perSecond(fastReaders($0, role), \.p50Us, Stats.median) }, ordered: true, statistic: .median,
                   basis: "per-second p50, median over readers"),
            Metric(name: "p99", unit: "µs", figure: { latency($0, role).flatMap { $0.count > 0 ? $0.p99Us : nil } },
                   samples: { perSecond(fastReaders($0, role), \.p99Us, Stats.median) }, ordered: true, statistic: .median,
                   basis: "per-second p99, median over readers"),
            // No per-second p99.9 is kept: each second's tail is the worst reader's p99 that second.
            Metric(name: "p99.9", unit: "µs", figure: { latency($0, role).flatMap { $0.count > 0 ? $0.p999Us : nil } },
                   samples: { perSecond(fastReaders($0, role), \.p99Us, { $0.max() ?? 0 }) }, ordered: true,
                   statistic: .median, basis: "per-second p99 of the worst reader"),
            Metric(name: "max", unit: "µs", figure: { latency($0, role).flatMap { $0.count > 0 ? $0.maxUs : nil } },
                   samples: { perSecond(fastReaders($0, role), \.maxUs, { $0.max() ?? 0 }) }, ordered: true, statistic: .median,
                   basis: "per-second max over readers"),
            Metric(name: "loss", unit: "messages", figure: { Double(fastReaders($0, role).reduce(0) { $0 + $1.lost }) },
                   samples: { perSecondLoss(fastReaders($0, role)) }, ordered: true, statistic: .mean,
                   basis: "messages lost per second"),
            Metric(name: "skipped", unit: "messages", figure: { Double(fastReaders($0, role).reduce(0) { $0 + $1[.skipped] }) },
                   samples: { fastReaders($0, role).map { Double($0[.skipped]) } }, ordered: false, statistic: .mean,
                   basis: "per-reader skipped"),
            Metric(name: "CPU %", unit: "%", figure: { r in
                       let cpu = fastReaders(r, role).compactMap { $0.resources?.meanCpuPercent }
                       return cpu.isEmpty ? nil : Stats.mean(cpu)
                   }, samples: { r in perSecondResources(fastReaders(r, role), r.durationSeconds, \.cpuPercent, Stats.mean) },
                   ordered: true, statistic: .median, basis: "per-second CPU, mean over readers"),
            Metric(name: "RSS MB", unit: "MB", figure: { fastReaders($0, role).compactMap { $0.resources?.peakRssMB }.max() },
                   samples: { r in perSecondResources(fastReaders(r, role), r.durationSeconds, \.rssMB, { $0.max() ?? 0 }) },
                   ordered: true, statistic: .median, basis: "per-second RSS, largest reader"),
        ]
        return metrics.map { row($0, a, b, rng: &rng) }
    }

    private func writerRows(_ a: Side, _ b: Side, rng: inout SeededRandom) -> [CompareRow] {
        func writer(_ r: RunReport) -> [NodeReport] { r.nodes.filter { $0.role == .writer } }
        let metrics: [Metric] = [
            Metric(name: "CPU %", unit: "%", figure: { writer($0).first?.resources?.meanCpuPercent },
                   samples: { r in perSecondResources(writer(r), r.durationSeconds, \.cpuPercent, Stats.mean) }, ordered: true,
                   statistic: .median, basis: "per-second CPU"),
            Metric(name: "RSS MB", unit: "MB", figure: { writer($0).first?.resources?.peakRssMB },
                   samples: { r in perSecondResources(writer(r), r.durationSeconds, \.rssMB, { $0.max() ?? 0 }) }, ordered: true,
                   statistic: .median, basis: "per-second RSS"),
        ]
        return metrics.map { row($0, a, b, rng: &rng) }
    }

    /// The smallest sample a side may have for its row to be tested.
    static let minSamples = 3

    private func row(_ m: Metric, _ a: Side, _ b: Side, rng: inout SeededRandom) -> CompareRow {
        let fa = a.reports.compactMap(m.figure), fb = b.reports.compactMap(m.figure)
        let va = fa.isEmpty ? nil : Stats.median(fa), vb = fb.isEmpty ? nil : Stats.median(fb)
        let change = va.flatMap { x in vb.map { Bootstrap.relative(x, $0) } }
        let sa = Bootstrap.Side(groups: a.reports.map(m.samples), ordered: m.ordered)
        let sb = Bootstrap.Side(groups: b.reports.map(m.samples), ordered: m.ordered)
        var basis = "\(m.basis), \(sampleCount(sa, m)) vs \(sampleCount(sb, m))"
        if a.reports.count > 1 || b.reports.count > 1 { basis += " (runs \(a.reports.count) vs \(b.reports.count))" }
        var r = CompareRow(metric: m.name, unit: m.unit, a: va, b: vb, change: change, intervalLow: nil, intervalHigh: nil,
                           basis: basis, verdict: .untested)
        let allZero = sa.pooled.allSatisfy { $0 == 0 } && sb.pooled.allSatisfy { $0 == 0 } && (va ?? 0) == 0 && (vb ?? 0) == 0
        if allZero, va != nil, vb != nil {
            r.intervalLow = 0
            r.intervalHigh = 0
            r.verdict = .same
            return r
        }
        guard sa.count >= Self.minSamples, sb.count >= Self.minSamples else { return r }
        let boot = Bootstrap(statistic: m.statistic, level: level, replicates: replicates)
        guard let i = boot.interval(sa, sb, rng: &rng) else { return r }
        r.intervalLow = i.relativeLow
        r.intervalHigh = i.relativeHigh
        r.verdict = verdict(i)
        return r
    }

    /// The verdict of an interval: beyond ±threshold entirely, or not.
    func verdict(_ i: Bootstrap.Interval) -> CompareVerdict {
        if i.relativeLow > threshold, i.absoluteLow > 0 { return .worse }
        if i.relativeHigh < -threshold, i.absoluteHigh < 0 { return .better }
        return .same
    }

    private func sampleCount(_ s: Bootstrap.Side, _ m: Metric) -> String {
        m.ordered ? "\(s.count) s" : "\(s.count)"
    }

    // MARK: Samples

    /// Per whole second of the measured phase: `combine` over the nodes' series values that second.
    func perSecond(_ nodes: [NodeReport], _ value: KeyPath<SeriesPoint, Double>, _ combine: ([Double]) -> Double) -> [Double] {
        var bySecond: [Int: [Double]] = [:]
        for n in nodes {
            for p in n.series where p.count > 0 && p.t >= 0 {
                bySecond[Int(p.t), default: []].append(p[keyPath: value])
            }
        }
        return bySecond.keys.sorted().map { combine(bySecond[$0]!) }
    }

    /// Messages lost per second, summed over the nodes (seconds with no message at all included).
    func perSecondLoss(_ nodes: [NodeReport]) -> [Double] {
        var bySecond: [Int: Double] = [:]
        for n in nodes {
            for p in n.series where p.t >= 0 {
                bySecond[Int(p.t), default: 0] += Double(p.lost)
            }
        }
        return bySecond.keys.sorted().map { bySecond[$0]! }
    }

    /// Per whole second of the measured phase: `combine` over the nodes' /proc samples that second.
    func perSecondResources(_ nodes: [NodeReport], _ duration: Double, _ value: KeyPath<ResourceSample, Double>,
                            _ combine: ([Double]) -> Double) -> [Double] {
        var bySecond: [Int: [Double]] = [:]
        for n in nodes {
            guard let samples = n.resources?.samples else { continue }
            // A node's value that second: the mean of its samples (two, at one every 500 ms).
            var own: [Int: [Double]] = [:]
            for s in samples where s.t > 0 && s.t <= duration {
                own[Int(s.t), default: []].append(s[keyPath: value])
            }
            for (sec, v) in own { bySecond[sec, default: []].append(Stats.mean(v)) }
        }
        return bySecond.keys.sorted().map { combine(bySecond[$0]!) }
    }
}
