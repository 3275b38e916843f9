import ClusterCore

/// The configuration of each node of a topology, with the endpoints and paths
/// left to the caller: the one mapping both the orchestrator's launchers and
/// `orchestrator compose` use. Each configuration renders its own command
/// line (``NodeCommand/arguments``).
public struct NodeCommands: Sendable {
    public var topology: Topology
    /// The writer's PUB endpoint: the one it binds (writer) or connects to (readers).
    public var writerPub: (bind: String, connect: String)
    /// The writer's snapshot service endpoint, likewise.
    public var writerSnapshots: (bind: String, connect: String)
    /// The directory of a node's files (log file, writer state).
    public var nodeDirectory: @Sendable (String) -> String
    /// The endpoint a query reader's service binds.
    public var serviceBind: @Sendable (NodeSpec) -> String
    /// The endpoint a relay's XPUB binds, and the one its subscribers connect to.
    public var relayEndpoint: @Sendable (NodeSpec) -> (bind: String, connect: String)
    /// The writer's event script file, when the topology has `writer.events`.
    public var writerScript: String?

    public init(
        topology: Topology, writerPub: (bind: String, connect: String), writerSnapshots: (bind: String, connect: String),
        nodeDirectory: @escaping @Sendable (String) -> String, serviceBind: @escaping @Sendable (NodeSpec) -> String,
        relayEndpoint: @escaping @Sendable (NodeSpec) -> (bind: String, connect: String), writerScript: String? = nil
    ) {
        self.topology = topology
        self.writerPub = writerPub
        self.writerSnapshots = writerSnapshots
        self.nodeDirectory = nodeDirectory
        self.serviceBind = serviceBind
        self.relayEndpoint = relayEndpoint
        self.writerScript = writerScript
    }

    /// The run's message limits and queue sizes, from the topology's writer settings.
    public var limits: MessageLimits { MessageLimits(topology: topology) }

    /// The relay a node subscribes through: with `via`, one relay of that
    /// group, spread by the node's index; nil for the writer's own stream.
    public func upstreamRelay(for spec: NodeSpec) -> NodeSpec? {
        guard let via = spec.reader?.via else { return nil }
        let relays = topology.nodes.filter { $0.group == via && $0.reader?.role == .relay }
        guard !relays.isEmpty else { return nil }
        return relays[(max(spec.index, 1) - 1) % relays.count]
    }

    /// The PUB endpoint a node subscribes to: the writer's or its relay's.
    public func upstreamEndpoint(for spec: NodeSpec) -> String {
        upstreamRelay(for: spec).map { relayEndpoint($0).connect } ?? writerPub.connect
    }

    /// The command of a writer, reader or relay node.
    /// - Parameter claimingName: for a replica of the node's group: it claims
    ///   a name of the group from the orchestrator instead of being given one,
    ///   the seed comes with the name, and ``ReaderConfig/namePlaceholder``
    ///   stands for the name in file paths.
    public func command(for spec: NodeSpec, claimingName: Bool = false) -> NodeCommand {
        guard let g = spec.reader else { return .writer(writer(spec)) }
        if g.role == .relay { return .relay(relay(spec, g)) }
        return .reader(reader(spec, g, claimingName: claimingName))
    }

    /// `command` with CURVE on every socket: the node's files, and the node
    /// serving each endpoint it subscribes to (its relay, if any), whose key it expects.
    public func secured(_ command: NodeCommand, for spec: NodeSpec, files: CurveFiles) -> NodeCommand {
        let upstream = upstreamRelay(for: spec)?.name
        switch command {
        case .writer(var c): c.curve = files; return .writer(c)
        case .reader(var c): c.curve = files; c.pubNode = upstream; return .reader(c)
        case .relay(var c): c.curve = files; c.upstreamNode = upstream; return .relay(c)
        case .queryLoad(var c): c.curve = files; return .queryLoad(c)
        case .cpuHog: return command
        }
    }

    /// A query load generator's `command` with CURVE: its files, and the nodes
    /// behind its targets (in the same order), whose keys it expects.
    public func securedLoad(_ command: NodeCommand, targetNodes: [String], files: CurveFiles) -> NodeCommand {
        guard case .queryLoad(var c) = command else { return command }
        c.curve = files
        c.targetNodes = targetNodes
        return .queryLoad(c)
    }

    func writer(_ spec: NodeSpec) -> WriterConfig {
        let w = topology.writer
        var c = WriterConfig(publishEndpoint: writerPub.bind, snapshotEndpoint: writerSnapshots.bind)
        c.name = spec.name
        c.rate = w.rate
        c.payloadBytes = w.payloadBytes
        c.seed = topology.seed
        c.sendHighWaterMark = Int32(clamping: w.sndhwm)
        c.heartbeatNanos = w.heartbeat.nanoseconds
        c.historyLimit = w.historyLimit
        c.noDrop = w.nodrop
        c.coalesce = w.promise == .newestState
        c.batch = w.batch.map { WriterBatching(maxCount: $0.maxCount, maxDelayNanos: $0.maxDelay.nanoseconds) }
        c.sendBufferBytes = w.sndbuf.map { Int32(clamping: $0) }
        c.ioThreads = w.ioThreads
        c.publisher = w.publisher
        c.nice = w.nice
        c.scheduling = w.scheduling
        if w.persist { c.stateDirectory = nodeDirectory(spec.name) + "/state" }
        if w.events != nil { c.scriptPath = writerScript }
        return c
    }

    func relay(_ spec: NodeSpec, _ g: ReaderGroup) -> RelayConfig {
        let r = g.relay ?? RelaySpec()
        var c = RelayConfig(name: spec.name, upstream: upstreamEndpoint(for: spec), bindEndpoint: relayEndpoint(spec).bind)
        c.loss = r.loss
        c.seed = topology.seed &+ UInt64(spec.index) &* 104_729
        c.delayNanos = r.delay.nanoseconds
        c.jitterNanos = r.jitter.nanoseconds
        let limits = self.limits
        c.maxMessageBytes = limits.snapshotFrame
        c.highWaterMark = limits.subscriberHighWaterMark(messages: Int(c.highWaterMark))
        c.nice = g.nice
        c.scheduling = g.scheduling
        return c
    }

    func reader(_ spec: NodeSpec, _ g: ReaderGroup, claimingName: Bool) -> ReaderConfig {
        let name = claimingName ? ReaderConfig.namePlaceholder : spec.name
        var c = ReaderConfig(name: spec.name, publishEndpoint: upstreamEndpoint(for: spec), snapshotEndpoint: writerSnapshots.connect)
        if claimingName { c.claimGroup = spec.group }
        c.role = g.role
        c.policy = g.policy
        let limits = self.limits
        c.receiveHighWaterMark = limits.subscriberHighWaterMark(messages: g.rcvhwm)
        c.maxMessageBytes = limits.snapshotFrame
        c.lagLimitNanos = g.lagLimit.nanoseconds
        c.seed = Self.readerSeed(topology, for: spec)
        c.receiveBufferBytes = g.rcvbuf.map { Int32(clamping: $0) }
        c.subscriber = g.subscriber
        c.nice = g.nice
        c.scheduling = g.scheduling
        if let d = g.processingDelay {
            switch d.distribution {
            case .fixed: c.processingDelay = .fixed(nanos: d.mean.nanoseconds)
            case .uniform: c.processingDelay = .uniform(minNanos: (d.min ?? .zero).nanoseconds, maxNanos: (d.max ?? d.mean).nanoseconds)
            case .exponential: c.processingDelay = .exponential(meanNanos: d.mean.nanoseconds)
            }
        }
        switch g.role {
        case .log:
            c.logPath = nodeDirectory(name) + "/snapshots.jsonl"
            c.logFlushEvery = g.logFlushEvery
        case .query:
            c.serviceEndpoint = serviceBind(spec)
            c.workers = g.workers
            c.historySize = g.historySize
        case .cli, .relay:
            break
        }
        return c
    }

    /// The seed of a reader's processing-delay distribution: the topology's
    /// seed spread by the node's index (also handed to a replica that claims the node).
    public static func readerSeed(_ topology: Topology, for spec: NodeSpec) -> UInt64 {
        topology.seed &+ UInt64(spec.index) &* 7919
    }

    /// The load generator's name for a query group.
    public static func queryLoadName(_ group: ReaderGroup) -> String { "\(group.groupName)-load" }

    /// The load generator of a query group with `load`, aimed at `targets`.
    public func queryLoadCommand(for group: ReaderGroup, load: QueryLoad, targets: [String]) -> NodeCommand {
        var c = QueryLoadConfig(name: Self.queryLoadName(group), targets: targets)
        c.clients = load.clients
        c.rate = load.rate
        c.timeoutNanos = load.timeout.nanoseconds
        c.seed = topology.seed &+ 7
        c.mix = load.mix.map(RequestMix.init(weights:))
        c.maxMessageBytes = limits.queryReply
        return .queryLoad(c)
    }
}
