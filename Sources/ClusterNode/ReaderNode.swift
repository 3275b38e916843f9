import ClusterCore
import ClusterProcess
import Foundation
import Logging
import SwiftProtobuf
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A reader: subscribes to the writer, measures fan-out latency, accounts
/// for every version (received, lost, skipped, stale), follows its
/// slow-subscriber policy and plays its role (log, query, cli).
///
/// One thread does everything. Its hot path is the same as a bare libzmq
/// subscriber's: one blocking receive per message on the SUB socket
/// (`ZMQ_RCVTIMEO`). A queued message costs no system call, so a backlog is
/// taken as a batch without asking; a non-blocking "drain until empty"
/// would pay a poll() inside libzmq each time it found the queue empty.
/// The other sockets (snapshot DEALER, control DEALER, the
/// shutdown signalfd) are checked without blocking every few milliseconds
/// ("aux" turns): polling them with every message cost a `zmq_poll` over
/// five descriptors per wake-up, which on two cores with 100 readers was
/// the difference between keeping up and falling seconds behind. The query
/// role, whose requests must not wait for an aux turn, polls its ROUTER and
/// the SUB socket together instead.
public final class ReaderNode {
    // The per-message state comes first and together: a class's stored
    // properties are laid out in declaration order, and a reader woken with
    // cold caches pays a miss for every cache line of itself it reads. With
    // the configuration first, the fields of one message's path were spread
    // over the object's 1.1 KB (the clock kind at byte 240, the cli at 968,
    // `bufferingStart` at 1 040, each a sampled stall); here they share its
    // first lines. The configuration values the path reads are copied here
    // for the same reason.
    var measuring = false
    /// Clone pattern: updates are held until the first snapshot is applied.
    var bufferingStart = true
    var expectJump = false
    var snailTriggered = false
    let latencyClock: LatencyClock
    let policy: SlowPolicy
    let lagLimitNanos: UInt64
    let processingDelay: DelayModel?
    var lastLagNanos: UInt64 = 0
    var writerVersion: UInt64 = 0
    var writerEpoch: UInt64 = 0
    var decodeErrors: UInt64 = 0
    var heartbeats: UInt64 = 0
    // Roles.
    var cli: CLIView?
    var query: QueryService?
    var log: LogWriter?
    /// cli: the latest frame, kept for the once-a-second view. Raw storage,
    /// owned here: an array would have its header (count, capacity, the
    /// uniqueness check's reference count) read per message, one more line.
    var latestFrame = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    var latestFrameLength = 0
    var latestRange: Range<Int>?
    // Measurement.
    var recorder = LatencyRecorder()
    var tracker: VersionTracker

    let config: ReaderConfig
    var logger: Logger

    /// The CPUs the process may run on after pinning to `cpu` (read back); empty when not pinned.
    var pinnedTo: [Int] = []
    var measureStartMono: UInt64 = 0
    var resyncs: UInt64 = 0
    var snailDisconnects: UInt64 = 0
    var sawEnd: (epoch: UInt64, version: UInt64)?
    var converge: [ConvergeEvent] = []
    var rng: SeededRandom
    var delayedNanos: UInt64 = 0
    /// Aux turns every millisecond until then (clock probes in progress).
    var quickAuxUntil: UInt64 = 0
    /// Time between aux turns when nothing is awaited: bounds how late STOP,
    /// START and signals are seen.
    static let auxInterval: UInt64 = 50_000_000
    /// Wall-clock latencies that came out negative (an offset estimate off by more than the latency).
    var negativeLatencies: UInt64 = 0
    /// Wall clock: nanoseconds added to receive times (given, or from START).
    var clockCorrection: Int64
    /// The wall clock is read per message only when something uses it.
    let needsWall: Bool

    // Snapshot requests (Clone pattern).
    struct Pending { var id: UInt64; var sentMono: UInt64; var trigger: SnapshotTrigger; var triggerMono: UInt64; var triggerWall: UInt64 }
    var pending: Pending?
    var requestSeq: UInt64 = 0

    // Loop state.
    let startMono = SystemClock.monotonicNanos()
    let incarnation = SystemClock.wallNanos()
    var control: ControlClient?
    var readySent = false
    var stopAt: UInt64?
    var stopInfo: (epoch: UInt64, version: UInt64)?
    var exitReason = ""
    var nextTick: UInt64 = 0
    var startConvergePending = true

    var latestSnapshotBytes: [UInt8] = []

    public init(config: ReaderConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        self.latencyClock = config.clock
        self.policy = config.policy
        self.lagLimitNanos = config.lagLimitNanos
        self.processingDelay = config.processingDelay
        self.tracker = VersionTracker(gapsAreSkips: config.policy == .conflate)
        self.rng = SeededRandom(seed: config.seed)
        self.clockCorrection = config.clockOffsetNanos ?? 0
        self.needsWall = config.clock == .wall || config.role == .log
    }

    deinit { latestFrame.deallocate() }

    /// Runs until STOP (then drains the tail), SIGTERM/SIGINT or the configured duration.
    /// - Returns: the process exit status.
    /// - Throws: `ZMQError` when an endpoint is invalid, or the log file cannot be opened;
    ///   `CPUAffinityError` when `cpu` is not one the process may run on.
    public func run(signals: ShutdownSignals) throws -> Int32 {
        ParentWatch.tightenTimerSlack()
        // Before the context: libzmq's I/O thread inherits the CPU.
        if let cpu = config.cpu {
            try CPUAffinity.pin(to: cpu)
            pinnedTo = CPUAffinity.allowed()   // the kernel's word for it, for the dumps
        }
        let context = try Context()

        // Role set-up first: a log file that cannot be opened is an error before any traffic.
        switch config.role {
        case .log:
            let path = config.logPath ?? "\(config.name).jsonl"
            log = try LogWriter(path: path, node: config.name, flushEvery: config.logFlushEvery)
        case .query:
            query = try QueryService(context: context, endpoint: config.serviceEndpoint ?? "tcp://127.0.0.1:*",
                                     workers: config.workers, historySize: config.historySize,
                                     serviceDelayNanos: config.serviceDelayNanos, logger: logger)
        case .cli:
            cli = CLIView(node: config.name)
        case .relay:
            break
        }

        let subs = try SubscriberSockets(context: context, config: config)
        let snapshotClient = try context.socket(.dealer)
        try snapshotClient.setLinger(.zero)
        try snapshotClient.connect(config.snapshotEndpoint)

        if let ep = config.controlEndpoint {
            control = try ControlClient(context: context, endpoint: ep, node: config.name, logger: logger)
            control?.hello(role: .reader(config.role), incarnation: incarnation, serviceEndpoint: query?.endpoint ?? "")
        }
        if control == nil { measuring = true; measureStartMono = startMono }
        // Each reader ticks at its own phase of the second: a hundred readers
        // doing their once-a-second work at the same instant would show up as
        // a latency spike in every one of them.
        var phase = SeededRandom(seed: UInt64(truncatingIfNeeded: config.name.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) }))
        nextTick = SystemClock.monotonicNanos() + 500_000_000 + phase.below(1_000_000_000)

        var nextAux: UInt64 = 0
        // The blocking receive's timeout: the aux interval, set only when it
        // changes (a setsockopt per message, to wait exactly until the next
        // turn, cost more than the rest of the message's path). A turn is then
        // at most one interval late, when a message arrived just before it.
        var auxTimeoutMs: Int64 = 1
        var currentTimeout: Int64 = -2
        // A wall-clock reader's latencies are only as good as its clock offset,
        // estimated from probes the orchestrator sends right after HELLO: while
        // they come, it waits on the control socket too and answers at once (an
        // answer held until the next aux turn biases the offset by the hold).
        // Monotonic readers need no offset; they keep the cheaper blocking receive.
        var probePoller: (poller: Poller, sub: Int, control: Int)?
        if let c = control, config.clock == .wall {
            quickAuxUntil = startMono + 3_000_000_000
            if query == nil {
                var p = Poller()
                let sub = p.add(subs.data)
                let controlIndex = p.add(c.socket)
                probePoller = (p, sub, controlIndex)
            }
        }
        // The receive time of the message just handled serves as the loop's
        // "now": one clock read per message, not two. Not where handling a
        // message takes time of its own (a processing delay, a log batch's write).
        var lastReceive: UInt64 = 0
        let frame = ReceiveBuffer()
        let reuseReceiveTime = config.processingDelay == nil && config.role != .log
        loop: while true {
            let now = lastReceive != 0 ? lastReceive : SystemClock.monotonicNanos()
            lastReceive = 0
            if now >= nextAux {
                if serviceAux(now: now, subs: subs, snapshotClient: snapshotClient, signals: signals) { break loop }
                // 1 ms while a snapshot answer is awaited (convergence is measured) or clock
                // probes are coming, else 50 ms: each turn costs a few system calls inside
                // libzmq, and on two cores a hundred readers' turns are felt by all of them.
                let quick = pending != nil || pendingRequest != nil || now < quickAuxUntil
                let interval = quick ? 1_000_000 : Self.auxInterval
                nextAux = SystemClock.monotonicNanos() + interval
                auxTimeoutMs = Int64(interval / 1_000_000)
            }
            let waitNanos = nextAux > now ? nextAux - now : 0
            if let q = query {
                // The query role waits on its ROUTER and the SUB socket together.
                if queryPoller == nil {
                    var p = Poller()
                    let subIndex = p.add(subs.data)
                    let serviceIndices = q.register(in: &p)
                    let controlIndex = control.map { p.add($0.socket) } ?? -1
                    queryPoller = (p, subIndex, serviceIndices, controlIndex)
                }
                _ = try? queryPoller!.poller.poll(timeout: .nanoseconds(Int64(waitNanos)))
                q.service(poller: queryPoller!.poller, indices: queryPoller!.service)
                if queryPoller!.poller.events(at: queryPoller!.sub).contains(.readable) { drain(subs, into: frame) }
                // Control (clock probes among it) is answered on the next turn, now.
                if queryPoller!.control >= 0, queryPoller!.poller.events(at: queryPoller!.control).contains(.readable) { nextAux = 0 }
            } else if probePoller != nil, now < quickAuxUntil {
                _ = try? probePoller!.poller.poll(timeout: .nanoseconds(Int64(waitNanos)))
                if probePoller!.poller.events(at: probePoller!.sub).contains(.readable) { drain(subs, into: frame) }
                if probePoller!.poller.events(at: probePoller!.control).contains(.readable) { nextAux = 0 }
            } else {
                if auxTimeoutMs != currentTimeout {
                    try? subs.data.setReceiveTimeout(.milliseconds(auxTimeoutMs))
                    currentTimeout = auxTimeoutMs
                }
                // Into one reused buffer, not a closure: a closure capturing the
                // reader cost a retain and a release of it per message.
                if (try? subs.data.receive(into: frame)) == true {
                    let t = SystemClock.monotonicNanos()
                    if reuseReceiveTime { lastReceive = t }
                    handleFrame(frame.bytes, recvMono: t, recvWall: needsWall ? SystemClock.wallNanos() : 0)
                    // Not held through the wait: a held frame keeps the I/O thread
                    // from reusing its receive batch (ReceiveBuffer says more).
                    frame.release()
                }
                // No non-blocking drain after it: a blocking receive takes a queued
                // message without a system call, while a DONTWAIT receive that
                // finds the queue empty costs a poll() inside libzmq.
            }
            if snailTriggered {
                snailTriggered = false
                subs.reconnect()
                currentTimeout = -2
                queryPoller = nil
            }
        }

        // Stop: the last partial interval, the tail, the log, the dumps.
        finishStartBuffering()
        let end = SystemClock.monotonicNanos()
        recorder.roll(t: measuring && end > measureStartMono ? Double(end - measureStartMono) / 1e9 : 0, lostSoFar: tracker.lost)
        if let end = stopInfo ?? sawEnd { tracker.finish(finalEpoch: end.epoch, finalVersion: end.version) }
        if let l = log, !l.close() || l.writeErrors > 0 {
            logger.error("the log file lost lines", metadata: [
                "path": "\(l.path)", "errors": "\(l.writeErrors)", "dropped": "\(l.droppedLines)", "error": "\(l.lastError ?? "")"])
        }
        query?.shutdown()
        let metrics = metricsNow()
        logger.info("reader stopped", metadata: [
            "reason": "\(exitReason)", "received": "\(tracker.received)", "lost": "\(tracker.lost)",
            "p50us": "\(metrics.latency.p50Us)", "p99us": "\(metrics.latency.p99Us)",
        ])
        control?.finish(metrics: metrics, histogram: recorder.total, reason: exitReason)
        if let dir = config.metricsDirectory {
            do {
                try MetricsDump.write(metrics, histogram: recorder.total, to: dir)
            } catch { logger.error("cannot write metrics", metadata: ["error": "\(error)"]) }
        }
        return 0
    }

    /// Takes everything queued on the SUB socket(s) without waiting (bounded,
    /// so aux turns stay on time).
    func drain(_ subs: SubscriberSockets, into frame: borrowing ReceiveBuffer) {
        var n = 0
        while n < 4096, !snailTriggered {
            guard (try? subs.data.receive(into: frame, dontWait: true)) == true else { break }
            handleFrame(frame.bytes, recvMono: SystemClock.monotonicNanos(), recvWall: needsWall ? SystemClock.wallNanos() : 0)
            n += 1
        }
        frame.release()   // a receive that found nothing emptied it already; a bounded drain did not
    }

    /// One aux turn: signals, control, snapshot answers, the heartbeat socket
    /// when conflating, the one-second tick, and the stop condition.
    /// - Returns: true when the reader must stop now.
    func serviceAux(now: UInt64, subs: SubscriberSockets, snapshotClient: borrowing Socket, signals: ShutdownSignals) -> Bool {
        if let sig = signals.take() {
            exitReason = "signal \(sig)"
            return true
        }
        if subs.separateHeartbeats {
            while (try? subs.heartbeat.receive(dontWait: true, { raw, _ in
                self.handleFrame(raw, recvMono: SystemClock.monotonicNanos(), recvWall: self.needsWall ? SystemClock.wallNanos() : 0)
            })) != nil {}
        }
        // Only while an answer is awaited: an empty DONTWAIT receive costs a poll()
        // inside libzmq. A late answer to an abandoned request waits in the queue
        // and is discarded by its id the next time.
        if pending != nil {
            while let msg = try? snapshotClient.receive(dontWait: true) {
                handleSnapshotReply(msg.bytes)
            }
        }
        if let p = pendingRequest {
            pendingRequest = nil
            sendSnapshotRequest(p, on: snapshotClient)
        }
        if let c = control {
            while let body = c.receive() {
                switch body {
                case .start(let start):
                    if start.hasClockCorrection_p, config.clock == .wall, config.clockOffsetNanos == nil {
                        clockCorrection = start.clockCorrectionNs
                    }
                    if !measuring {
                        measuring = true
                        measureStartMono = SystemClock.monotonicNanos()
                        recorder.reset()
                    }
                case .stop(let s):
                    exitReason = s.reason.isEmpty ? "stop" : s.reason
                    if s.finalVersion > 0 { stopInfo = (s.finalEpoch, s.finalVersion) }
                    stopAt = SystemClock.monotonicNanos() + config.drainNanos
                case .timeRequest(let r):
                    c.answer(r)
                    // Clock probes come 30–55 ms apart: answer the next ones within a millisecond.
                    quickAuxUntil = SystemClock.monotonicNanos() + 150_000_000
                default:
                    break
                }
            }
            if !readySent, heartbeats > 0, pending == nil || now - startMono > 3_000_000_000 {
                readySent = true
                c.ready(epoch: tracker.epoch, version: tracker.highest)
            }
        }
        if now >= nextTick {
            nextTick = now + 1_000_000_000
            tick(now: now)
        }
        if bufferingStart, now - startMono > 5_000_000_000 {
            logger.warning("no snapshot from the snapshot service after 5 s: going on with updates alone")
            finishStartBuffering()
        }
        if let d = config.durationNanos, now - startMono >= d, stopAt == nil {
            exitReason = "duration reached"
            return true
        }
        if let s = stopAt, sawEnd != nil || now >= s { return true }
        return false
    }

    // MARK: - Snapshots (Clone pattern)

    /// A request to send on the next aux turn (the DEALER is not at hand inside frame handling).
    var pendingRequest: Pending?

    func requestSnapshot(trigger: SnapshotTrigger, triggerMono: UInt64, triggerWall: UInt64 = 0) {
        if pending != nil || pendingRequest != nil { return }
        // The wall time of the trigger, from the monotonic stamp (the hot path reads only that clock).
        let nowMono = SystemClock.monotonicNanos()
        let triggerWall = triggerWall != 0 ? triggerWall : SystemClock.wallNanos() &- (nowMono &- min(triggerMono, nowMono))
        requestSeq += 1
        pendingRequest = Pending(id: requestSeq, sentMono: 0, trigger: trigger, triggerMono: triggerMono, triggerWall: triggerWall)
    }

    func sendSnapshotRequest(_ p: Pending, on socket: borrowing Socket) {
        var req = Clustersim_V1_SnapshotRequest()
        req.client = config.name
        req.requestID = p.id
        guard let bytes: [UInt8] = try? req.serializedBytes() else { return }
        _ = try? socket.send(bytes, dontWait: true)
        var sent = p
        sent.sentMono = SystemClock.monotonicNanos()
        pending = sent
    }

    func handleSnapshotReply(_ bytes: [UInt8]) {
        guard let reply = try? Clustersim_V1_SnapshotReply(serializedBytes: bytes) else { decodeErrors += 1; return }
        guard let p = pending, p.id == reply.requestID else { return }   // a late answer to an abandoned request
        pending = nil
        guard reply.hasSnapshot else { return }
        tracker.applySnapshot(epoch: reply.epoch, version: reply.version, skipping: p.trigger == .snail)
        if p.trigger != .start { resyncs += 1 }
        defer { if p.trigger == .start { finishStartBuffering() } }
        latestSnapshotBytes = (try? reply.snapshot.serializedBytes()) ?? []
        query?.update(version: reply.version, epoch: reply.epoch, encodedSnapshot: latestSnapshotBytes)
        log?.recordSnapshot(Snapshot(reply.snapshot), recvWall: SystemClock.wallNanos(), via: "snapshot")
        converge.append(ConvergeEvent(trigger: p.trigger, atWallNs: p.triggerWall,
                                      millis: Double(SystemClock.monotonicNanos() - p.triggerMono) / 1e6, version: reply.version))
    }

    /// Updates held until the first snapshot is applied (or given up on).
    var startBuffer: [(bytes: [UInt8], recvMono: UInt64, recvWall: UInt64)] = []

    /// Ends the start of the Clone exchange: replays the held updates (those
    /// at or below the snapshot's version are stale and discarded).
    func finishStartBuffering() {
        guard bufferingStart else { return }
        bufferingStart = false
        let held = startBuffer
        startBuffer = []
        for item in held {
            item.bytes.withUnsafeBytes { raw in
                if case .success(let h) = FrameCodec.parseHeader(raw) {
                    handleUpdates(h, raw, recvMono: item.recvMono, recvWall: item.recvWall)
                }
            }
        }
    }

    // MARK: - The per-message path

    func handleFrame(_ raw: UnsafeRawBufferPointer, recvMono: UInt64, recvWall: UInt64) {
        guard let header = FrameCodec.header(of: raw) ?? Self.headerOfUnusualFrame(raw) else {
            decodeErrors += 1
            return
        }
        switch header.kind {
        case .heartbeat:
            heartbeats += 1
            if header.epoch > writerEpoch { writerEpoch = header.epoch; writerVersion = header.version }
            else if header.epoch == writerEpoch { writerVersion = max(writerVersion, header.version) }
            if startConvergePending {
                startConvergePending = false
                requestSnapshot(trigger: .start, triggerMono: startMono, triggerWall: incarnation)
            } else if header.epoch > tracker.epoch && tracker.epoch != 0 {
                requestSnapshot(trigger: .epochChange, triggerMono: recvMono)
            }
            if expectJump {
                requestSnapshot(trigger: .snail, triggerMono: recvMono)
            }
        case .end:
            sawEnd = (header.epoch, header.version)
        case .snapshot, .batch:
            if bufferingStart {
                // Clone pattern: updates that arrive before the first snapshot are
                // held, so the snapshot is applied first and they follow it.
                startBuffer.append((Array(raw), recvMono, recvWall))
                if startConvergePending {
                    // Any frame proves the subscription is in place: ask now.
                    startConvergePending = false
                    requestSnapshot(trigger: .start, triggerMono: startMono, triggerWall: incarnation)
                }
                if startBuffer.count >= 100_000 { finishStartBuffering() }
                return
            }
            handleUpdates(header, raw, recvMono: recvMono, recvWall: recvWall)
        }
    }

    /// A snapshot frame's update, or each of a batch frame's in order.
    @inline(__always)
    func handleUpdates(_ header: FrameHeader, _ raw: UnsafeRawBufferPointer, recvMono: UInt64, recvWall: UInt64) {
        guard header.kind == .batch else {
            handleUpdate(header, raw, recvMono: recvMono, recvWall: recvWall)
            return
        }
        if !header.forEachEntry(in: raw, { handleUpdate($0, raw, recvMono: recvMono, recvWall: recvWall) }) {
            decodeErrors += 1
        }
    }

    /// A frame the fast parse left alone: valid protobuf our writer does not
    /// produce, or a bad frame. Kept out of line, off the per-message path.
    @inline(never)
    static func headerOfUnusualFrame(_ raw: UnsafeRawBufferPointer) -> FrameHeader? {
        try? FrameCodec.parseHeader(raw).get()
    }

    @inline(__always)
    func handleUpdate(_ header: FrameHeader, _ raw: UnsafeRawBufferPointer, recvMono: UInt64, recvWall: UInt64) {
        let latency: UInt64
        switch latencyClock {
        case .monotonic: latency = recvMono &- header.sendMonotonicNanos
        case .wall:
            let corrected = Int64(bitPattern: recvWall) &+ clockCorrection
            let signed = corrected &- Int64(bitPattern: header.sendWallNanos)
            if signed < 0 { negativeLatencies += 1 }
            latency = UInt64(max(0, signed))
        }
        lastLagNanos = latency
        if measuring, latency < 1 << 62 { recorder.record(nanos: latency) }
        if header.epoch > writerEpoch { writerEpoch = header.epoch }
        if header.epoch == writerEpoch, header.version > writerVersion { writerVersion = header.version }
        // The first update after a snail reconnect: the jump is the policy's choice.
        if expectJump { tracker.gapsAreSkips = true }
        let outcome = tracker.observe(epoch: header.epoch, version: header.version, coalesced: header.extra)
        if expectJump {
            tracker.gapsAreSkips = policy == .conflate
            expectJump = false
            requestSnapshot(trigger: .snail, triggerMono: recvMono)
        }
        switch outcome {
        case .stale, .duplicate, .outOfOrder, .oldEpoch, .implausible:
            return
        case .gap:
            if policy == .resync { requestSnapshot(trigger: .gap, triggerMono: recvMono) }
        case .newEpoch:
            requestSnapshot(trigger: .epochChange, triggerMono: recvMono)
        case .first, .inOrder:
            break
        }
        if let range = header.snapshotRange {
            if cli != nil { keepLatestFrame(raw, snapshotRange: range) }
            if let q = query {
                q.update(version: header.version, epoch: header.epoch, encodedSnapshot: Array(raw[range]))
            }
            if let l = log {
                switch header.scanSnapshotSummary(in: raw) {
                case .success(let s): l.record(s, recvWall: recvWall, via: "update")
                case .failure: decodeErrors += 1
                }
            }
        }
        if let d = processingDelay {
            let n = d.next(&rng)
            sleepNanos(n)
            delayedNanos += n
        }
        if policy == .snail, latency > lagLimitNanos, latency < 1 << 62 {
            snailDisconnects += 1
            logger.info("lag over limit: disconnecting to resync", metadata: ["lagMs": "\(latency / 1_000_000)"])
            snailTriggered = true
            expectJump = true
        }
    }

    /// query: the poller over the SUB socket and the service's sockets (rebuilt after a snail reconnect).
    var queryPoller: (poller: Poller, sub: Int, service: (router: Int, replies: Int), control: Int)?

    /// cli: copies the frame into the reused buffer (a plain memcpy: an
    /// `append(contentsOf:)` per message cost ten times as much).
    @inline(__always)
    func keepLatestFrame(_ raw: UnsafeRawBufferPointer, snapshotRange: Range<Int>) {
        if latestFrame.count < raw.count {
            latestFrame.deallocate()
            latestFrame = .allocate(byteCount: max(raw.count, 2 * latestFrame.count), alignment: 8)
        }
        latestFrame.copyMemory(from: raw)
        latestFrameLength = raw.count
        latestRange = snapshotRange
    }

    // MARK: - Reporting

    /// USS/PSS as last read, and the tick count when they were.
    var lastMemory: (uss: UInt64, pss: UInt64, tick: Int)?
    var ticks = 0

    /// Everything the node measures, as the dumps and FINAL carry it.
    /// - Parameter memoryFresh: read USS/PSS now. The query role publishes its
    ///   metrics every second; it rereads them once a minute (smaps_rollup
    ///   costs about a millisecond of kernel time per read) and repeats the
    ///   last values in between.
    func metricsNow(memoryFresh: Bool = true) -> NodeMetrics {
        var process = ProcessStats.read(withSmaps: memoryFresh || lastMemory.map { ticks - $0.tick >= 60 } ?? true)
        if let p = process, p.ussBytes > 0 || p.pssBytes > 0 {
            lastMemory = (p.ussBytes, p.pssBytes, ticks)
        } else if let m = lastMemory {
            process?.ussBytes = m.uss
            process?.pssBytes = m.pss
        }
        var counters = tracker.counters
        counters[.decodeErrors] = decodeErrors
        counters[.heartbeats] = heartbeats
        counters[.resyncs] = resyncs
        counters[.snailDisconnects] = snailDisconnects
        counters[.writerVersionSeen] = writerVersion
        counters[.latencyClamped] = recorder.clamped
        counters[.processingDelayNanos] = delayedNanos
        if config.clock == .wall { counters[.latencyNegative] = negativeLatencies }
        var gauges: [String: Double] = [:]
        var latencies: [String: LatencySummary] = [:]
        if let l = log {
            counters[.logLines] = l.linesWritten
            counters[.logFlushes] = l.flushes
            counters[.logFsyncs] = l.fsyncs
            counters[.logWriteErrors] = l.writeErrors
            counters[.logLinesDropped] = l.droppedLines
        }
        if let q = query {
            let s = q.stats()
            counters[.queryServed] = s.served
            counters[.queryBusy] = s.busy
            counters[.queryNotAvailable] = s.notAvailable
            counters[.queryBadRequests] = s.badRequests
            gauges[.queryBusyRatio] = s.served + s.busy > 0 ? Double(s.busy) / Double(s.served + s.busy) : 0
            latencies["query_service"] = LatencySummary(s.serviceLatency)
        }
        gauges[.lagMsLast] = Double(lastLagNanos) / 1e6
        if pinnedTo.count == 1 { gauges[.cpuPinned] = Double(pinnedTo[0]) }
        if measureStartMono > 0 { gauges[.runSeconds] = Double(SystemClock.monotonicNanos() - measureStartMono) / 1e9 }
        return NodeMetrics(
            node: config.name, role: .reader(config.role), incarnation: incarnation, epoch: tracker.epoch,
            startedWallNs: incarnation, stoppedWallNs: SystemClock.wallNanos(), counters: counters, gauges: gauges,
            latency: LatencySummary(recorder.total), latencies: latencies, series: recorder.series,
            converge: converge, process: process,
            notes: ["policy=\(config.policy.rawValue)", "clock=\(config.clock.rawValue)"])
    }

    func tick(now: UInt64) {
        ticks += 1
        let t = measuring && now > measureStartMono ? Double(now - measureStartMono) / 1e9 : 0
        let interval = recorder.roll(t: t, lostSoFar: tracker.lost)
        control?.stats(interval: interval) { s in
            s.received = tracker.received
            s.lost = tracker.lost
            s.epoch = tracker.epoch
            s.version = tracker.highest
            if let q = query { let qs = q.stats(); s.busy = qs.busy; s.served = qs.served }
        }
        if let q = query { q.publishMetrics(metricsNow(memoryFresh: false).jsonText()) }
        cli?.render(state: latestState(), version: tracker.highest, epoch: tracker.epoch,
                    lagNanos: lastLagNanos, lost: tracker.lost, received: tracker.received)
        if let p = pending, now > p.sentMono, now - p.sentMono > 1_000_000_000 {
            // No answer within a second (writer down or restarting): ask again.
            pending = nil
            requestSnapshot(trigger: p.trigger, triggerMono: p.triggerMono, triggerWall: p.triggerWall)
        }
        if let parent = config.parentPID, getppid() != parent, stopAt == nil {
            exitReason = "launcher exited"
            stopAt = now
        }
    }

    func latestState() -> String {
        // The allocation-free scan the log role uses, not a full protobuf decode of a copy.
        guard let r = latestRange else { return "-" }
        let scanned = SnapshotSummary.scan(UnsafeRawBufferPointer(rebasing: latestFrame[..<latestFrameLength]), snapshotRange: r)
        guard case .success(let summary) = scanned else { return "-" }
        return summary.state.name
    }
}
