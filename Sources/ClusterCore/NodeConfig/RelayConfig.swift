/// Settings of a relay: an XSUB/XPUB forwarder between a writer (or another
/// relay) and readers, so topologies can form trees. What `cluster-node
/// relay` parses and the orchestrator renders (``arguments``).
public struct RelayConfig: Sendable, Hashable {
    /// The command-line flags, without their `--`.
    public enum Flag {
        public static let name = "name"
        public static let upstream = "upstream"
        public static let bind = "bind"
        public static let delay = "delay"
        public static let jitter = "jitter"
        public static let loss = "loss"
        public static let seed = "seed"
        public static let duration = "duration"
        public static let upstreamNode = "upstream-node"
        public static let maxMessage = "max-message"
        public static let highWaterMark = "hwm"
    }

    public var name: String
    /// The upstream PUB/XPUB endpoint (the writer's or another relay's).
    public var upstream: String
    /// Where this relay's XPUB binds for its readers.
    public var bindEndpoint: String
    /// Fixed delay added to every forwarded frame.
    public var delayNanos: UInt64 = 0
    /// Seeded uniform jitter added on top of the delay, 0 ... jitter.
    public var jitterNanos: UInt64 = 0
    /// Share of snapshot frames dropped (seeded); heartbeats and END always pass.
    public var loss: Double = 0
    public var seed: UInt64 = 1
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
    /// The node that serves `upstream` (another relay's name), whose CURVE
    /// key the relay expects there; nil: the writer.
    public var upstreamNode: String?
    /// The largest frame accepted from upstream (`ZMQ_MAXMSGSIZE`); the orchestrator passes the topology's.
    public var maxMessageBytes = MessageLimits.defaultSnapshotFrameLimit
    /// `ZMQ_RCVHWM` upstream and `ZMQ_SNDHWM` per subscriber, in frames; the
    /// orchestrator passes one sized from the topology's frames and the byte budget.
    public var highWaterMark = Int32(HighWaterMarks.default)

    public init(name: String, upstream: String, bindEndpoint: String) {
        self.name = name
        self.upstream = upstream
        self.bindEndpoint = bindEndpoint
    }

    /// `relay --name … --upstream …`.
    public var arguments: [String] {
        var c = NodeCommandLine(subcommand: "relay")
        c.option(Flag.name, name)
        c.option(Flag.upstream, upstream)
        c.option(Flag.bind, bindEndpoint)
        c.option(Flag.loss, "\(loss)")
        c.option(Flag.seed, "\(seed)")
        if delayNanos > 0 { c.option(Flag.delay, "\(delayNanos)ns") }
        if jitterNanos > 0 { c.option(Flag.jitter, "\(jitterNanos)ns") }
        c.option(Flag.duration, durationNanos.map(durationArgument))
        c.option(Flag.upstreamNode, upstreamNode)
        if maxMessageBytes != MessageLimits.defaultSnapshotFrameLimit { c.option(Flag.maxMessage, "\(maxMessageBytes)") }
        if highWaterMark != Int32(HighWaterMarks.default) { c.option(Flag.highWaterMark, "\(highWaterMark)") }
        c.common(metricsDirectory: metricsDirectory, controlEndpoint: controlEndpoint, parentPID: parentPID, curve: curve, nice: nice, scheduling: scheduling)
        return c.arguments
    }
}
