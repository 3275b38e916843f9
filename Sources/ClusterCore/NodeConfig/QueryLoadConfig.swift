/// Settings of the query load generator: what `cluster-node query-load`
/// parses and the orchestrator renders (``arguments``).
public struct QueryLoadConfig: Sendable, Hashable {
    /// The command-line flags, without their `--`.
    public enum Flag {
        public static let name = "name"
        public static let target = "target"
        public static let clients = "clients"
        public static let rate = "rate"
        public static let timeout = "timeout"
        public static let mix = "mix"
        public static let seed = "seed"
        public static let duration = "duration"
        public static let targetNode = "target-node"
        public static let maxMessage = "max-message"
    }

    public var name: String
    /// Query readers' service endpoints; requests are spread over them.
    public var targets: [String]
    /// Concurrent clients: at most this many requests outstanding.
    public var clients = 4
    /// Requests per second, in total.
    public var rate: Double = 100
    public var timeoutNanos: UInt64 = 1_000_000_000
    public var seed: UInt64 = 1
    /// Relative weights of GetLatest, GetVersion, Health and Metrics requests;
    /// nil for ``RequestMix/standard``.
    public var mix: RequestMix?
    public var controlEndpoint: String?
    public var metricsDirectory: String?
    public var parentPID: Int32?
    public var durationNanos: UInt64?
    /// CURVE on every socket, with these files; nil: plain sockets.
    public var curve: CurveFiles?
    /// The process's nice value (``ClusterProcess/Niceness``); nil leaves the launcher's.
    public var nice: Int?
    /// How the kernel schedules the process's threads.
    public var scheduling = SchedulingPolicy.normal
    /// The query readers serving `targets`, in the same order, whose CURVE
    /// keys the clients expect; empty when the sockets are plain.
    public var targetNodes: [String] = []
    /// The largest reply accepted (`ZMQ_MAXMSGSIZE`): a snapshot or a reader's metrics; the orchestrator passes the topology's.
    public var maxMessageBytes = MessageLimits.defaultQueryReplyLimit

    public init(name: String, targets: [String]) {
        self.name = name
        self.targets = targets
    }

    /// `query-load --name … --clients …`.
    public var arguments: [String] {
        var c = NodeCommandLine(subcommand: "query-load")
        c.option(Flag.name, name)
        c.option(Flag.clients, "\(clients)")
        c.option(Flag.rate, "\(rate)")
        c.option(Flag.timeout, durationArgument(timeoutNanos))
        c.option(Flag.seed, "\(seed)")
        c.option(Flag.mix, mix?.argument)
        c.options(Flag.target, targets)
        c.options(Flag.targetNode, targetNodes)
        c.option(Flag.duration, durationNanos.map(durationArgument))

        if maxMessageBytes != MessageLimits.defaultQueryReplyLimit { c.option(Flag.maxMessage, "\(maxMessageBytes)") }
        c.common(metricsDirectory: metricsDirectory, controlEndpoint: controlEndpoint, parentPID: parentPID, curve: curve, nice: nice, scheduling: scheduling)
        return c.arguments
    }
}

/// The `cpu-hog` fault's process: spins one core for a while.
public struct CPUHogConfig: Sendable, Hashable {
    /// The command-line flags, without their `--`.
    public enum Flag {
        public static let `for` = "for"
        public static let threads = "threads"
        public static let cpu = "cpu"
    }

    /// How long to spin.
    public var forNanos: UInt64
    /// Spinning threads.
    public var threads: Int
    /// The CPUs they spin on, in turn (thread i on `cpus[i % count]`); empty: wherever the kernel puts them.
    public var cpus: [Int]
    public var parentPID: Int32?

    public init(forNanos: UInt64, threads: Int = 1, cpus: [Int] = []) {
        self.forNanos = forNanos
        self.threads = threads
        self.cpus = cpus
    }

    /// `cpu-hog --for … --threads … [--cpu N]…`.
    public var arguments: [String] {
        var c = NodeCommandLine(subcommand: "cpu-hog")
        c.option(Flag.for, durationArgument(forNanos))
        c.option(Flag.threads, threads)
        c.options(Flag.cpu, cpus.map(String.init))
        c.option(CommonFlag.parentPID, parentPID)
        return c.arguments
    }
}
