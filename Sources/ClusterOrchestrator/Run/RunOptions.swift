import ClusterCore

/// Options of one run, filled by `orchestrator run`.
public struct RunOptions: Sendable {
    public var topologyPath: String
    public var duration: TimeSpan?
    public var seed: UInt64?
    /// Parent of the run directory.
    public var outDirectory = "runs"
    public var quiet = false
    /// The `cluster-node` executable.
    public var nodeBinary: String
    public var launcher: LauncherKind?
    /// Where the control plane binds (default: loopback, any port; netns: the bridge address; external: tcp://*:5600).
    public var controlBind: String?
    /// Print the run's endpoints (``RunEndpoints``) as one JSON line on standard output before any node starts.
    public var printEndpoints = false
    /// CURVE: read the keys from this directory (`orchestrator.key_secret`, `peers`: a container
    /// stack's, made when its file was written) instead of making a pair per node for the run.
    public var curveKeys: String?
    /// compose and swarm launchers: the image every container runs.
    public var image = "clustersim:latest"
    /// compose and swarm launchers: this `orchestrator` executable, run again as the fault agent.
    public var agentExecutable = "/proc/self/exe"
    /// compose and swarm launchers: what the `docker` client needs of the environment (HOME, DOCKER_HOST …).
    public var environment: [String: String] = [:]

    public init(topologyPath: String, nodeBinary: String) {
        self.topologyPath = topologyPath
        self.nodeBinary = nodeBinary
    }
}

/// Exit statuses of `orchestrator run`.
public enum RunExit: Int32, Sendable {
    case slosMet = 0
    case sloViolated = 1
    case failed = 2
}

/// How a run ended: its exit status and, when it got as far as its report,
/// the report and the text `orchestrator run` prints.
public struct RunOutcome: Sendable {
    public var exit: RunExit
    /// The summary table and the run directory's line; nil when the run failed before its report.
    public var summary: String?
    public var report: RunReport?
    public var runDirectory: String?

    public init(exit: RunExit, summary: String? = nil, report: RunReport? = nil, runDirectory: String? = nil) {
        self.exit = exit
        self.summary = summary
        self.report = report
        self.runDirectory = runDirectory
    }

    /// A run that failed before its report (the reason went to standard error).
    public static let failed = RunOutcome(exit: .failed)
}
