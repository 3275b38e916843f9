import ClusterCore
import Foundation

/// The key figures of one run, taken from its `report.json`.
public struct RunFigures: Sendable, Codable, Hashable {
    /// Fan-out latency merged over the fast readers, µs.
    public var p50Us: Double
    public var p99Us: Double
    public var p999Us: Double
    public var maxUs: Double
    /// Latency samples behind the percentiles (0: nothing measured).
    public var latencyCount: UInt64
    public var lostFastReaders: UInt64
    public var lost: UInt64
    public var skipped: UInt64
    public var delivered: UInt64
    public var published: UInt64
    public var rateAchieved: Double
    /// The writer's mean CPU over the run, percent of one core.
    public var writerCpuPercent: Double?
    public var writerPeakRssMB: Double?
    /// The readers' mean CPU, per reader, percent of one core.
    public var readerCpuPercent: Double?
    /// All readers' CPU together, percent of one core.
    public var readersTotalCpuPercent: Double?
    /// The largest reader's peak RSS.
    public var readerPeakRssMB: Double?
    public var hostStealPercent: Double?

    public init(p50Us: Double, p99Us: Double, p999Us: Double, maxUs: Double, latencyCount: UInt64, lostFastReaders: UInt64,
                lost: UInt64, skipped: UInt64, delivered: UInt64, published: UInt64, rateAchieved: Double,
                writerCpuPercent: Double?, writerPeakRssMB: Double?, readerCpuPercent: Double?, readersTotalCpuPercent: Double?,
                readerPeakRssMB: Double?, hostStealPercent: Double?) {
        self.p50Us = p50Us
        self.p99Us = p99Us
        self.p999Us = p999Us
        self.maxUs = maxUs
        self.latencyCount = latencyCount
        self.lostFastReaders = lostFastReaders
        self.lost = lost
        self.skipped = skipped
        self.delivered = delivered
        self.published = published
        self.rateAchieved = rateAchieved
        self.writerCpuPercent = writerCpuPercent
        self.writerPeakRssMB = writerPeakRssMB
        self.readerCpuPercent = readerCpuPercent
        self.readersTotalCpuPercent = readersTotalCpuPercent
        self.readerPeakRssMB = readerPeakRssMB
        self.hostStealPercent = hostStealPercent
    }

    /// The figures of a run's report.
    public init(_ r: RunReport) {
        let l = r.latencyOverall
        let writer = r.nodes.first { $0.role == .writer }?.resources
        let readers = r.nodes.filter(\.role.isReader).compactMap(\.resources)
        let cpu = readers.map(\.meanCpuPercent)
        self.init(p50Us: l.p50Us, p99Us: l.p99Us, p999Us: l.p999Us, maxUs: l.maxUs, latencyCount: l.count,
                  lostFastReaders: r.totals.lostFastReaders, lost: r.totals.lost, skipped: r.totals.skipped,
                  delivered: r.totals.delivered, published: r.writer.published, rateAchieved: r.writer.rateAchieved,
                  writerCpuPercent: writer?.meanCpuPercent, writerPeakRssMB: writer?.peakRssMB,
                  readerCpuPercent: cpu.isEmpty ? nil : cpu.reduce(0, +) / Double(cpu.count),
                  readersTotalCpuPercent: cpu.isEmpty ? nil : cpu.reduce(0, +),
                  readerPeakRssMB: readers.map(\.peakRssMB).max(), hostStealPercent: r.environment.hostStealPercent)
    }

    /// The median of each figure over several runs (the runs of one point).
    public static func median(_ runs: [RunFigures]) -> RunFigures? {
        guard !runs.isEmpty else { return nil }
        func m(_ k: KeyPath<RunFigures, Double>) -> Double { Stats.median(runs.map { $0[keyPath: k] }) }
        func mo(_ k: KeyPath<RunFigures, Double?>) -> Double? {
            let v = runs.compactMap { $0[keyPath: k] }
            return v.isEmpty ? nil : Stats.median(v)
        }
        func mc(_ k: KeyPath<RunFigures, UInt64>) -> UInt64 { UInt64(Stats.median(runs.map { Double($0[keyPath: k]) }).rounded()) }
        return RunFigures(p50Us: m(\.p50Us), p99Us: m(\.p99Us), p999Us: m(\.p999Us), maxUs: m(\.maxUs),
                          latencyCount: mc(\.latencyCount), lostFastReaders: mc(\.lostFastReaders), lost: mc(\.lost),
                          skipped: mc(\.skipped), delivered: mc(\.delivered), published: mc(\.published),
                          rateAchieved: m(\.rateAchieved), writerCpuPercent: mo(\.writerCpuPercent),
                          writerPeakRssMB: mo(\.writerPeakRssMB), readerCpuPercent: mo(\.readerCpuPercent),
                          readersTotalCpuPercent: mo(\.readersTotalCpuPercent), readerPeakRssMB: mo(\.readerPeakRssMB),
                          hostStealPercent: mo(\.hostStealPercent))
    }
}

/// How one run of a sweep ended.
public enum SweepRunOutcome: String, Sendable, Hashable, Codable {
    /// Every SLO held (exit 0).
    case passed
    /// An SLO was violated (exit 1).
    case sloViolated = "slo-violated"
    /// The run failed: bad input, nodes not ready, a report that could not be written (exit 2).
    case failed
    /// Stopped by Ctrl-C or SIGTERM; not counted.
    case interrupted
}

/// One run (repeat) of a sweep point.
public struct SweepRun: Sendable, Codable {
    /// 1-based.
    public var repeatIndex: Int
    /// The run directory, relative to the sweep directory; nil when the run made none.
    public var runDirectory: String?
    public var exitStatus: Int32?
    public var outcome: SweepRunOutcome
    /// Wall time of the whole run, launch to exit, seconds.
    public var seconds: Double
    public var figures: RunFigures?
    public var slo: [SLOResult]
    /// Why a run failed, from its report or its log.
    public var detail: String?

    public init(repeatIndex: Int, runDirectory: String?, exitStatus: Int32?, outcome: SweepRunOutcome, seconds: Double,
                figures: RunFigures?, slo: [SLOResult], detail: String?) {
        self.repeatIndex = repeatIndex
        self.runDirectory = runDirectory
        self.exitStatus = exitStatus
        self.outcome = outcome
        self.seconds = seconds
        self.figures = figures
        self.slo = slo
        self.detail = detail
    }

    /// Whether the run counts toward a decision (it ran to its end, pass or fail).
    public var counted: Bool { outcome != .interrupted }
}

/// A parameter's value at a point: `writer.rate` = `5000`.
public struct SweepAssignment: Sendable, Codable, Hashable {
    public var path: String
    /// As given on the command line (`5000`, `drop`, `2s`).
    public var value: String
    /// The value when it is a number.
    public var number: Double?

    public init(path: String, value: String, number: Double?) {
        self.path = path
        self.value = value
        self.number = number
    }

    init(_ path: TopologyPath, _ value: TopologyValue) {
        self.init(path: path.description, value: value.description, number: value.number)
    }

    public var text: String { "\(path)=\(value)" }
}

/// What a point came to.
public enum SweepPointResult: String, Sendable, Hashable, Codable {
    /// Every run met the SLOs (a knee-search probe: the probe rule passed).
    case pass
    /// A run violated an SLO or failed (a probe: the rule failed).
    case fail
    /// The value makes an invalid topology (the knee search's ceiling); nothing ran.
    case invalid
    /// Interrupted before the point was decided.
    case partial
}

/// One point of a sweep: the values, its runs and its figures.
public struct SweepPoint: Sendable, Codable {
    /// 1-based, in the order the points were first run.
    public var index: Int
    public var values: [SweepAssignment]
    /// The point's directory (its topology.json and its runs), relative to the sweep directory.
    public var directory: String
    public var runs: [SweepRun]
    public var result: SweepPointResult
    /// The median of each figure over the point's completed runs.
    public var figures: RunFigures?
    public var detail: String?

    public init(index: Int, values: [SweepAssignment], directory: String, runs: [SweepRun] = [],
                result: SweepPointResult = .partial, figures: RunFigures? = nil, detail: String? = nil) {
        self.index = index
        self.values = values
        self.directory = directory
        self.runs = runs
        self.result = result
        self.figures = figures
        self.detail = detail
    }

    public var passedRuns: Int { runs.filter { $0.outcome == .passed }.count }
    public var countedRuns: Int { runs.filter(\.counted).count }

    /// `writer.rate=5000 readers[0].count=10`.
    public var label: String { values.map(\.text).joined(separator: " ") }

    /// The value of `path` at this point.
    public func value(of path: String) -> SweepAssignment? { values.first { $0.path == path } }
}

/// The result of one knee search.
public struct KneeReport: Sendable, Codable {
    public enum Outcome: String, Sendable, Codable {
        /// A passing value with a failing one within the tolerance above it.
        case found
        /// No value passed, down to the lower limit.
        case nonePassed = "none-passed"
        /// Every value passed, up to the upper limit.
        case noFailure = "no-failure"
        /// Interrupted before it ended.
        case interrupted
    }

    /// The other parameter's value this search was made at (empty without `--vary`).
    public var fixed: [SweepAssignment]
    public var outcome: Outcome
    /// The highest value that passed.
    public var knee: Double?
    /// The lowest value that failed.
    public var failedAbove: Double?
    /// Runs that met the SLOs at the knee, and runs made there.
    public var kneePassed: Int?
    public var kneeRuns: Int?
    /// One-sided 95 % Clopper–Pearson lower bound of the probability that a run at the knee meets the SLOs.
    public var kneePassProbabilityLower95: Double?
    public var failedPassed: Int?
    public var failedRuns: Int?
    /// One-sided 95 % upper bound of that probability at the failing value above.
    public var failedPassProbabilityUpper95: Double?
    /// Pairs where a higher value passed than one that failed (noise, or SLOs that do not degrade steadily).
    public var contradictions: [[Double]]
    /// The point indexes probed, in order.
    public var probes: [Int]
    public var detail: String

    public init(fixed: [SweepAssignment], outcome: Outcome, knee: Double?, failedAbove: Double?, kneePassed: Int?, kneeRuns: Int?,
                kneePassProbabilityLower95: Double?, failedPassed: Int?, failedRuns: Int?, failedPassProbabilityUpper95: Double?,
                contradictions: [[Double]], probes: [Int], detail: String) {
        self.fixed = fixed
        self.outcome = outcome
        self.knee = knee
        self.failedAbove = failedAbove
        self.kneePassed = kneePassed
        self.kneeRuns = kneeRuns
        self.kneePassProbabilityLower95 = kneePassProbabilityLower95
        self.failedPassed = failedPassed
        self.failedRuns = failedRuns
        self.failedPassProbabilityUpper95 = failedPassProbabilityUpper95
        self.contradictions = contradictions
        self.probes = probes
        self.detail = detail
    }
}

/// How the knee search was set up.
public struct FindMaxSettings: Sendable, Codable {
    public var path: String
    public var start: Double
    public var lowerLimit: Double
    public var upperLimit: Double
    public var tolerance: String
    public var integral: Bool
    public var rule: String
    /// The rule's operating characteristic: for a run pass probability p, the
    /// chance the probe passes and the runs it takes on average.
    public var ruleCharacteristic: [RulePoint]

    public struct RulePoint: Sendable, Codable, Hashable {
        public var p: Double
        public var passProbability: Double
        public var expectedRuns: Double
    }
}

/// `sweep.json`: everything a sweep did, point by point.
public struct SweepReport: Sendable, Codable {
    public static let currentSchemaVersion = 1
    public enum Mode: String, Sendable, Codable {
        case grid
        case findMax = "find-max"
    }

    public var schemaVersion = SweepReport.currentSchemaVersion
    /// The topology's name.
    public var name: String
    public var topologyFile: String
    /// The sweep directory, as given.
    public var directory: String
    public var startedWallNs: UInt64
    public var endedWallNs: UInt64
    public var mode: Mode
    /// The varied parameters with their values (the first is the x axis, the second one line each).
    public var parameters: [SweepParameterReport]
    /// Settings applied to every point (`--duration`, `--seed`).
    public var settings: [SweepAssignment]
    /// Runs per point (grid mode).
    public var repeats: Int
    public var findMax: FindMaxSettings?
    public var knees: [KneeReport]
    public var points: [SweepPoint]
    /// Set when the sweep was interrupted: the points done are kept, the rest are missing.
    public var partial: Bool
    public var interruption: String?
    /// 0, 1 or 2, as the command exits.
    public var exitStatus: Int32
    /// One line saying what the sweep found.
    public var conclusion: String

    public func jsonData() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var d = try enc.encode(self)
        d.append(0x0A)
        return d
    }

    public static func load(path: String) throws -> SweepReport {
        try JSONDecoder().decode(SweepReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

public struct SweepParameterReport: Sendable, Codable, Hashable {
    public var path: String
    public var values: [String]
}
