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
    /// Where the run's services listened; nil in states written before it.
    public var endpoints: RunEndpoints?
    /// The host, second by second; nil in states written before it.
    public var host: [HostSample]?
    /// What the control plane's CURVE handler saw; nil for a run without CURVE.
    public var security: SecurityState?
    /// What the control plane refused; nil in states written before it.
    public var controlPlane: ControlPlaneSummary?

    public init(topologyFile: String, launcher: String, startedWallNs: UInt64, durationSeconds: Double, aborted: String?,
                environment: RunReport.Environment, timings: RunReport.Timings, nodes: [ObservedNode], faults: [FaultRecord], endpoints: RunEndpoints? = nil, host: [HostSample]? = nil) {
        self.endpoints = endpoints
        self.host = host
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
/// A count in one of the writer's epochs.
public struct EpochCount: Sendable, Codable, Hashable {
    public var epoch: UInt64
    public var published: UInt64

    public init(epoch: UInt64, published: UInt64) {
        self.epoch = epoch
        self.published = published
    }
}

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
    /// A writer's published count per epoch (one per incarnation), oldest first.
    public var publishedByEpoch: [EpochCount]?

    public init(name: String, group: String, role: NodeRole, status: NodeStatus, exit: String?, restarts: Int, pids: [Int32],
                faulted: Bool, hasFinal: Bool, resources: ResourceSummary?, clock: ClockOffset? = nil,
                publishedByEpoch: [EpochCount]? = nil) {
        self.publishedByEpoch = publishedByEpoch
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
