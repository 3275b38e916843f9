import ClusterCore
import ClusterProcess
import Logging
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// What every node process shares, from HELLO to FINAL: the ZeroMQ
/// context, the control client, the shutdown signals, the parent check, the
/// once-a-second tick and STATS, the standalone duration, START and STOP,
/// clock probes, and the final dump. Each kind of node supplies the rest as
/// a ``NodeProcess``: its sockets, its work and its way of waiting, its
/// control messages, its tick and its metrics.
///
/// One thread runs the loop: the node's timed work, the runtime's timers,
/// the node's wait, then whatever woke it (a signal ends the run at once;
/// the node's sockets; control messages). A node that polls puts its sockets
/// in the runtime's poll set beside the signalfd and the control socket; the
/// reader, which blocks on one socket, wakes the runtime for an aux turn
/// instead, and the signalfd and the control socket are then read without
/// asking.
final class NodeRuntime {
    /// What the runtime needs of a node's configuration.
    struct Settings {
        var name: String
        var role: NodeRole
        var controlEndpoint: String?
        var metricsDirectory: String?
        var parentPID: Int32?
        /// Stop after this long (standalone runs).
        var durationNanos: UInt64?
        /// libzmq's I/O threads.
        var ioThreads = 1
        /// The CPU to pin the process to, before the context exists (libzmq's I/O thread inherits it).
        var cpu: Int?
        /// CURVE on every socket, with these files; nil: plain sockets.
        var curve: CurveFiles?
    }

    /// The run, from its start to its end.
    enum Lifecycle {
        /// Attached to an orchestrator, before START.
        case warmingUp
        /// The measured phase: since START, or since the loop began when the node runs alone.
        case measuring(since: UInt64)
        /// STOP came to a node that reads on (a reader's tail): until `until`,
        /// or until the node has read it all.
        case draining(reason: String, until: UInt64, measuredSince: UInt64?)
        case stopped(reason: String, measuredSince: UInt64?)
    }

    /// What woke a node's wait.
    enum Wake {
        /// Nothing: a timeout, or a sleep to the next due time.
        case idle
        /// The poll set has something ready; the signalfd and the control
        /// socket are read only if they are among it.
        case polled
        /// An aux turn: the signalfd and the control socket are read without asking.
        case auxTurn
    }

    /// What a node hands over at the end.
    struct Final {
        var metrics: NodeMetrics
        var histogram: LatencyHistogram
        /// The log line saying it stopped (the reason is added).
        var message: Logger.Message
        var summary: Logger.Metadata
    }

    let settings: Settings
    let logger: Logger
    let signals: ShutdownSignals
    /// This run's identity: its wall-clock start.
    let incarnation: UInt64
    /// The process's start (monotonic ns).
    let startMono: UInt64
    /// The CPUs the process may run on after pinning (read back); empty when not pinned.
    let pinnedTo: [Int]
    /// The gauges `nice` and `scheduling_batch`: what the kernel says of the
    /// main thread, read once (the command sets both before the runtime exists).
    private let schedulingGauges: [String: Double]
    let context: Context
    /// The node's CURVE set-up; nil when its sockets are plain.
    let security: NodeSecurity?
    /// Absent when the node runs alone.
    let control: ControlClient?
    /// The watches on the node's sockets: connections dropped and ended, for its metrics.
    let guards: ConnectionGuards
    private let controlWatch: ConnectionWatch?
    private var poller = Poller()
    private let signalIndex: Int
    private let controlIndex: Int
    private(set) var lifecycle = Lifecycle.warmingUp
    private var nextTick: UInt64 = 0
    /// The process's scheduling at the last tick, and over the second before it.
    private var schedulingAtTick = SchedulingStats.read()
    private(set) var schedulingLastSecond: SchedulingDelta?
    private var readySent = false

    /// Sets the process up: timer slack, CPU pinning, the context, the control client.
    /// - Throws: `CPUAffinityError` when `cpu` is not one the process may run on;
    ///   `ZMQError` when the control endpoint is invalid; `CurveFileError` when
    ///   a CURVE file cannot be used.
    init(_ settings: Settings, signals: ShutdownSignals, logger: Logger) throws {
        self.settings = settings
        self.signals = signals
        self.logger = logger
        incarnation = SystemClock.wallNanos()
        startMono = SystemClock.monotonicNanos()
        ParentWatch.tightenTimerSlack()
        if let cpu = settings.cpu {
            try CPUAffinity.pin(to: cpu)
            pinnedTo = CPUAffinity.allowed()   // the kernel's word for it, for the dumps
        } else {
            pinnedTo = []
        }
        var scheduling: [String: Double] = [:]
        if let nice = Niceness.of() { scheduling[.nice] = Double(nice) }
        if let batch = BatchScheduling.isEnabled() { scheduling[.schedulingBatch] = batch ? 1 : 0 }
        schedulingGauges = scheduling
        // The control socket gets an I/O thread of its own: libzmq looks a host name up in the I/O
        // thread of the socket connecting to it, and under compose a reconnect to a writer that has
        // ended (its name no longer resolves) held that thread for seconds, the FINAL behind it.
        let dataThreads = UInt64(1) << settings.ioThreads - 1
        let controlThread = UInt64(1) << settings.ioThreads
        let attached = settings.controlEndpoint != nil
        let context = try Context(ioThreads: settings.ioThreads + (attached ? 1 : 0), socketAffinity: attached ? dataThreads : 0)
        let security = try settings.curve.map { try NodeSecurity(files: $0, context: context, logger: logger) }
        let control = try settings.controlEndpoint.map {
            try ControlClient(context: context, endpoint: $0, node: settings.name, logger: logger, security: security,
                              affinity: controlThread)
        }
        var poller = Poller()
        signalIndex = poller.add(fileDescriptor: signals.fileDescriptor)
        controlIndex = control.map { poller.add($0.socket) } ?? -1
        let guards = ConnectionGuards()
        controlWatch = try control.map { c in
            try c.events.map { guards.adopt(ConnectionWatch($0, connecting: [c.endpoint])) } ?? guards.connecting(c.socket, to: [c.endpoint])
        }
        self.guards = guards
        self.context = context
        self.security = security
        self.control = control
        self.poller = poller
    }

    /// Runs a node of kind `Kind` from its configuration: sets the process
    /// up, makes the node on it, and runs it to the end.
    /// - Returns: the process exit status, 0.
    /// - Throws: what setting up the process or the node throws: a CPU the
    ///   process may not use, an invalid endpoint, one that cannot be bound,
    ///   a log file that cannot be opened.
    static func run<Kind: NodeProcess>(_ kind: Kind.Type, config: Kind.Config, logger: Logger,
                                       signals: ShutdownSignals) throws -> Int32 {
        let runtime = try NodeRuntime(Kind.settings(config), signals: signals, logger: logger)
        return runtime.run(try Kind(config: config, runtime: runtime))
    }

    /// Runs a node: HELLO (and READY when the node is ready at once), the
    /// loop until a stop, then FINAL and the dump.
    /// - Returns: the process exit status, 0.
    func run(_ node: some NodeProcess) -> Int32 {
        let endpoints = node.helloEndpoints
        control?.hello(role: settings.role, incarnation: incarnation, pubEndpoint: endpoints.pub,
                       snapshotEndpoint: endpoints.snapshots, serviceEndpoint: endpoints.service)
        if let position = node.readyAtHello { ready(epoch: position.epoch, version: position.version) }
        if control == nil { beginMeasuring(node, at: SystemClock.monotonicNanos()) }
        nextTick = SystemClock.monotonicNanos() + node.firstTickDelay
        loop(node)
        finish(node)
        return 0
    }

    // MARK: - For the nodes

    /// Since when the run is measured; nil before START.
    var measuredSince: UInt64? {
        switch lifecycle {
        case .warmingUp: nil
        case .measuring(let since): since
        case .draining(_, _, let since), .stopped(_, let since): since
        }
    }

    /// Says READY, once.
    func ready(epoch: UInt64 = 0, version: UInt64 = 0) {
        guard !readySent, let control else { return }
        readySent = true
        control.ready(epoch: epoch, version: version)
    }

    /// Puts a socket of the node's in the poll set.
    /// - Returns: its index, for ``isReadable(_:)``.
    func watch(_ socket: borrowing Socket) -> Int {
        poller.add(socket)
    }

    /// Adds a file descriptor to the node's poll, for reading; its index for ``isReadable(_:)``.
    func watch(fileDescriptor: Int32) -> Int {
        poller.add(fileDescriptor: fileDescriptor)
    }

    /// Polls the node's sockets, the signalfd and the control socket.
    /// - Returns: how many are ready (0 on a timeout or an error).
    func poll(timeout: Duration) -> Int {
        (try? poller.poll(timeout: timeout)) ?? 0
    }

    /// Whether the last poll found the entry at `index` readable.
    func isReadable(_ index: Int) -> Bool {
        index >= 0 && poller.events(at: index).contains(.readable)
    }

    /// A node's metrics, with the identity and times every node reports.
    func metrics(epoch: UInt64 = 0, counters: [String: UInt64], gauges: [String: Double], recorder: LatencyRecorder,
                 latencies: [String: LatencySummary] = [:], converge: [ConvergeEvent] = [],
                 process: ProcessStats? = ProcessStats.read(), notes: [String] = []) -> NodeMetrics {
        var counters = counters.merging(guards.counters) { $1 }
        let gauges = gauges.merging(schedulingGauges) { $1 }
        let refusals = security?.report(into: &counters)
        var m = NodeMetrics(node: settings.name, role: settings.role, incarnation: incarnation, epoch: epoch,
                            startedWallNs: incarnation, stoppedWallNs: SystemClock.wallNanos(), counters: counters,
                            gauges: gauges, latency: LatencySummary(recorder.total), latencies: latencies,
                            series: recorder.series, converge: converge, process: process, notes: notes)
        m.refusals = refusals
        return m
    }

    // MARK: - The loop

    private var isRunning: Bool {
        if case .stopped = lifecycle { return false }
        return true
    }

    private func loop(_ node: some NodeProcess) {
        while isRunning {
            let now = SystemClock.monotonicNanos()
            node.work(now: now, self)
            serviceTimers(now: now, node)
            guard isRunning else { return }
            let wake = node.wait(now: now, until: nextTick, self)
            if case .idle = wake { continue }
            let aux = if case .auxTurn = wake { true } else { false }
            if aux || isReadable(signalIndex), let signal = signals.take() {
                stop("signal \(signal)")
                return
            }
            node.serve(wake, self)
            if aux || isReadable(controlIndex) { serveControl(node) }
        }
    }

    /// The tick (STATS, the parent check), the standalone duration, the end of a drain.
    private func serviceTimers(now: UInt64, _ node: some NodeProcess) {
        if now >= nextTick {
            nextTick = now + 1_000_000_000
            let scheduling = SchedulingStats.read()
            schedulingLastSecond = scheduling.flatMap { now in schedulingAtTick.map { now.delta(since: $0) } }
            schedulingAtTick = scheduling
            let interval = node.tick(now: now, self)
            control?.stats(interval: interval) { node.fillStats(&$0) }
            if let control, let controlWatch { controlWatch.check(control.socket) }
            if let parent = settings.parentPID, getppid() != parent, isLive { stop("launcher exited") }
        }
        if isLive, let limit = settings.durationNanos, let origin = durationOrigin(node), now >= origin,
           now - origin >= limit {
            stop("duration reached")
        }
        if case .draining(let reason, let until, let since) = lifecycle, node.tailRead || now >= until {
            lifecycle = .stopped(reason: reason, measuredSince: since)
        }
    }

    /// START, STOP and clock probes; every message then goes to the node as well.
    private func serveControl(_ node: some NodeProcess) {
        guard let control else { return }
        while let body = control.receive() {
            switch body {
            case .start:
                if case .warmingUp = lifecycle { beginMeasuring(node, at: SystemClock.monotonicNanos()) }
            case .stop(let stop):
                let reason = stop.reason.isEmpty ? "stop" : stop.reason
                if let drain = node.drainNanos {
                    lifecycle = .draining(reason: reason, until: SystemClock.monotonicNanos() + drain,
                                          measuredSince: measuredSince)
                } else {
                    self.stop(reason)
                }
            case .timeRequest(let request):
                control.answer(request)
            default:
                break
            }
            node.control(body, self)
        }
    }

    /// Not stopping: neither draining nor stopped.
    private var isLive: Bool {
        switch lifecycle {
        case .warmingUp, .measuring: true
        case .draining, .stopped: false
        }
    }

    private func durationOrigin(_ node: some NodeProcess) -> UInt64? {
        switch node.durationOrigin {
        case .processStart: startMono
        case .measuredStart: measuredSince
        }
    }

    private func beginMeasuring(_ node: some NodeProcess, at mono: UInt64) {
        lifecycle = .measuring(since: mono)
        node.measuringBegan(at: mono, self)
    }

    private func stop(_ reason: String) {
        lifecycle = .stopped(reason: reason, measuredSince: measuredSince)
    }

    private var stopReason: String {
        switch lifecycle {
        case .draining(let reason, _, _), .stopped(let reason, _): reason
        case .warmingUp, .measuring: ""
        }
    }

    /// The node's last work and metrics; the log line, FINAL and BYE, the dump.
    private func finish(_ node: some NodeProcess) {
        let reason = stopReason
        let final = node.finish(reason: reason, self)
        var summary = final.summary
        summary["reason"] = "\(reason)"
        logger.info(final.message, metadata: summary)
        control?.finish(metrics: final.metrics, histogram: final.histogram, reason: reason)
        guard let directory = settings.metricsDirectory else { return }
        do {
            try MetricsDump.write(final.metrics, histogram: final.histogram, to: directory)
        } catch {
            logger.error("cannot write metrics", metadata: ["error": "\(error)"])
        }
    }
}

/// The part of a node process that differs from kind to kind; the
/// ``NodeRuntime`` does the rest. Every call comes from the runtime's one
/// thread, in the order of its loop.
protocol NodeProcess: AnyObject {
    associatedtype Config
    /// What the runtime needs of the node's configuration.
    static func settings(_ config: Config) -> NodeRuntime.Settings
    /// Makes the node on `runtime`: its sockets (on the runtime's context), files and state.
    init(config: Config, runtime: NodeRuntime) throws

    /// What HELLO announces: the endpoints this node bound.
    var helloEndpoints: HelloEndpoints { get }
    /// READY right after HELLO with this position (the writer, the query
    /// load), or nil when the node says READY itself, later.
    var readyAtHello: (epoch: UInt64, version: UInt64)? { get }
    /// The first tick's delay from the start of the loop.
    var firstTickDelay: UInt64 { get }
    /// What a standalone duration counts from.
    var durationOrigin: DurationOrigin { get }
    /// How long the node reads on after STOP; nil: it stops at once.
    var drainNanos: UInt64? { get }
    /// Whether a drain may end now (the reader saw END).
    var tailRead: Bool { get }

    /// The measured phase began: START, or the start of the loop when alone.
    func measuringBegan(at mono: UInt64, _ runtime: NodeRuntime)
    /// A control message; START, STOP and clock probes are the runtime's and come here too.
    func control(_ body: Clustersim_V1_ControlMessage.OneOf_Body, _ runtime: NodeRuntime)
    /// What is due at `now`, before the runtime's timers and the wait (publishing, forwarding, sending).
    func work(now: UInt64, _ runtime: NodeRuntime)
    /// Waits until `deadline` (the next tick) at the latest, or until there is something to serve.
    func wait(now: UInt64, until deadline: UInt64, _ runtime: NodeRuntime) -> NodeRuntime.Wake
    /// Serves the node's own sockets after a wake.
    func serve(_ wake: NodeRuntime.Wake, _ runtime: NodeRuntime)
    /// The once-a-second work; returns the interval's latency for STATS.
    func tick(now: UInt64, _ runtime: NodeRuntime) -> LatencySummary
    /// The node's fields of STATS.
    func fillStats(_ stats: inout Clustersim_V1_Stats)
    /// The last work after the loop, and everything measured.
    func finish(reason: String, _ runtime: NodeRuntime) -> NodeRuntime.Final
}

/// The endpoints a node announces in HELLO.
struct HelloEndpoints {
    var pub = ""
    var snapshots = ""
    var service = ""
}

/// What a standalone duration counts from.
enum DurationOrigin {
    /// The process's start.
    case processStart
    /// START (or the loop's start, alone): nothing is counted during warm-up.
    case measuredStart
}

extension NodeProcess {
    var helloEndpoints: HelloEndpoints { HelloEndpoints() }
    var readyAtHello: (epoch: UInt64, version: UInt64)? { nil }
    var firstTickDelay: UInt64 { 1_000_000_000 }
    var durationOrigin: DurationOrigin { .measuredStart }
    var drainNanos: UInt64? { nil }
    var tailRead: Bool { true }
    func measuringBegan(at mono: UInt64, _ runtime: NodeRuntime) {}
    func control(_ body: Clustersim_V1_ControlMessage.OneOf_Body, _ runtime: NodeRuntime) {}
    func work(now: UInt64, _ runtime: NodeRuntime) {}
}
