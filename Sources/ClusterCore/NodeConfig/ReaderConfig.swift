import Foundation

/// A per-message processing delay that makes a reader slow on purpose.
public enum DelayModel: Sendable, Hashable {
    case fixed(nanos: UInt64)
    case uniform(minNanos: UInt64, maxNanos: UInt64)
    case exponential(meanNanos: UInt64)

    /// The next delay, drawn from `rng` (seeded, so runs repeat).
    public func next(_ rng: inout SeededRandom) -> UInt64 {
        switch self {
        case .fixed(let n): return n
        case .uniform(let lo, let hi): return hi > lo ? lo + rng.below(hi - lo + 1) : lo
        case .exponential(let mean):
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            return UInt64(-log(max(1 - u, 1e-12)) * Double(mean))
        }
    }

    /// Parses `"2ms"`, `"uniform:1ms:3ms"`, `"exponential:2ms"` (the command-line form).
    public init?(argument: String, parse: (String) -> UInt64?) {
        let parts = argument.split(separator: ":").map(String.init)
        switch parts.count {
        case 1: guard let n = parse(parts[0]) else { return nil }; self = .fixed(nanos: n)
        case 2 where parts[0] == "exponential": guard let m = parse(parts[1]) else { return nil }; self = .exponential(meanNanos: m)
        case 3 where parts[0] == "uniform":
            guard let a = parse(parts[1]), let b = parse(parts[2]), a <= b else { return nil }
            self = .uniform(minNanos: a, maxNanos: b)
        default: return nil
        }
    }

    /// The command-line form.
    public var argument: String {
        switch self {
        case .fixed(let n): return "\(n)ns"
        case .uniform(let a, let b): return "uniform:\(a)ns:\(b)ns"
        case .exponential(let m): return "exponential:\(m)ns"
        }
    }
}

/// Which clock latency is measured on.
public enum LatencyClock: String, Sendable, Hashable, CaseIterable {
    /// CLOCK_MONOTONIC: nodes on one host.
    case monotonic
    /// CLOCK_REALTIME plus an offset: nodes on different hosts.
    case wall
}

/// Everything a reader node needs: what `cluster-node reader` parses and the
/// orchestrator renders (``arguments``).
public struct ReaderConfig: Sendable, Hashable {
    /// The command-line flags, without their `--`.
    public enum Flag {
        public static let name = "name"
        public static let claimName = "claim-name"
        public static let claimTimeout = "claim-timeout"
        public static let role = "role"
        public static let pub = "pub"
        public static let snapshots = "snapshots"
        public static let policy = "policy"
        public static let receiveHighWaterMark = "rcvhwm"
        public static let receiveBuffer = "rcvbuf"
        public static let subscriber = "subscriber"
        public static let delay = "delay"
        public static let lagLimit = "lag-limit"
        public static let seed = "seed"
        public static let logFile = "log-file"
        public static let logFlushEvery = "log-flush-every"
        public static let service = "service"
        public static let workers = "workers"
        public static let historySize = "history-size"
        public static let serviceDelay = "service-delay"
        public static let drain = "drain"
        public static let clock = "clock"
        public static let clockOffset = "clock-offset-ns"
        public static let duration = "duration"
        public static let cpu = "cpu"
        public static let pubNode = "pub-node"
        public static let maxMessage = "max-message"
    }

    /// Stands for the node's name in `logPath` and `metricsDirectory` when it
    /// is claimed (`claimGroup`): the reader puts the name it was given there.
    public static let namePlaceholder = "{name}"

    public var name: String
    /// A replica of a group (compose `replicas`): take the name of an
    /// unclaimed node of this group from the orchestrator instead of `name`;
    /// the seed comes with it.
    public var claimGroup: String?
    /// How long to wait for the orchestrator's answer to the claim.
    public var claimTimeoutNanos: UInt64 = 120_000_000_000
    public var role: ReaderRole = .cli
    /// The writer's (or a relay's) PUB endpoint.
    public var publishEndpoint: String
    /// The writer's snapshot service.
    public var snapshotEndpoint: String
    public var controlEndpoint: String?
    public var policy: SlowPolicy = .drop
    public var receiveHighWaterMark = Int32(HighWaterMarks.default)
    public var receiveBufferBytes: Int32?
    /// How the stream is taken off the connection.
    public var subscriber: SubscriberKind = .libzmq
    public var processingDelay: DelayModel?
    /// snail: lag beyond this disconnects and resyncs.
    public var lagLimitNanos: UInt64 = 500_000_000
    public var seed: UInt64 = 1
    /// log: the JSON Lines file.
    public var logPath: String?
    public var logFlushEvery = 256
    /// query: where the request/reply service binds.
    public var serviceEndpoint: String?
    public var workers = 4
    public var historySize = 256
    /// query: simulated work per request.
    public var serviceDelayNanos: UInt64 = 0
    public var metricsDirectory: String?
    public var parentPID: Int32?
    /// CURVE on every socket, with these files; nil: plain sockets.
    public var curve: CurveFiles?
    /// The process's nice value (``ClusterProcess/Niceness``); nil leaves the launcher's.
    public var nice: Int?
    /// How the kernel schedules the process's threads.
    public var scheduling = SchedulingPolicy.normal
    /// The node that serves `publishEndpoint` (a relay's name), whose CURVE
    /// key the reader expects there; nil: the writer.
    public var pubNode: String?
    /// After STOP, keep reading this long for the tail (until END is seen).
    public var drainNanos: UInt64 = 2_000_000_000
    public var clock: LatencyClock = .monotonic
    /// Added to this node's wall clock to put it on the writer's; nil takes
    /// the orchestrator's estimate, sent with START.
    public var clockOffsetNanos: Int64?
    /// Standalone runs: stop after this long.
    public var durationNanos: UInt64?
    /// The CPU to pin the process to (its thread and libzmq's); nil leaves it to the scheduler.
    public var cpu: Int?
    /// The largest frame or snapshot reply accepted (`ZMQ_MAXMSGSIZE`); the
    /// orchestrator passes the topology's (``MessageLimits``).
    public var maxMessageBytes = MessageLimits.defaultSnapshotFrameLimit

    public init(name: String, publishEndpoint: String, snapshotEndpoint: String) {
        self.name = name
        self.publishEndpoint = publishEndpoint
        self.snapshotEndpoint = snapshotEndpoint
    }

    static let defaults = ReaderConfig(name: "", publishEndpoint: "", snapshotEndpoint: "")

    /// `reader --name … --role …`: the flags that always matter, those of its
    /// role, then those set away from their defaults.
    public var arguments: [String] {
        let d = Self.defaults
        var c = NodeCommandLine(subcommand: "reader")
        if let claimGroup {
            c.option(Flag.claimName, claimGroup)
            if claimTimeoutNanos != d.claimTimeoutNanos { c.option(Flag.claimTimeout, durationArgument(claimTimeoutNanos)) }
        } else {
            c.option(Flag.name, name)
        }
        c.option(Flag.role, role.rawValue)
        c.option(Flag.pub, publishEndpoint)
        c.option(Flag.snapshots, snapshotEndpoint)
        c.option(Flag.policy, policy.rawValue)
        c.option(Flag.receiveHighWaterMark, "\(receiveHighWaterMark)")
        c.option(Flag.lagLimit, durationArgument(lagLimitNanos))
        if claimGroup == nil { c.option(Flag.seed, "\(seed)") }
        c.option(Flag.receiveBuffer, receiveBufferBytes)
        if subscriber != d.subscriber { c.option(Flag.subscriber, subscriber.rawValue) }
        c.option(Flag.delay, processingDelay?.argument)
        c.option(Flag.logFile, logPath)
        if role == .log || logFlushEvery != d.logFlushEvery { c.option(Flag.logFlushEvery, "\(logFlushEvery)") }
        c.option(Flag.service, serviceEndpoint)
        if role == .query || workers != d.workers { c.option(Flag.workers, "\(workers)") }
        if role == .query || historySize != d.historySize { c.option(Flag.historySize, "\(historySize)") }
        if serviceDelayNanos != d.serviceDelayNanos { c.option(Flag.serviceDelay, durationArgument(serviceDelayNanos)) }
        if drainNanos != d.drainNanos { c.option(Flag.drain, durationArgument(drainNanos)) }
        c.option(Flag.duration, durationNanos.map(durationArgument))
        if clock != d.clock { c.option(Flag.clock, clock.rawValue) }
        c.option(Flag.clockOffset, clockOffsetNanos)
        c.option(Flag.cpu, cpu)
        c.option(Flag.pubNode, pubNode)
        if maxMessageBytes != d.maxMessageBytes { c.option(Flag.maxMessage, "\(maxMessageBytes)") }
        c.common(metricsDirectory: metricsDirectory, controlEndpoint: controlEndpoint, parentPID: parentPID, curve: curve, nice: nice, scheduling: scheduling)
        return c.arguments
    }
}
