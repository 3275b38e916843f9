import Foundation

/// A cluster run: one writer, groups of readers, a fault schedule, seeded
/// chaos and the SLOs the run is judged by.
///
/// Load one with ``TopologyLoader/load(path:)``; the reference for the JSON
/// schema is `docs/topology.md`. A decoded topology has every default filled
/// in. After changing one in code, call ``validate()``.
public struct Topology: Sendable, Hashable, Codable {
    /// The schema versions this build reads.
    public static let supportedSchemaVersions = [1]

    /// Schema version (JSON key `version`), default 1; only 1 is accepted.
    public var schemaVersion: Int
    /// The run's name, `[A-Za-z0-9._-]+`; run directories are named after it.
    public var name: String
    /// Free text shown in reports.
    public var description: String?
    /// Seed of the writer's event generator and of chaos; default 1.
    public var seed: UInt64
    /// Length of the measured phase; default 10 s, more than 0 and at most 24 h.
    public var duration: TimeSpan
    /// Time after all nodes are READY before measuring starts; default 0 s.
    public var warmup: TimeSpan
    /// How long nodes have to report READY; default 20 s. Where nodes
    /// register themselves (``LauncherKind/nodesRegister``), counted from
    /// the moment the last one registered.
    public var readyTimeout: TimeSpan
    /// Where nodes register themselves (external, compose and swarm
    /// launchers), how long the orchestrator waits for all of them before
    /// the run is aborted; default 2 min.
    public var registerTimeout: TimeSpan
    /// How nodes are started; default `local`.
    public var launcher: LauncherKind
    /// Whether reader processes are pinned to CPUs (local and netns launchers); default `off`.
    public var cpuPinning: CPUPinning
    /// The writer node.
    public var writer: WriterSpec
    /// Reader groups, in file order; at least one.
    public var readers: [ReaderGroup]
    /// Scheduled faults; default none.
    public var faults: [FaultSpec]
    /// Seeded random faults; default none.
    public var chaos: ChaosSpec?
    /// What the run must achieve; default no SLOs.
    public var slo: SLOSpec
    /// How the sockets are secured; default none (``securityMode``).
    public var security: SecuritySpec?

    public init(
        schemaVersion: Int = 1,
        name: String,
        description: String? = nil,
        seed: UInt64 = 1,
        duration: TimeSpan = .seconds(10),
        warmup: TimeSpan = .zero,
        readyTimeout: TimeSpan = .seconds(20),
        registerTimeout: TimeSpan = .minutes(2),
        launcher: LauncherKind = .local,
        cpuPinning: CPUPinning = .off,
        writer: WriterSpec,
        readers: [ReaderGroup],
        faults: [FaultSpec] = [],
        chaos: ChaosSpec? = nil,
        slo: SLOSpec = SLOSpec(),
        security: SecuritySpec? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.name = name
        self.description = description
        self.seed = seed
        self.duration = duration
        self.warmup = warmup
        self.readyTimeout = readyTimeout
        self.registerTimeout = registerTimeout
        self.launcher = launcher
        self.cpuPinning = cpuPinning
        self.writer = writer
        self.readers = readers
        self.faults = faults
        self.chaos = chaos
        self.slo = slo
        self.security = security
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case schemaVersion = "version"
        case name, description, seed, duration, warmup, readyTimeout, registerTimeout, launcher, cpuPinning
        case writer, readers, faults, chaos, slo, security
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.completeTopology($1, path: $2) }
    }
}

/// The writer node: what it publishes and how.
public struct WriterSpec: Sendable, Hashable, Codable {
    /// Snapshots per second; required, more than 0 and at most 1 000 000.
    public var rate: Double
    /// Size of each snapshot's `contextData`; default 256, 0 ... 1 048 576.
    public var payloadBytes: Int
    /// Default `tcp`.
    public var transport: Transport
    /// `ZMQ_SNDHWM` of the PUB socket; default 100 000, 0 means no limit.
    public var sndhwm: Int
    /// Kernel send buffer per connection (SO_SNDBUF), bytes; nil leaves the kernel's default.
    /// Small buffers make a slow reader's backlog reach the high-water mark (and gaps) sooner.
    public var sndbuf: Int?
    /// `ZMQ_XPUB_NODROP`: block instead of dropping at the high-water mark; default false.
    public var nodrop: Bool
    /// Interval between heartbeats; default 1 s, 10 ms ... 60 s.
    public var heartbeat: TimeSpan
    /// Transitions of history carried in each snapshot; default 16, 0 ... 1024.
    public var historyLimit: Int
    /// Keep the latest snapshot in the node's state directory so a restart
    /// continues the version line; default false.
    public var persist: Bool
    /// A script of FSM events; when given the seeded generator is not used.
    public var events: [ScriptedEventSpec]?
    /// When the writer falls behind, send only the newest of the snapshots due,
    /// its frame saying how many it folded in; default false. The same as
    /// `promise` `newest-state`, and kept equal to it.
    public var coalesce: Bool
    /// What readers are promised when more than one version is to be sent at
    /// once; default `every-version` (`newest-state` when `coalesce` is true).
    public var promise: DeliveryPromise
    /// How versions share frames under the `every-version` promise; nil sends
    /// one frame per version (JSON `false`). Default: ``defaultBatch``. Always
    /// nil under `newest-state`.
    public var batch: BatchSpec?
    /// libzmq I/O threads of the writer's context (1 ... 16); default 1. The
    /// I/O threads do the fan-out's TCP writes and, under CURVE, encrypt each
    /// frame once per subscriber; a second one shares that work out by
    /// connection (docs/security.md, "The cost of CURVE, measured").
    public var ioThreads: Int
    /// Who writes the frames to the subscribers: libzmq's PUB (default) or
    /// the writer itself (``PublisherKind/direct``).
    public var publisher: PublisherKind
    /// The writer process's nice value (-20 ... 19); nil leaves the
    /// orchestrator's. See ``ReaderGroup/nice``.
    public var nice: Int?
    /// How the kernel schedules the writer's threads; default `normal`.
    public var scheduling: SchedulingPolicy

    /// Batching when the file does not say: versions due together share a
    /// frame, none waits for others (`maxDelay` 0), so a writer that keeps
    /// up sends exactly what it would without batching.
    public static let defaultBatch: BatchSpec? = BatchSpec()

    public init(
        rate: Double,
        payloadBytes: Int = 256,
        transport: Transport = .tcp,
        sndhwm: Int = WriterSpec.defaultSndhwm,
        sndbuf: Int? = nil,
        nodrop: Bool = false,
        heartbeat: TimeSpan = .seconds(1),
        historyLimit: Int = 16,
        persist: Bool = false,
        events: [ScriptedEventSpec]? = nil,
        coalesce: Bool = false,
        promise: DeliveryPromise = .everyVersion,
        batch: BatchSpec? = WriterSpec.defaultBatch,
        ioThreads: Int = 1,
        publisher: PublisherKind = .libzmq,
        nice: Int? = nil,
        scheduling: SchedulingPolicy = .normal
    ) {
        self.rate = rate
        self.payloadBytes = payloadBytes
        self.transport = transport
        self.sndhwm = sndhwm
        self.sndbuf = sndbuf
        self.nodrop = nodrop
        self.heartbeat = heartbeat
        self.historyLimit = historyLimit
        self.persist = persist
        self.events = events
        self.promise = coalesce ? .newestState : promise
        self.coalesce = self.promise == .newestState
        self.batch = self.promise == .newestState ? nil : batch
        self.ioThreads = ioThreads
        self.publisher = publisher
        self.nice = nice
        self.scheduling = scheduling
    }

    /// `ZMQ_SNDHWM` when the file does not say (``HighWaterMarks``).
    public static let defaultSndhwm = HighWaterMarks.default

    enum CodingKeys: String, CodingKey, CaseIterable {
        case rate, payloadBytes, transport, sndhwm, sndbuf, nodrop, heartbeat, historyLimit, persist, events, coalesce
        case promise, batch, ioThreads, publisher, nice, scheduling
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.writer($1, path: $2) }
    }

    /// Every key, `batch` as `false` when off, so the file reads back the same.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rate, forKey: .rate)
        try c.encode(payloadBytes, forKey: .payloadBytes)
        try c.encode(transport, forKey: .transport)
        try c.encode(sndhwm, forKey: .sndhwm)
        try c.encodeIfPresent(sndbuf, forKey: .sndbuf)
        try c.encode(nodrop, forKey: .nodrop)
        try c.encode(heartbeat, forKey: .heartbeat)
        try c.encode(historyLimit, forKey: .historyLimit)
        try c.encode(persist, forKey: .persist)
        try c.encodeIfPresent(events, forKey: .events)
        try c.encode(coalesce, forKey: .coalesce)
        try c.encode(promise, forKey: .promise)
        if let batch { try c.encode(batch, forKey: .batch) } else { try c.encode(false, forKey: .batch) }
        try c.encode(ioThreads, forKey: .ioThreads)
        try c.encode(publisher, forKey: .publisher)
        try c.encodeIfPresent(nice, forKey: .nice)
        try c.encode(scheduling, forKey: .scheduling)
    }
}

/// How a writer with the `every-version` promise groups the versions waiting
/// to be sent into batch frames (`SNB1`, docs/protocol.md "Batches").
///
/// A frame goes out when `maxCount` versions wait, or when the first of them
/// has waited as long as it may: at once when no frame went out in the last
/// `maxDelay`, else `maxDelay` after the last frame. So a writer sends at
/// most one frame per `maxDelay` (unless frames fill up), a version never
/// waits longer than `maxDelay`, and a writer whose versions come further
/// apart than `maxDelay` sends each at once, alone.
public struct BatchSpec: Sendable, Hashable, Codable {
    /// The most versions in one frame; default 64, 2 ... 4096.
    public var maxCount: Int
    /// The longest a version waits for others to share its frame; default 0
    /// (only versions due at the same time share one), at most 1 s.
    public var maxDelay: TimeSpan

    public init(maxCount: Int = 64, maxDelay: TimeSpan = .zero) {
        self.maxCount = maxCount
        self.maxDelay = maxDelay
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxCount, maxDelay
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.batchObject($1, path: $2) }
    }
}

/// One FSM event of a writer script.
public struct ScriptedEventSpec: Sendable, Hashable, Codable {
    /// The FSM event names a script may use: the FSM's own events.
    public static let validEventNames: [String] = FSMEvent.allCases.map(\.rawValue)

    /// When, from the start of the measured phase; less than the run's duration.
    public var at: TimeSpan
    /// One of ``validEventNames``.
    public var event: String

    public init(at: TimeSpan, event: String) {
        self.at = at
        self.event = event
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case at, event
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.scriptedEvent($1, path: $2) }
    }
}

/// A per-message processing delay that makes a reader slow on purpose.
///
/// In JSON either a duration string (`"2ms"`, a fixed delay) or an object
/// `{"distribution": "uniform", "min": "1ms", "max": "3ms"}`.
public struct DelaySpec: Sendable, Hashable, Codable {
    public enum Distribution: String, Sendable, Hashable, CaseIterable, Codable {
        /// Always `mean`.
        case fixed
        /// Uniform between `min` and `max`; `mean` is their midpoint.
        case uniform
        /// Exponential with `mean`, capped at `max` when given.
        case exponential
    }

    public var distribution: Distribution
    public var mean: TimeSpan
    public var min: TimeSpan?
    public var max: TimeSpan?

    public init(distribution: Distribution, mean: TimeSpan, min: TimeSpan? = nil, max: TimeSpan? = nil) {
        self.distribution = distribution
        self.mean = mean
        self.min = min
        self.max = max
    }

    /// A fixed delay.
    public static func fixed(_ delay: TimeSpan) -> DelaySpec {
        DelaySpec(distribution: .fixed, mean: delay)
    }

    /// A delay uniform between `min` and `max`.
    public static func uniform(min: TimeSpan, max: TimeSpan) -> DelaySpec {
        let mid = TimeSpan(nanoseconds: min.nanoseconds / 2 + max.nanoseconds / 2 + (min.nanoseconds & max.nanoseconds & 1))
        return DelaySpec(distribution: .uniform, mean: mid, min: min, max: max)
    }

    /// An exponential delay with `mean`, capped at `max` when given.
    public static func exponential(mean: TimeSpan, max: TimeSpan? = nil) -> DelaySpec {
        DelaySpec(distribution: .exponential, mean: mean, max: max)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case distribution, mean, min, max
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.delay($1, path: $2) }
    }

    /// A fixed delay encodes as its duration string; the others as an object
    /// with the keys their distribution uses.
    public func encode(to encoder: any Encoder) throws {
        switch distribution {
        case .fixed:
            var container = encoder.singleValueContainer()
            try container.encode(mean)
        case .uniform:
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(distribution, forKey: .distribution)
            try container.encodeIfPresent(min, forKey: .min)
            try container.encodeIfPresent(max, forKey: .max)
        case .exponential:
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(distribution, forKey: .distribution)
            try container.encode(mean, forKey: .mean)
            try container.encodeIfPresent(max, forKey: .max)
        }
    }
}

/// Request load the orchestrator drives against a query group.
public struct QueryLoad: Sendable, Hashable, Codable {
    /// The request kinds `mix` may weight.
    public static let requestKinds = QueryRequestKind.allCases.map(\.rawValue)

    /// Concurrent clients, 1 ... 1000.
    public var clients: Int
    /// Requests per second over all clients and all nodes of the group; more than 0.
    public var rate: Double
    /// How long a client waits for a reply; default 1 s.
    public var timeout: TimeSpan
    /// Relative weights of ``requestKinds`` (an absent kind weighs 0); default
    /// 70 `getLatest`, 20 `getVersion`, 5 `health`, 5 `metrics`.
    public var mix: [String: Double]?

    public init(clients: Int, rate: Double, timeout: TimeSpan = .seconds(1), mix: [String: Double]? = nil) {
        self.clients = clients
        self.rate = rate
        self.timeout = timeout
        self.mix = mix
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case clients, rate, timeout, mix
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.queryLoad($1, path: $2) }
    }
}

/// What a relay does to the stream it forwards.
public struct RelaySpec: Sendable, Hashable, Codable {
    /// Added forwarding delay; default 0.
    public var delay: TimeSpan
    /// Random extra delay, uniform in 0 ... `jitter`; default 0.
    public var jitter: TimeSpan
    /// Fraction of messages dropped (seeded), 0 ... 1; default 0.
    public var loss: Double

    public init(delay: TimeSpan = .zero, jitter: TimeSpan = .zero, loss: Double = 0) {
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case delay, jitter, loss
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.relay($1, path: $2) }
    }
}

/// A group of identical reader processes.
public struct ReaderGroup: Sendable, Hashable, Codable {
    /// Required.
    public var role: ReaderRole
    /// The group's name; when nil the group is named after its role.
    public var name: String?
    /// Number of processes, 1 ... 2000; default 1.
    public var count: Int
    /// Slow-subscriber policy; default `drop`.
    public var policy: SlowPolicy
    /// `ZMQ_RCVHWM` of the SUB socket; default 100 000, 0 means no limit.
    public var rcvhwm: Int
    /// `ZMQ_RCVBUF` (kernel receive buffer, bytes); default the kernel's.
    public var rcvbuf: Int?
    /// How the readers take the stream off the connection; default `libzmq`.
    public var subscriber: SubscriberKind
    /// A per-message delay that makes the reader slow on purpose.
    public var processingDelay: DelaySpec?
    /// `snail`: lag beyond this disconnects and resyncs; default 500 ms.
    public var lagLimit: TimeSpan
    /// Late joiner: launched this long after the measured phase starts.
    public var startAt: TimeSpan?
    /// The name of a relay group to subscribe through instead of the writer.
    public var via: String?
    /// `query` only: request load driven against the group.
    public var load: QueryLoad?
    /// `query` only: worker pool size, 1 ... 256; default 4.
    public var workers: Int
    /// `query` only: recent versions kept for `GetVersion`, 1 ... 65 536; default 256.
    public var historySize: Int
    /// `relay` only: delay, jitter and loss added to what it forwards.
    public var relay: RelaySpec?
    /// `log` only: snapshots written per flush, 1 ... 65 536; default 256.
    public var logFlushEvery: Int
    /// The nice value of the group's processes (-20 ... 19); nil leaves the
    /// orchestrator's. Readers at a higher value than the writer (say 10)
    /// keep a hundred of them on the writer's CPUs from taking its CPU in the
    /// middle of a fan-out, as readers on other hosts would not.
    public var nice: Int?
    /// How the kernel schedules the group's processes; default `normal`.
    /// `batch` keeps a reader woken by the writer's write from taking the
    /// writer's CPU before it has written to the other readers.
    public var scheduling: SchedulingPolicy

    public init(
        role: ReaderRole,
        name: String? = nil,
        count: Int = 1,
        policy: SlowPolicy = .drop,
        rcvhwm: Int = HighWaterMarks.default,
        rcvbuf: Int? = nil,
        subscriber: SubscriberKind = .libzmq,
        processingDelay: DelaySpec? = nil,
        lagLimit: TimeSpan = .milliseconds(500),
        startAt: TimeSpan? = nil,
        via: String? = nil,
        load: QueryLoad? = nil,
        workers: Int = 4,
        historySize: Int = 256,
        relay: RelaySpec? = nil,
        logFlushEvery: Int = 256,
        nice: Int? = nil,
        scheduling: SchedulingPolicy = .normal
    ) {
        self.role = role
        self.name = name
        self.count = count
        self.policy = policy
        self.rcvhwm = rcvhwm
        self.rcvbuf = rcvbuf
        self.subscriber = subscriber
        self.processingDelay = processingDelay
        self.lagLimit = lagLimit
        self.startAt = startAt
        self.via = via
        self.load = load
        self.workers = workers
        self.historySize = historySize
        self.relay = relay
        self.logFlushEvery = logFlushEvery
        self.nice = nice
        self.scheduling = scheduling
    }

    /// The group's name: ``name``, or the role's name when none was given.
    public var groupName: String { name ?? role.rawValue }

    /// The names of the group's nodes: `"<group>-<i>"` (1-based), or exactly
    /// ``name`` for a named group of one.
    public var nodeNames: [String] {
        if name != nil && count == 1 { return [groupName] }
        // An invalid count must not make a huge list; validation reports it.
        return (0..<Swift.max(0, Swift.min(count, Self.countRange.upperBound))).map { "\(groupName)-\($0 + 1)" }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case role, name, count, policy, rcvhwm, rcvbuf, subscriber, processingDelay, lagLimit, startAt, via
        case load, workers, historySize, relay, logFlushEvery, nice, scheduling
    }

    /// Keys that only one role accepts.
    static let roleKeys: [CodingKeys: ReaderRole] = [
        .load: .query, .workers: .query, .historySize: .query, .relay: .relay, .logFlushEvery: .log,
    ]

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.readerGroup($1, path: $2) }
    }

    /// Encodes every key, defaults included, except role-only keys of other roles.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(role, forKey: .role)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encode(count, forKey: .count)
        try c.encode(policy, forKey: .policy)
        try c.encode(rcvhwm, forKey: .rcvhwm)
        try c.encodeIfPresent(rcvbuf, forKey: .rcvbuf)
        try c.encode(subscriber, forKey: .subscriber)
        try c.encodeIfPresent(processingDelay, forKey: .processingDelay)
        try c.encode(lagLimit, forKey: .lagLimit)
        try c.encodeIfPresent(startAt, forKey: .startAt)
        try c.encodeIfPresent(via, forKey: .via)
        try c.encodeIfPresent(load, forKey: .load)
        try c.encodeIfPresent(relay, forKey: .relay)
        try c.encodeIfPresent(nice, forKey: .nice)
        try c.encode(scheduling, forKey: .scheduling)
        switch role {
        case .query:
            try c.encode(workers, forKey: .workers)
            try c.encode(historySize, forKey: .historySize)
        case .log:
            try c.encode(logFlushEvery, forKey: .logFlushEvery)
        case .cli, .relay:
            break
        }
    }
}

/// One scheduled fault.
public struct FaultSpec: Sendable, Hashable, Codable {
    /// When, from the start of the measured phase; less than the run's duration.
    public var at: TimeSpan
    public var action: FaultAction
    /// A node name (`"writer"`, `"cli-3"`, `"slow"`); network faults may also name a group.
    public var target: String
    /// How long before the fault heals: required for `cpu-hog`, `partition`,
    /// `loss`, `bandwidth`; optional for `pause` (then a later `resume` is
    /// expected) and `delay`; not accepted by the others.
    public var `for`: TimeSpan?
    /// `loss`: fraction of packets dropped, more than 0 and at most 1.
    public var loss: Double?
    /// `bandwidth`: a tc rate such as `"1mbit"` (units kbit, mbit, gbit, bps, kbps, mbps).
    public var bandwidth: String?
    /// `delay`: forwarding delay added by the target relay.
    public var delay: TimeSpan?
    /// `cpu-hog`: spinning threads, 1 ... ``maxHogThreads``; default 1.
    public var threads: Int?

    /// The most threads a cpu-hog fault spins.
    public static let maxHogThreads = 64

    public init(
        at: TimeSpan, action: FaultAction, target: String, for: TimeSpan? = nil,
        loss: Double? = nil, bandwidth: String? = nil, delay: TimeSpan? = nil, threads: Int? = nil
    ) {
        self.threads = threads
        self.at = at
        self.action = action
        self.target = target
        self.for = `for`
        self.loss = loss
        self.bandwidth = bandwidth
        self.delay = delay
    }

    /// The tc rate units `bandwidth` accepts, with their bits per second.
    /// As in tc, `bps`, `kbps` and `mbps` are bytes per second.
    public static let bandwidthUnits: [(unit: String, bitsPerSecond: Double)] = [
        ("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9), ("bps", 8), ("kbps", 8e3), ("mbps", 8e6),
    ]

    /// The bits per second of a tc rate such as `"1mbit"`, or nil when it is not one.
    public static func bitsPerSecond(ofRate text: String) -> Double? {
        guard let unitStart = text.firstIndex(where: { $0.isLetter }),
              let unit = bandwidthUnits.first(where: { $0.unit == text[unitStart...] })
        else { return nil }
        let number = text[..<unitStart]
        guard !number.isEmpty, number.allSatisfy({ $0 == "." || ($0.isASCII && $0.isNumber) }),
              let value = Double(number), value > 0
        else { return nil }
        return value * unit.bitsPerSecond
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case at, action, target, `for`, loss, bandwidth, delay, threads
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.fault($1, path: $2) }
    }
}

/// Seeded random faults.
public struct ChaosSpec: Sendable, Hashable, Codable {
    /// Faults per minute; more than 0 and at most 600.
    public var rate: Double
    /// Actions to pick from: a non-empty subset of `kill`, `terminate`, `pause`, `restart`, `cpu-hog`.
    public var actions: [FaultAction]
    /// Node patterns: `"role:cli"`, `"cli-*"` (a `*` matches any text), or exact node names.
    public var targets: [String]
    /// When chaos begins; default the start of the measured phase.
    public var start: TimeSpan?
    /// When chaos ends; default the end of the run.
    public var stop: TimeSpan?
    /// How long a chaos `pause` or `cpu-hog` lasts; default 1 s.
    public var pauseFor: TimeSpan
    /// Seed of the chaos generator; default derived from the topology's seed.
    public var seed: UInt64?

    public init(
        rate: Double, actions: [FaultAction], targets: [String], start: TimeSpan? = nil,
        stop: TimeSpan? = nil, pauseFor: TimeSpan = .seconds(1), seed: UInt64? = nil
    ) {
        self.rate = rate
        self.actions = actions
        self.targets = targets
        self.start = start
        self.stop = stop
        self.pauseFor = pauseFor
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case rate, actions, targets, start, stop, pauseFor, seed
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.chaos($1, path: $2) }
    }
}

/// Latency limits for one role's fast readers, in milliseconds.
public struct LatencySLO: Sendable, Hashable, Codable {
    public var p50Ms: Double?
    public var p99Ms: Double?
    public var maxMs: Double?

    public init(p50Ms: Double? = nil, p99Ms: Double? = nil, maxMs: Double? = nil) {
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.maxMs = maxMs
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case p50Ms, p99Ms, maxMs
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.latencySLO($1, path: $2) }
    }
}

/// What a run must achieve. Every limit is optional; a run with none always meets its SLOs.
///
/// "Fast readers" are readers with no `processingDelay` that no fault or chaos targeted.
public struct SLOSpec: Sendable, Hashable, Codable {
    /// Fan-out latency limits over all fast readers, in milliseconds.
    public var p50LatencyMs: Double?
    public var p99LatencyMs: Double?
    public var maxLatencyMs: Double?
    /// Latency limits per role.
    public var perRole: [ReaderRole: LatencySLO]?
    /// Messages lost by fast readers, at most; 0 is allowed.
    public var maxLossFastReaders: Int?
    /// Largest RSS of any reader, MB.
    public var maxReaderRssMB: Double?
    /// Largest RSS growth of any node over the measured phase, MB.
    public var maxMemoryGrowthMB: Double?
    /// Share of query requests answered BUSY, 0 ... 1.
    public var maxBusyRatio: Double?
    /// Time for every reader to reach the writer's version after a fault or late join, ms.
    public var maxConvergeMs: Double?
    /// Delivered / published for fast readers, more than 0 and at most 1.
    public var minDeliveryRatio: Double?

    public init(
        p50LatencyMs: Double? = nil, p99LatencyMs: Double? = nil, maxLatencyMs: Double? = nil,
        perRole: [ReaderRole: LatencySLO]? = nil, maxLossFastReaders: Int? = nil,
        maxReaderRssMB: Double? = nil, maxMemoryGrowthMB: Double? = nil, maxBusyRatio: Double? = nil,
        maxConvergeMs: Double? = nil, minDeliveryRatio: Double? = nil
    ) {
        self.p50LatencyMs = p50LatencyMs
        self.p99LatencyMs = p99LatencyMs
        self.maxLatencyMs = maxLatencyMs
        self.perRole = perRole
        self.maxLossFastReaders = maxLossFastReaders
        self.maxReaderRssMB = maxReaderRssMB
        self.maxMemoryGrowthMB = maxMemoryGrowthMB
        self.maxBusyRatio = maxBusyRatio
        self.maxConvergeMs = maxConvergeMs
        self.minDeliveryRatio = minDeliveryRatio
    }

    /// True when no limit is set.
    public var isEmpty: Bool { self == SLOSpec() }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case p50LatencyMs, p99LatencyMs, maxLatencyMs, perRole, maxLossFastReaders, maxReaderRssMB
        case maxMemoryGrowthMB, maxBusyRatio, maxConvergeMs, minDeliveryRatio
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.slo($1, path: $2) }
    }
}
