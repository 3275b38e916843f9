import ClusterCore
import Foundation

/// What the orchestrator itself observed during a run — process fates,
/// resource samples, faults, timings — saved as `run-state.json` beside the
/// node dumps, so a report can be rebuilt from the run directory alone.
public struct RunState: Sendable, Codable {
    public var topologyFile: String
    public var launcher: String
    public var startedWallNs: UInt64
    public var durationSeconds: Double
    public var aborted: String?
    public var environment: RunReport.Environment
    public var timings: RunReport.Timings
    public var nodes: [ObservedNode]
    public var faults: [FaultRecord]

    public init(topologyFile: String, launcher: String, startedWallNs: UInt64, durationSeconds: Double, aborted: String?,
                environment: RunReport.Environment, timings: RunReport.Timings, nodes: [ObservedNode], faults: [FaultRecord]) {
        self.topologyFile = topologyFile
        self.launcher = launcher
        self.startedWallNs = startedWallNs
        self.durationSeconds = durationSeconds
        self.aborted = aborted
        self.environment = environment
        self.timings = timings
        self.nodes = nodes
        self.faults = faults
    }

    public static let fileName = "run-state.json"
}

/// One node as the orchestrator saw it.
public struct ObservedNode: Sendable, Codable {
    public var name: String
    public var group: String
    public var role: NodeRole
    public var status: NodeStatus
    public var exit: String?
    public var restarts: Int
    public var pids: [Int32]
    public var faulted: Bool
    public var hasFinal: Bool
    public var resources: ResourceSummary?
    public var clock: ClockOffset?

    public init(name: String, group: String, role: NodeRole, status: NodeStatus, exit: String?, restarts: Int, pids: [Int32],
                faulted: Bool, hasFinal: Bool, resources: ResourceSummary?, clock: ClockOffset? = nil) {
        self.name = name
        self.group = group
        self.role = role
        self.status = status
        self.exit = exit
        self.restarts = restarts
        self.pids = pids
        self.faulted = faulted
        self.hasFinal = hasFinal
        self.resources = resources
        self.clock = clock
    }
}

/// Per-node resource samples and their summary.
struct ResourceSeries {
    var samples: [ResourceSample] = []
    var lastCPU: (t: Double, cpu: Double)?
    var lastMemory: (uss: Double, pss: Double) = (0, 0)
    /// Whether USS/PSS were read at least once (they are read less often than the rest).
    var smapsRead = false

    mutating func add(t: Double, stats: ProcessStats, withSmaps: Bool) {
        var cpuPct = 0.0
        if let last = lastCPU, t > last.t { cpuPct = max(0, (stats.cpuSeconds - last.cpu) / (t - last.t) * 100) }
        lastCPU = (t, stats.cpuSeconds)
        if withSmaps {
            lastMemory = (Double(stats.ussBytes) / 1_048_576, Double(stats.pssBytes) / 1_048_576)
            smapsRead = true
        }
        samples.append(ResourceSample(t: t, cpuPercent: (cpuPct * 10).rounded() / 10, rssMB: Double(stats.rssBytes) / 1_048_576,
                                      ussMB: lastMemory.uss, pssMB: lastMemory.pss))
    }

    /// Peaks, means and growth (last minute vs first minute, or last third vs first third of shorter runs).
    func summary() -> ResourceSummary? {
        guard !samples.isEmpty else { return nil }
        let cpu = samples.dropFirst().map(\.cpuPercent)
        let rss = samples.map(\.rssMB)
        let t0 = samples.first!.t, t1 = samples.last!.t
        let span = t1 - t0
        let window = span >= 120 ? 60.0 : max(span / 3, 0.5)
        let first = samples.filter { $0.t <= t0 + window }.map(\.rssMB)
        let last = samples.filter { $0.t >= t1 - window }.map(\.rssMB)
        func mean(_ a: [Double]) -> Double { a.isEmpty ? 0 : a.reduce(0, +) / Double(a.count) }
        return ResourceSummary(
            peakCpuPercent: cpu.max() ?? 0, meanCpuPercent: mean(cpu), peakRssMB: rss.max() ?? 0, meanRssMB: mean(rss),
            peakUssMB: samples.map(\.ussMB).max() ?? 0, peakPssMB: samples.map(\.pssMB).max() ?? 0,
            growthMB: mean(last) - mean(first), samples: samples)
    }
}
