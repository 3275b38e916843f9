import ClusterCore
import Foundation

/// The machine-readable result of a run: the content of `report.json`.
///
/// Everything `report.html` and `summary.txt` show comes from this document
/// (and the node dumps it was built from), so `orchestrator report RUN_DIR`
/// can render them again.
public struct RunReport: Sendable, Codable {
    public static let currentSchemaVersion = 1

    public var schemaVersion = RunReport.currentSchemaVersion
    public var name: String
    public var topologyFile: String
    public var runDirectory: String
    public var startedWallNs: UInt64
    /// Measured phase length actually run, seconds.
    public var durationSeconds: Double
    public var seed: UInt64
    public var launcher: String
    /// Set when the run was interrupted or failed before its end: the report is partial.
    public var aborted: String?
    public var environment: Environment
    public var timings: Timings
    public var writer: WriterSummary
    public var nodes: [NodeReport]
    /// Fan-out latency merged over fast readers, per role and overall.
    public var latencyByRole: [String: LatencySummary]
    public var latencyOverall: LatencySummary
    /// Percentile curve of the merged fast-reader histogram: (percentile, µs).
    public var percentileCurve: [PercentilePoint]
    public var totals: Totals
    public var faults: [FaultRecord]
    public var slo: [SLOResult]
    /// Where the run's services listened; nil in reports written before it.
    public var endpoints: RunEndpoints?
    /// The host, second by second; nil in reports written before it.
    public var host: [HostSample]?
    /// Stretches where the fast readers' latency jumped, with what was measured
    /// then (``SpikeAttribution``); nil in reports written before it.
    public var spikes: [LatencySpike]?
    /// How busy the host was over the measured phase.
    public var hostSaturation: HostSaturation?
    /// CURVE: every connection not let through, where and whose; nil for a run without it.
    public var security: SecurityReport?
    /// What the control plane refused; nil in reports written before it.
    public var controlPlane: ControlPlaneSummary?

    public init(name: String, topologyFile: String, runDirectory: String, startedWallNs: UInt64, durationSeconds: Double,
                seed: UInt64, launcher: String, aborted: String?, environment: Environment, timings: Timings,
                writer: WriterSummary, nodes: [NodeReport], latencyByRole: [String: LatencySummary],
                latencyOverall: LatencySummary, percentileCurve: [PercentilePoint], totals: Totals,
                faults: [FaultRecord], slo: [SLOResult]) {
        self.name = name
        self.topologyFile = topologyFile
        self.runDirectory = runDirectory
        self.startedWallNs = startedWallNs
        self.durationSeconds = durationSeconds
        self.seed = seed
        self.launcher = launcher
        self.aborted = aborted
        self.environment = environment
        self.timings = timings
        self.writer = writer
        self.nodes = nodes
        self.latencyByRole = latencyByRole
        self.latencyOverall = latencyOverall
        self.percentileCurve = percentileCurve
        self.totals = totals
        self.faults = faults
        self.slo = slo
    }

    public struct Environment: Sendable, Codable {
        public var host: HostInfo
        public var libzmq: String
        public var orchestratorPid: Int32
        /// The orchestrator's own CPU over the measured phase, percent of one core.
        public var orchestratorCpuPercent: Double
        /// The orchestrator's peak resident memory over the whole run (VmHWM).
        public var orchestratorPeakRssMB: Double
        /// The host's steal time over the measured phase, percent of all CPU time
        /// (`/proc/stat`; nil where it could not be read, or in reports written before it).
        public var hostStealPercent: Double?
        /// How much the orchestrator's own RSS grew, as a node's growth is
        /// measured; nil in reports written before it.
        public var orchestratorGrowthMB: Double?

        public init(host: HostInfo, libzmq: String, orchestratorPid: Int32, orchestratorCpuPercent: Double, orchestratorPeakRssMB: Double,
                    hostStealPercent: Double? = nil, orchestratorGrowthMB: Double? = nil) {
            self.orchestratorGrowthMB = orchestratorGrowthMB
            self.host = host
            self.libzmq = libzmq
            self.orchestratorPid = orchestratorPid
            self.orchestratorCpuPercent = orchestratorCpuPercent
            self.orchestratorPeakRssMB = orchestratorPeakRssMB
            self.hostStealPercent = hostStealPercent
        }
    }

    public struct Timings: Sendable, Codable {
        /// From the first launch to every initial node READY, ms.
        public var launchToReadyMs: Double
        /// From the end of the measured phase to every process gone, ms.
        public var teardownMs: Double
        /// From STOP to every final dump received, ms.
        public var collectMs: Double

        public init(launchToReadyMs: Double, teardownMs: Double, collectMs: Double) {
            self.launchToReadyMs = launchToReadyMs
            self.teardownMs = teardownMs
            self.collectMs = collectMs
        }
    }

    public struct WriterSummary: Sendable, Codable {
        public var published: UInt64
        public var finalVersion: UInt64
        public var epoch: UInt64
        public var rateAsked: Double
        public var rateAchieved: Double
        public var illegalEvents: UInt64
        public var sendCallLatency: LatencySummary
        public var restarts: Int
        /// What each incarnation published, one epoch each, oldest first; `published` is their sum.
        public var incarnations: [EpochCount]?
        /// The topology's promise (`every-version`, `newest-state`); nil in reports written before it.
        public var promise: String?
        /// Versions made but not sent, folded into a newer one (newest-state); nil in reports written before it.
        public var coalesced: UInt64?
        /// What batching did; nil when the writer did not batch (or in reports written before it).
        public var batching: BatchingSummary?

        public init(published: UInt64, finalVersion: UInt64, epoch: UInt64, rateAsked: Double, rateAchieved: Double,
                    illegalEvents: UInt64, sendCallLatency: LatencySummary, restarts: Int, incarnations: [EpochCount]? = nil) {
            self.incarnations = incarnations
            self.published = published
            self.finalVersion = finalVersion
            self.epoch = epoch
            self.rateAsked = rateAsked
            self.rateAchieved = rateAchieved
            self.illegalEvents = illegalEvents
            self.sendCallLatency = sendCallLatency
            self.restarts = restarts
        }
    }

    public struct Totals: Sendable, Codable {
        public var readers: Int
        public var fastReaders: Int
        public var delivered: UInt64
        public var lost: UInt64
        public var lostFastReaders: UInt64
        public var skipped: UInt64
        public var decodeErrors: UInt64
        public var crashes: Int
        public var queryServed: UInt64
        public var queryBusy: UInt64
        public var busyRatio: Double
        public var peakReaderRssMB: Double
        public var maxMemoryGrowthMB: Double
        public var maxConvergeMs: Double
        /// Snapshot lines log readers could not write (a full or failing file
        /// system): versions their files do not hold. Nil in reports written before it.
        public var logLinesNotWritten: UInt64?
        /// Failed writes and fsyncs of log files.
        public var logWriteErrors: UInt64?

        public init(readers: Int, fastReaders: Int, delivered: UInt64, lost: UInt64, lostFastReaders: UInt64, skipped: UInt64,
                    decodeErrors: UInt64, crashes: Int, queryServed: UInt64, queryBusy: UInt64, busyRatio: Double,
                    peakReaderRssMB: Double, maxMemoryGrowthMB: Double, maxConvergeMs: Double,
                    logLinesNotWritten: UInt64? = nil, logWriteErrors: UInt64? = nil) {
            self.logLinesNotWritten = logLinesNotWritten
            self.logWriteErrors = logWriteErrors
            self.readers = readers
            self.fastReaders = fastReaders
            self.delivered = delivered
            self.lost = lost
            self.lostFastReaders = lostFastReaders
            self.skipped = skipped
            self.decodeErrors = decodeErrors
            self.crashes = crashes
            self.queryServed = queryServed
            self.queryBusy = queryBusy
            self.busyRatio = busyRatio
            self.peakReaderRssMB = peakReaderRssMB
            self.maxMemoryGrowthMB = maxMemoryGrowthMB
            self.maxConvergeMs = maxConvergeMs
        }
    }
}

/// What a batching writer's frames carried, from its dump.
public struct BatchingSummary: Sendable, Codable, Hashable {
    /// The topology's `writer.batch`.
    public var maxCount: Int
    public var maxDelayUs: Double
    /// Frames of versions sent, and the versions in them.
    public var frames: UInt64
    public var versions: UInt64
    /// Frames of more than one version (`SNB1`), and the versions they carried.
    public var batchFrames: UInt64
    public var batchedVersions: UInt64
    /// How many frames carried how many versions, by powers of two.
    public var sizes: [BatchSizeBucket]
    /// Per version, from its making to the send of its frame: the delay batching added.
    public var delay: LatencySummary

    public init(maxCount: Int, maxDelayUs: Double, frames: UInt64, versions: UInt64, batchFrames: UInt64,
                batchedVersions: UInt64, sizes: [BatchSizeBucket], delay: LatencySummary) {
        self.maxCount = maxCount
        self.maxDelayUs = maxDelayUs
        self.frames = frames
        self.versions = versions
        self.batchFrames = batchFrames
        self.batchedVersions = batchedVersions
        self.sizes = sizes
        self.delay = delay
    }

    /// Versions per frame, on average.
    public var meanVersionsPerFrame: Double { frames > 0 ? Double(versions) / Double(frames) : 0 }
}

/// Frames that carried more than `from − 1` and at most `upTo` versions.
public struct BatchSizeBucket: Sendable, Codable, Hashable {
    public var from: Int
    public var upTo: Int
    public var frames: UInt64

    public init(from: Int, upTo: Int, frames: UInt64) {
        self.from = from
        self.upTo = upTo
        self.frames = frames
    }

    /// `1`, `2`, `3–4`, `5–8` …
    public var label: String { from == upTo ? "\(upTo)" : "\(from)–\(upTo)" }
}

public struct PercentilePoint: Sendable, Codable, Hashable {
    public var percentile: Double
    public var us: Double
    public init(percentile: Double, us: Double) {
        self.percentile = percentile
        self.us = us
    }
}

/// One node of the run, as the report shows it.
public struct NodeReport: Sendable, Codable {
    public var name: String
    public var group: String
    public var role: NodeRole
    public var policy: String?
    /// A fast reader: no processing delay and no fault aimed at it. SLOs on losses apply to these.
    public var fast: Bool
    public var status: NodeStatus
    public var exit: String?
    public var restarts: Int
    public var pids: [Int32]
    public var counters: [String: UInt64]
    public var gauges: [String: Double]
    public var latency: LatencySummary
    public var latencies: [String: LatencySummary]
    public var series: [SeriesPoint]
    public var converge: [ConvergeEvent]
    public var resources: ResourceSummary?
    /// The node's wall clock minus the orchestrator's, estimated over the control plane.
    public var clock: ClockOffset?

    public init(name: String, group: String, role: NodeRole, policy: String?, fast: Bool, status: NodeStatus, exit: String?,
                restarts: Int, pids: [Int32], counters: [String: UInt64], gauges: [String: Double], latency: LatencySummary,
                latencies: [String: LatencySummary], series: [SeriesPoint], converge: [ConvergeEvent], resources: ResourceSummary?,
                clock: ClockOffset? = nil) {
        self.name = name
        self.group = group
        self.role = role
        self.policy = policy
        self.fast = fast
        self.status = status
        self.exit = exit
        self.restarts = restarts
        self.pids = pids
        self.counters = counters
        self.gauges = gauges
        self.latency = latency
        self.latencies = latencies
        self.series = series
        self.converge = converge
        self.resources = resources
        self.clock = clock
    }

    public var lost: UInt64 { counters[.lost] }
    public var received: UInt64 { counters[.received] }

    /// The count of `counter`, 0 when the node does not count it.
    public subscript(_ counter: Counter) -> UInt64 { counters[counter] }
}

/// A node's wall-clock offset from the orchestrator's, estimated from
/// request/response samples over the control plane (the lowest-RTT ones).
public struct ClockOffset: Sendable, Codable, Hashable {
    /// Node wall clock minus orchestrator wall clock, nanoseconds.
    public var offsetNs: Int64
    /// Half the smallest round trip: the offset is within ± this.
    public var uncertaintyNs: UInt64
    public var samples: Int

    public init(offsetNs: Int64, uncertaintyNs: UInt64, samples: Int) {
        self.offsetNs = offsetNs
        self.uncertaintyNs = uncertaintyNs
        self.samples = samples
    }

    /// The estimate from (sent, node, received) samples: the lowest round
    /// trip's. The node read its clock between `sent` and `received`, so the
    /// offset from the midpoint is exact within half that round trip.
    public static func estimate(_ samples: [(sent: UInt64, node: UInt64, received: UInt64)]) -> ClockOffset? {
        let valid = samples.filter { $0.received >= $0.sent }
        guard let best = valid.min(by: { ($0.received - $0.sent) < ($1.received - $1.sent) }) else { return nil }
        let midpoint = best.sent + (best.received - best.sent) / 2
        return ClockOffset(offsetNs: Int64(bitPattern: best.node &- midpoint), uncertaintyNs: (best.received - best.sent) / 2,
                           samples: valid.count)
    }
}

/// CPU and memory of one node over the run, sampled from /proc every 500 ms
/// (USS and PSS on the first sample, then once a minute; a sample repeats the last read).
public struct ResourceSummary: Sendable, Codable {
    public var peakCpuPercent: Double
    public var meanCpuPercent: Double
    public var peakRssMB: Double
    public var meanRssMB: Double
    public var peakUssMB: Double
    public var peakPssMB: Double
    /// Mean RSS of the last minute minus the first minute (of the last and first thirds when shorter), MB.
    public var growthMB: Double
    public var samples: [ResourceSample]

    public init(peakCpuPercent: Double, meanCpuPercent: Double, peakRssMB: Double, meanRssMB: Double, peakUssMB: Double,
                peakPssMB: Double, growthMB: Double, samples: [ResourceSample]) {
        self.peakCpuPercent = peakCpuPercent
        self.meanCpuPercent = meanCpuPercent
        self.peakRssMB = peakRssMB
        self.meanRssMB = meanRssMB
        self.peakUssMB = peakUssMB
        self.peakPssMB = peakPssMB
        self.growthMB = growthMB
        self.samples = samples
    }
}

/// A fault as planned and as applied.
public struct FaultRecord: Sendable, Codable {
    public var plannedAtSeconds: Double
    /// When it was applied, seconds since the measured phase began.
    public var appliedAtSeconds: Double?
    public var action: FaultStep
    public var target: String
    public var detail: String
    public var outcome: FaultOutcome
    public var source: String

    public init(plannedAtSeconds: Double, appliedAtSeconds: Double?, action: FaultStep, target: String, detail: String,
                outcome: FaultOutcome, source: String) {
        self.plannedAtSeconds = plannedAtSeconds
        self.appliedAtSeconds = appliedAtSeconds
        self.action = action
        self.target = target
        self.detail = detail
        self.outcome = outcome
        self.source = source
    }
}

/// One SLO of the topology, checked.
public struct SLOResult: Sendable, Codable {
    public var name: String
    public var limit: Double
    public var measured: Double
    public var unit: String
    public var pass: Bool
    public var detail: String

    public init(name: String, limit: Double, measured: Double, unit: String, pass: Bool, detail: String) {
        self.name = name
        self.limit = limit
        self.measured = measured
        self.unit = unit
        self.pass = pass
        self.detail = detail
    }
}

extension RunReport {
    public func jsonData() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self)
    }

    public static func load(path: String) throws -> RunReport {
        try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Whether every SLO held.
    public var sloPassed: Bool { slo.allSatisfy(\.pass) }
}

/// What became of a node, as the report shows it.
public enum NodeStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// It ran to the end and sent its final dump.
    case completed
    /// It ended by SIGKILL (a fault) without a final dump.
    case killed
    /// It ended by SIGTERM (a fault) without a final dump.
    case terminated
    /// It exited unexpectedly.
    case crashed
    /// It exited without a final dump, neither killed nor crashed.
    case exited
    /// It was never launched (a late joiner whose time never came, or a launch that failed).
    case neverStarted = "never-started"
    /// It was launched but never reported READY.
    case neverReady = "never-ready"
    /// It ended, but its final dump never arrived.
    case noFinalDump = "no-final-dump"
}

/// What became of one fault on one target.
public enum FaultOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    case applied
    /// Not applicable here: the target was not running, or the launcher cannot apply it.
    case skipped
    case failed
}

/// A step of a fault: the fault itself, or the heal of a network fault after its `for`.
/// Stored as the action's name, or `"heal"`.
public enum FaultStep: Sendable, Hashable, Codable, CustomStringConvertible {
    case fault(FaultAction)
    case heal

    public var description: String {
        switch self {
        case .fault(let a): a.rawValue
        case .heal: "heal"
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        if text == "heal" {
            self = .heal
        } else if let action = FaultAction(rawValue: text) {
            self = .fault(action)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not a fault action or \"heal\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// One sample of a node's CPU and memory. Stored as the array
/// `[t seconds, cpu %, rss MB, uss MB, pss MB]`.
public struct ResourceSample: Sendable, Hashable, Codable {
    /// Seconds since the measured phase began (negative before it).
    public var t: Double
    /// Percent of one core since the previous sample.
    public var cpuPercent: Double
    public var rssMB: Double
    /// As last read (USS and PSS are read less often than the rest).
    public var ussMB: Double
    public var pssMB: Double

    public init(t: Double, cpuPercent: Double, rssMB: Double, ussMB: Double, pssMB: Double) {
        self.t = t
        self.cpuPercent = cpuPercent
        self.rssMB = rssMB
        self.ussMB = ussMB
        self.pssMB = pssMB
    }

    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        t = try c.decode(Double.self)
        cpuPercent = try c.decode(Double.self)
        rssMB = try c.decode(Double.self)
        ussMB = c.isAtEnd ? 0 : try c.decode(Double.self)
        pssMB = c.isAtEnd ? 0 : try c.decode(Double.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(t)
        try c.encode(cpuPercent)
        try c.encode(rssMB)
        try c.encode(ussMB)
        try c.encode(pssMB)
    }
}

/// Where a run's services listen: what an outside subscriber (such as
/// `scripts/py-subscriber.py --run RUN_DIR`) connects to. Written to
/// `endpoints.json` in the run directory before any node starts, and into
/// run-state.json and report.json.
public struct RunEndpoints: Sendable, Codable, Hashable {
    public struct Writer: Sendable, Codable, Hashable {
        /// The PUB socket: SNP1, SNB1, HBT1 and END1 frames.
        public var pub: String
        /// The snapshot service (ROUTER).
        public var snapshots: String
    }

    /// The orchestrator's control plane (ROUTER).
    public var control: String
    public var writer: Writer
    /// Each relay's XPUB, by node.
    public var relays: [String: String]
    /// Each query reader's service (ROUTER), by node.
    public var queryServices: [String: String]

    public static let fileName = "endpoints.json"
}

/// The host over one second of the run, sampled by the orchestrator from /proc/stat.
public struct HostSample: Sendable, Codable, Hashable {
    /// Seconds since the measured phase began (negative before it).
    public var t: Double
    /// Busy CPU over the second, percent of one CPU (200 on two CPUs never idle).
    public var cpuBusyPercent: Double
    /// CPU time the hypervisor gave to others, percent of all CPU time.
    public var stealPercent: Double
    /// Runnable tasks at the sample (`procs_running`: on a CPU or waiting for one).
    public var runQueue: Int

    public init(t: Double, cpuBusyPercent: Double, stealPercent: Double, runQueue: Int) {
        self.t = t
        self.cpuBusyPercent = cpuBusyPercent
        self.stealPercent = stealPercent
        self.runQueue = runQueue
    }
}
