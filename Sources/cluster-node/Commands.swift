import ArgumentParser
import ClusterCore
import ClusterNode
import ClusterProcess
import Foundation

// Each command's options are named by its configuration's `Flag` constants,
// the names the orchestrator renders command lines with; `config()` builds the
// configuration, and CommandLineTests parse rendered configurations back.

struct Writer: ParsableCommand {
    typealias Flag = WriterConfig.Flag
    static let configuration = CommandConfiguration(
        abstract: "Run the writer: FSM, state store, PUB publisher and snapshot service.")

    @OptionGroup var common: CommonOptions
    @Option(name: .customLong(Flag.name), help: "Node name.") var name = "writer"
    @Option(name: .customLong(Flag.pub), help: "PUB endpoint to bind, e.g. tcp://127.0.0.1:5555.") var pub: String
    @Option(name: .customLong(Flag.snapshots), help: "Snapshot service (ROUTER) endpoint to bind.") var snapshots: String
    @Option(name: .customLong(Flag.rate), help: "Snapshots per second.") var rate: Double = 1000
    @Option(name: .customLong(Flag.payloadBytes), help: "Size of each snapshot's contextData, bytes.") var payloadBytes = 256
    @Option(name: .customLong(Flag.seed), help: "Seed of the event generator.") var seed: UInt64 = 1
    @Option(name: .customLong(Flag.script),
            help: "Event script: a JSON file [{\"at\":\"2s\",\"event\":\"activate\"}, …]; replaces the generator.")
    var script: String?
    @Option(name: .customLong(Flag.stateDirectory), help: "Directory holding the latest snapshot, so a restart continues the version line.")
    var stateDir: String?
    @Option(name: .customLong(Flag.sendHighWaterMark), help: "Send high-water mark (frames per subscriber; 0: no limit).") var sndhwm = Int32(HighWaterMarks.default)
    @Option(name: .customLong(Flag.sendBuffer), help: "Kernel send buffer per connection (SO_SNDBUF), bytes.") var sndbuf: Int32?
    @Option(name: .customLong(Flag.ioThreads), help: "libzmq I/O threads (they do the fan-out's TCP writes).") var ioThreads = 1
    @Option(name: .customLong(Flag.publisher), help: ArgumentHelp(
        "Who writes the frames: libzmq (a PUB socket) or direct (the writer speaks ZMTP itself).",
        discussion: "direct writes each frame to every subscriber from the writer's own thread: no I/O thread, no hand-off between threads (docs/architecture.md). Plain sockets only: not with --security curve, nor --nodrop; --io-threads does not apply to it."))
    var publisher: PublisherKind = .libzmq
    @ArgumentParser.Flag(name: .customLong(Flag.noDrop),
                         help: "Block instead of dropping at the high-water mark (ZMQ_XPUB_NODROP); time blocked is reported.")
    var nodrop = false
    @ArgumentParser.Flag(name: .customLong(Flag.coalesce),
                         help: "When behind schedule, publish only the newest of the snapshots due; readers count the rest as skipped (coalesced).")
    var coalesce = false
    @Option(name: .customLong(Flag.batchMaxCount), help: ArgumentHelp(
        "Batch: send the versions waiting together, up to this many to a frame (SNB1), each with its own version and stamps.",
        discussion: "A frame goes out when this many wait, or at once when no frame went out within --batch-max-delay, else when that delay has passed since the last frame. Off without it (one frame per version); 2...4096.",
        valueName: "count"))
    var batchMaxCount: Int?
    @Option(name: .customLong(Flag.batchMaxDelay), help: ArgumentHelp(
        "Batch: the longest a version waits for others to share its frame, e.g. 1ms (default 0s: only versions due together share one).",
        valueName: "duration"))
    var batchMaxDelay: DurationArgument?
    @Option(name: .customLong(Flag.heartbeat), help: "Heartbeat interval, e.g. 1s.") var heartbeat = DurationArgument(argument: "1s")!
    @Option(name: .customLong(Flag.historyLimit), help: "Transitions kept in each snapshot's history.") var historyLimit = 16
    @Option(name: .customLong(Flag.duration), help: "Stop after this long (standalone runs), e.g. 10s.") var duration: DurationArgument?

    func validate() throws {
        guard rate > 0, rate <= 1_000_000 else { throw ValidationError("--rate must be in (0, 1000000], got \(rate)") }
        guard (0...1_048_576).contains(payloadBytes) else { throw ValidationError("--payload-bytes must be 0...1048576") }
        guard sndhwm >= 0 else { throw ValidationError("--sndhwm must be ≥ 0") }
        guard (1...16).contains(ioThreads) else { throw ValidationError("--io-threads must be 1...16") }
        if publisher == .direct, common.security == .curve {
            throw ValidationError("--publisher direct speaks the NULL mechanism only: --security curve needs --publisher libzmq")
        }
        if publisher == .direct, nodrop {
            throw ValidationError("--publisher direct drops at the high-water mark: --nodrop needs --publisher libzmq")
        }
        if let script, !FileManager.default.fileExists(atPath: script) {
            throw ValidationError("--script \(script): no such file")
        }
        if let n = batchMaxCount, !(2...WriterBatching.maxCountLimit).contains(n) {
            throw ValidationError("--batch-max-count \(n): expected 2...\(WriterBatching.maxCountLimit) versions to a frame")
        }
        if let d = batchMaxDelay {
            guard batchMaxCount != nil else {
                throw ValidationError("--batch-max-delay \(d.text) needs --batch-max-count (batching is off without it)")
            }
            guard d.nanos <= WriterBatching.maxDelayLimitNanos else {
                throw ValidationError("--batch-max-delay \(d.text): expected at most 1s")
            }
        }
        if coalesce, batchMaxCount != nil {
            throw ValidationError("--coalesce and --batch-max-count exclude each other: coalescing sends the newest version only, batching every version")
        }
    }

    func config() -> WriterConfig {
        var c = WriterConfig(publishEndpoint: pub, snapshotEndpoint: snapshots)
        c.name = name
        c.rate = rate
        c.payloadBytes = payloadBytes
        c.seed = seed
        c.scriptPath = script
        c.stateDirectory = stateDir
        c.sendHighWaterMark = sndhwm
        c.sendBufferBytes = sndbuf
        c.ioThreads = ioThreads
        c.publisher = publisher
        c.noDrop = nodrop
        c.coalesce = coalesce
        c.batch = batchMaxCount.map { WriterBatching(maxCount: $0, maxDelayNanos: batchMaxDelay?.nanos ?? 0) }
        c.heartbeatNanos = heartbeat.nanos
        c.historyLimit = historyLimit
        c.durationNanos = duration?.nanos
        common.attach(&c)
        return c
    }

    func run() throws {
        try common.run { try Node.run(config(), logger: common.logger(name), signals: $0) }
    }
}

struct Reader: ParsableCommand {
    typealias Flag = ReaderConfig.Flag
    static let configuration = CommandConfiguration(
        abstract: "Run a reader: subscribe, measure fan-out latency and losses, play a role.")

    @OptionGroup var common: CommonOptions
    @Option(name: .customLong(Flag.name), help: "Node name.") var name: String?
    @Option(name: .customLong(Flag.claimName), help: ArgumentHelp(
        "Take the name of an unclaimed node of this topology group from the orchestrator, instead of --name.",
        discussion: "For replicated containers (compose `replicas`). The seed comes with the name; `{name}` in --log-file and --metrics-dir becomes it. Under --security curve the key file is the group's, which every replica of it shares."))
    var claimName: String?
    @Option(name: .customLong(Flag.claimTimeout), help: "How long to wait for the orchestrator's answer to --claim-name.")
    var claimTimeout = DurationArgument(argument: "120s")!
    @Option(name: .customLong(Flag.role), help: "Role: log, query, cli.") var role: ReaderRole = .cli
    @Option(name: .customLong(Flag.pub), help: "The writer's PUB endpoint.") var pub: String
    @Option(name: .customLong(Flag.snapshots), help: "The writer's snapshot service endpoint.") var snapshots: String
    @Option(name: .customLong(Flag.policy), help: "Slow-subscriber policy: drop, conflate, resync, snail.") var policy: SlowPolicy = .drop
    @Option(name: .customLong(Flag.receiveHighWaterMark), help: "Receive high-water mark (frames; 0: no limit).") var rcvhwm = Int32(HighWaterMarks.default)
    @Option(name: .customLong(Flag.receiveBuffer), help: "Kernel receive buffer (SO_RCVBUF), bytes.") var rcvbuf: Int32?
    @Option(name: .customLong(Flag.subscriber), help: ArgumentHelp(
        "How the stream is read: libzmq (a SUB socket) or direct (the reader speaks ZMTP itself).",
        discussion: "direct reads the connection on the reader's own thread: one thread woken per read instead of two per frame (docs/architecture.md); with --security curve it is a CurveZMQ client itself. Not with --policy conflate; --rcvhwm does not apply (the kernel's buffer and the writer's --sndhwm bound the queue)."))
    var subscriber: SubscriberKind = .libzmq
    @Option(name: .customLong(Flag.delay), help: "Processing delay per message: 2ms, uniform:1ms:3ms or exponential:2ms.")
    var delay: String?
    @Option(name: .customLong(Flag.lagLimit), help: "snail: lag beyond which the reader disconnects and resyncs.")
    var lagLimit = DurationArgument(argument: "500ms")!
    @Option(name: .customLong(Flag.seed), help: "Seed of the delay distribution.") var seed: UInt64 = 1
    @Option(name: .customLong(Flag.logFile), help: "log: the JSON Lines file (appended to).") var logFile: String?
    @Option(name: .customLong(Flag.logFlushEvery), help: "log: lines per batch.") var logFlushEvery = 256
    @Option(name: .customLong(Flag.service), help: "query: endpoint the request/reply service binds.") var service: String?
    @Option(name: .customLong(Flag.workers), help: "query: worker threads.") var workers = 4
    @Option(name: .customLong(Flag.historySize), help: "query: recent versions kept for GetVersion.") var historySize = 256
    @Option(name: .customLong(Flag.serviceDelay), help: "query: simulated work per request, e.g. 1ms.") var serviceDelay: DurationArgument?
    @Option(name: .customLong(Flag.drain), help: "After STOP, read the tail at most this long.") var drain = DurationArgument(argument: "2s")!
    @Option(name: .customLong(Flag.clock), help: "Latency clock: monotonic (one host) or wall (across hosts).")
    var clock: LatencyClock = .monotonic
    @Option(name: .customLong(Flag.clockOffset),
            help: "wall clock: nanoseconds added to this node's clock (default: the orchestrator's estimate).")
    var clockOffsetNs: Int64?
    @Option(name: .customLong(Flag.duration), help: "Stop after this long (standalone runs).") var duration: DurationArgument?
    @Option(name: .customLong(Flag.pubNode), help: ArgumentHelp(
        "With --security curve: the node serving --pub (a relay), whose key the reader expects there; default: the writer.",
        valueName: "name")) var pubNode: String?
    @Option(name: .customLong(Flag.cpu), help: ArgumentHelp(
        "Pin the process (its thread and libzmq's I/O thread) to this CPU.",
        discussion: "The hand-off of each message from libzmq's thread to the reader's is then a wake-up on the same CPU. The orchestrator passes it with the topology's cpuPinning \"spread\".",
        valueName: "cpu")) var cpu: Int?
    @Option(name: .customLong(Flag.maxMessage), help: ArgumentHelp(
        "The largest frame or snapshot reply accepted, bytes (ZMQ_MAXMSGSIZE).",
        discussion: "A larger one makes libzmq drop that connection; the reader counts it (connections_dropped) and connects again. Default: a snapshot of the schema's largest writer (1 MiB of payload, 1 024 entries of history) with margin; the orchestrator passes its topology's."))
    var maxMessage = MessageLimits.defaultSnapshotFrameLimit

    func validate() throws {
        switch (name, claimName) {
        case (nil, nil): throw ValidationError("give the node a name: --name NAME, or --claim-name GROUP to take one from the orchestrator")
        case (.some, .some): throw ValidationError("--name and --claim-name exclude each other")
        case (nil, .some) where common.controlEndpoint == nil:
            throw ValidationError("--claim-name needs the orchestrator: --control ENDPOINT or CLUSTERSIM_CONTROL")
        default: break
        }
        if role == .relay { throw ValidationError("--role relay is not a reader role of this command") }
        if subscriber == .direct, policy == .conflate {
            throw ValidationError("--subscriber direct does not conflate: --policy conflate needs --subscriber libzmq")
        }
        if let delay, Self.delayModel(delay) == nil {
            throw ValidationError("--delay \(delay): expected a duration (2ms), uniform:MIN:MAX or exponential:MEAN")
        }
        guard workers >= 1 else { throw ValidationError("--workers must be ≥ 1") }
        guard maxMessage >= MessageLimits.requestBytes else {
            throw ValidationError("--max-message \(maxMessage): expected at least \(MessageLimits.requestBytes) bytes")
        }
        if let cpu {
            let allowed = CPUAffinity.allowed()
            guard CPUAffinity.mayUse(cpu, allowed: allowed) else {
                throw ValidationError("--cpu \(cpu): not a CPU this process may run on; expected one of \(CPUAffinity.describe(allowed))")
            }
        }
    }

    static func delayModel(_ text: String) -> DelayModel? {
        DelayModel(argument: text, parse: { try? TimeSpan(parsing: $0).nanoseconds })
    }

    /// The configuration as given; a claimed name is filled in by `run()`.
    func config() -> ReaderConfig {
        var c = ReaderConfig(name: name ?? "", publishEndpoint: pub, snapshotEndpoint: snapshots)
        c.claimGroup = claimName
        c.claimTimeoutNanos = claimTimeout.nanos
        c.role = role
        c.policy = policy
        c.receiveHighWaterMark = rcvhwm
        c.receiveBufferBytes = rcvbuf
        c.subscriber = subscriber
        c.processingDelay = delay.flatMap(Self.delayModel)
        c.lagLimitNanos = lagLimit.nanos
        c.seed = seed
        c.logPath = logFile
        c.logFlushEvery = logFlushEvery
        c.serviceEndpoint = service
        c.workers = workers
        c.historySize = historySize
        c.serviceDelayNanos = serviceDelay?.nanos ?? 0
        c.drainNanos = drain.nanos
        c.clock = clock
        c.clockOffsetNanos = clockOffsetNs
        c.durationNanos = duration?.nanos
        c.cpu = cpu
        c.pubNode = pubNode
        c.maxMessageBytes = maxMessage
        common.attach(&c)
        return c
    }

    func run() throws {
        try common.run { signals in
            var c = config()
            if let group = c.claimGroup, let control = c.controlEndpoint {
                let claimed = try NameClaim.claim(group: group, role: .reader(role), endpoint: control,
                                                  timeoutNanos: c.claimTimeoutNanos, curve: c.curve, logger: common.logger(group))
                c.name = claimed.name
                c.seed = claimed.seed
                c.metricsDirectory = c.metricsDirectory?.replacingOccurrences(of: ReaderConfig.namePlaceholder, with: claimed.name)
                c.logPath = c.logPath?.replacingOccurrences(of: ReaderConfig.namePlaceholder, with: claimed.name)
            }
            return try Node.run(c, logger: common.logger(c.name), signals: signals)
        }
    }
}

struct QueryLoadCommand: ParsableCommand {
    typealias Flag = QueryLoadConfig.Flag
    static let configuration = CommandConfiguration(
        commandName: "query-load",
        abstract: "Load query readers with N concurrent clients at a rate; record latency and the BUSY ratio.")

    @OptionGroup var common: CommonOptions
    @Option(name: .customLong(Flag.name), help: "Node name.") var name = "query-load"
    @Option(name: .customLong(Flag.target), help: "A query reader's service endpoint (repeat for several).") var target: [String]
    @Option(name: .customLong(Flag.clients), help: "Concurrent clients (requests outstanding at most).") var clients = 4
    @Option(name: .customLong(Flag.rate), help: "Requests per second in total.") var rate: Double = 100
    @Option(name: .customLong(Flag.timeout), help: "Request timeout.") var timeout = DurationArgument(argument: "1s")!
    @Option(name: .customLong(Flag.mix),
            help: "Relative weights of the request kinds, e.g. latest:70,version:20,health:5,metrics:5 (the default).")
    var mix: String?
    @Option(name: .customLong(Flag.targetNode), help: ArgumentHelp(
        "With --security curve: the query reader serving each --target, in the same order (their keys are expected there).",
        valueName: "name")) var targetNode: [String] = []
    @Option(name: .customLong(Flag.seed), help: "Seed of the request mix.") var seed: UInt64 = 1
    @Option(name: .customLong(Flag.duration), help: "Stop after this long (standalone runs).") var duration: DurationArgument?
    @Option(name: .customLong(Flag.maxMessage), help: ArgumentHelp(
        "The largest reply accepted, bytes (ZMQ_MAXMSGSIZE).",
        discussion: "A larger one makes libzmq drop that connection; it is counted (connections_dropped) and connected again. Default: the schema's largest snapshot, or a reader's metrics over an hour; the orchestrator passes its topology's."))
    var maxMessage = MessageLimits.defaultQueryReplyLimit

    func validate() throws {
        guard !target.isEmpty else { throw ValidationError("give at least one --target") }
        guard clients >= 1, rate > 0 else { throw ValidationError("--clients must be ≥ 1 and --rate > 0") }
        if common.security == .curve, targetNode.count != target.count {
            throw ValidationError("--security curve needs a --target-node for each --target (\(target.count)), found \(targetNode.count)")
        }
        guard maxMessage >= MessageLimits.requestBytes else {
            throw ValidationError("--max-message \(maxMessage): expected at least \(MessageLimits.requestBytes) bytes")
        }
        if let mix, RequestMix(argument: mix) == nil {
            throw ValidationError("--mix \(mix): expected KIND:WEIGHT pairs separated by commas, kinds latest, version, health, metrics, weights ≥ 0 and one > 0")
        }
    }

    func config() -> QueryLoadConfig {
        var c = QueryLoadConfig(name: name, targets: target)
        c.clients = clients
        c.rate = rate
        c.timeoutNanos = timeout.nanos
        c.seed = seed
        c.mix = mix.flatMap(RequestMix.init(argument:))
        c.targetNodes = targetNode
        c.maxMessageBytes = maxMessage
        common.attach(&c)
        c.durationNanos = duration?.nanos
        return c
    }

    func run() throws {
        try common.run { try Node.run(config(), logger: common.logger(name), signals: $0) }
    }
}

struct CPUHog: ParsableCommand {
    typealias Flag = CPUHogConfig.Flag
    static let configuration = CommandConfiguration(
        commandName: "cpu-hog", abstract: "Spin CPUs for a while (the cpu-hog fault).")

    @Option(name: .customLong(Flag.for), help: "How long to spin, e.g. 2s.") var `for`: DurationArgument
    @Option(name: .customLong(Flag.threads), help: "Spinning threads (1 ... \(FaultSpec.maxHogThreads)).") var threads = 1
    @Option(name: .customLong(Flag.cpu), help: "A CPU to spin on; repeat it for several (thread i on the i-th, in turn). Default: wherever the kernel puts them.")
    var cpu: [Int] = []
    @Option(name: .customLong(CommonFlag.parentPID), help: "Exit when this process (the launcher) is gone.") var parentPid: Int32?

    func validate() throws {
        guard (1...FaultSpec.maxHogThreads).contains(threads) else {
            throw ValidationError("--threads \(threads): expected 1 ... \(FaultSpec.maxHogThreads)")
        }
        let allowed = CPUAffinity.allowed()
        if let bad = cpu.first(where: { !CPUAffinity.mayUse($0, allowed: allowed) }) {
            throw ValidationError("--cpu \(bad): not a CPU this process may run on (allowed: \(CPUAffinity.describe(allowed)))")
        }
    }

    func config() -> CPUHogConfig {
        var c = CPUHogConfig(forNanos: self.for.nanos, threads: threads, cpus: cpu)
        c.parentPID = parentPid
        return c
    }

    func run() throws {
        if let p = parentPid, !ParentWatch.arm(parentPID: p) { return }
        let end = SystemClock.monotonicNanos() + self.for.nanos
        let cpus = cpu
        let spinners = (1..<threads).map { i in
            let t = Thread { Self.spin(until: end, on: cpus.isEmpty ? nil : cpus[i % cpus.count]) }
            t.start()
            return t
        }
        Self.spin(until: end, on: cpus.first)
        while spinners.contains(where: { !$0.isFinished }) { usleep(1_000) }
    }

    /// Burns the calling thread's CPU until `end`, pinned to `cpu` when given.
    static func spin(until end: UInt64, on cpu: Int?) {
        if let cpu { try? CPUAffinity.pin(to: cpu) }
        var x: UInt64 = 0
        while SystemClock.monotonicNanos() < end {
            for i in 0..<10_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
        }
        if x == 42 { print("") }
    }
}

extension ReaderRole: ExpressibleByArgument {}
extension SlowPolicy: ExpressibleByArgument {}
extension SubscriberKind: ExpressibleByArgument {}
extension PublisherKind: ExpressibleByArgument {}
extension LatencyClock: ExpressibleByArgument {}

struct Relay: ParsableCommand {
    typealias Flag = RelayConfig.Flag
    static let configuration = CommandConfiguration(
        abstract: "Run a relay: an XSUB/XPUB forwarder with seeded delay, jitter and loss.")

    @OptionGroup var common: CommonOptions
    @Option(name: .customLong(Flag.name), help: "Node name.") var name: String
    @Option(name: .customLong(Flag.upstream), help: "Upstream PUB endpoint (the writer's or another relay's).") var upstream: String
    @Option(name: .customLong(Flag.bind), help: "Where this relay's XPUB binds, e.g. tcp://127.0.0.1:5560.") var bind: String
    @Option(name: .customLong(Flag.delay), help: "Delay added to every frame, e.g. 5ms.") var delay: DurationArgument?
    @Option(name: .customLong(Flag.jitter), help: "Uniform jitter on top of the delay, e.g. 1ms.") var jitter: DurationArgument?
    @Option(name: .customLong(Flag.loss), help: "Share of snapshot frames dropped, 0...1.") var loss: Double = 0
    @Option(name: .customLong(Flag.seed), help: "Seed of the jitter and the loss.") var seed: UInt64 = 1
    @Option(name: .customLong(Flag.upstreamNode), help: ArgumentHelp(
        "With --security curve: the node serving --upstream (another relay), whose key the relay expects there; default: the writer.",
        valueName: "name")) var upstreamNode: String?
    @Option(name: .customLong(Flag.duration), help: "Stop after this long (standalone runs).") var duration: DurationArgument?
    @Option(name: .customLong(Flag.maxMessage), help: ArgumentHelp(
        "The largest frame accepted from upstream, bytes (ZMQ_MAXMSGSIZE).",
        discussion: "A larger one makes libzmq drop the connection; the relay counts it (connections_dropped) and connects again. Default: the schema's largest snapshot with margin; the orchestrator passes its topology's."))
    var maxMessage = MessageLimits.defaultSnapshotFrameLimit
    @Option(name: .customLong(Flag.highWaterMark), help: ArgumentHelp(
        "Frames queued upstream (ZMQ_RCVHWM) and per subscriber (ZMQ_SNDHWM).",
        discussion: "The orchestrator passes one that keeps a subscriber's queue within 256 MiB of its topology's frames."))
    var hwm = Int32(HighWaterMarks.default)

    func validate() throws {
        guard (0...1).contains(loss) else { throw ValidationError("--loss must be within 0...1, got \(loss)") }
        guard maxMessage >= MessageLimits.requestBytes else {
            throw ValidationError("--max-message \(maxMessage): expected at least \(MessageLimits.requestBytes) bytes")
        }
        guard hwm >= 0 else { throw ValidationError("--hwm must be ≥ 0 (0: no limit), got \(hwm)") }
    }

    func config() -> RelayConfig {
        var c = RelayConfig(name: name, upstream: upstream, bindEndpoint: bind)
        c.delayNanos = delay?.nanos ?? 0
        c.jitterNanos = jitter?.nanos ?? 0
        c.loss = loss
        c.seed = seed
        c.upstreamNode = upstreamNode
        c.maxMessageBytes = maxMessage
        c.highWaterMark = hwm
        common.attach(&c)
        c.durationNanos = duration?.nanos
        return c
    }

    func run() throws {
        try common.run { try Node.run(config(), logger: common.logger(name), signals: $0) }
    }
}
