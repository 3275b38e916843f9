/// Builds a `cluster-node` command line: the subcommand, then `--flag value`
/// pairs and bare `--flag`s.
///
/// Every node configuration renders itself with one of these, naming its
/// flags by the constants `cluster-node`'s commands declare their options
/// with, so the orchestrator's launchers, `orchestrator compose` and
/// `cluster-node` cannot disagree on a spelling (CommandLineTests parses
/// every rendered configuration back with cluster-node's own parser).
public struct NodeCommandLine: Sendable, Hashable {
    public private(set) var arguments: [String]

    public init(subcommand: String) {
        arguments = [subcommand]
    }

    /// `--flag value`; `--flag=value` when the value starts with `-`, so that
    /// it is never read as another option (a negative number, a name like `-rf`).
    public mutating func option(_ flag: String, _ value: String) {
        if value.hasPrefix("-") {
            arguments.append("--" + flag + "=" + value)
        } else {
            arguments += ["--" + flag, value]
        }
    }

    /// `--flag value`, or nothing when `value` is nil.
    public mutating func option(_ flag: String, _ value: (some CustomStringConvertible)?) {
        if let value { option(flag, value.description) }
    }

    /// `--flag value` for each value.
    public mutating func options(_ flag: String, _ values: [String]) {
        for v in values { option(flag, v) }
    }

    /// `--flag` when `on`.
    public mutating func flag(_ flag: String, _ on: Bool) {
        if on { arguments.append("--" + flag) }
    }

    /// The options every node takes, last: its metrics directory, the
    /// orchestrator's control endpoint, the launcher's pid, its CURVE
    /// files (their paths: a key never goes on a command line), its nice value
    /// and scheduling policy.
    mutating func common(metricsDirectory: String?, controlEndpoint: String?, parentPID: Int32?, curve: CurveFiles? = nil,
                         nice: Int? = nil, scheduling: SchedulingPolicy = .normal) {
        option(CommonFlag.metricsDirectory, metricsDirectory)
        option(CommonFlag.control, controlEndpoint)
        option(CommonFlag.parentPID, parentPID)
        if let curve {
            option(CommonFlag.security, SecurityMode.curve.rawValue)
            option(CommonFlag.curveKey, curve.keyFile)
            option(CommonFlag.curvePeers, curve.peersFile)
        }
        option(CommonFlag.nice, nice)
        if scheduling != .normal { option(CommonFlag.scheduling, scheduling.rawValue) }
    }
}

/// The options every `cluster-node` subcommand takes.
public enum CommonFlag {
    public static let control = "control"
    public static let metricsDirectory = "metrics-dir"
    public static let parentPID = "parent-pid"
    public static let logLevel = "log-level"
    /// `none` or `curve` (``SecurityMode``).
    public static let security = "security"
    /// This node's key pair (``CurveFiles/keyFile``).
    public static let curveKey = "curve-key"
    /// The cluster's public keys (``CurveFiles/peersFile``).
    public static let curvePeers = "curve-peers"
    /// The process's nice value, set before any thread of libzmq's starts.
    public static let nice = "nice"
    /// The process's scheduling policy (``SchedulingPolicy``), set with the nice value.
    public static let scheduling = "scheduling"
    /// The environment variable read when `--control` is not given.
    public static let controlEnvironment = "CLUSTERSIM_CONTROL"
}

/// A duration on a command line: the largest unit that holds it exactly (`"1s"`, `"250ms"`).
func durationArgument(_ nanos: UInt64) -> String {
    TimeSpan(nanoseconds: nanos).description
}

/// A `cluster-node` invocation: which node, configured how.
public enum NodeCommand: Sendable, Hashable {
    case writer(WriterConfig)
    case reader(ReaderConfig)
    case relay(RelayConfig)
    case queryLoad(QueryLoadConfig)
    case cpuHog(CPUHogConfig)

    /// The command line after the executable's name.
    public var arguments: [String] {
        switch self {
        case .writer(let c): c.arguments
        case .reader(let c): c.arguments
        case .relay(let c): c.arguments
        case .queryLoad(let c): c.arguments
        case .cpuHog(let c): c.arguments
        }
    }

    /// The role of the node this command starts.
    public var role: NodeRole {
        switch self {
        case .writer: .writer
        case .reader(let c): .reader(c.role)
        case .relay: .reader(.relay)
        case .queryLoad: .queryLoad
        case .cpuHog: .cpuHog
        }
    }

    /// The orchestrator's control endpoint and the launcher's pid, set on whichever node this is.
    public func attached(control: String?, parentPID: Int32?) -> NodeCommand {
        switch self {
        case .writer(var c): c.controlEndpoint = control; c.parentPID = parentPID; return .writer(c)
        case .reader(var c): c.controlEndpoint = control; c.parentPID = parentPID; return .reader(c)
        case .relay(var c): c.controlEndpoint = control; c.parentPID = parentPID; return .relay(c)
        case .queryLoad(var c): c.controlEndpoint = control; c.parentPID = parentPID; return .queryLoad(c)
        case .cpuHog(var c): c.parentPID = parentPID; return .cpuHog(c)
        }
    }
}
