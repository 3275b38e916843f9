import ClusterCore
import ClusterProcess
import Logging
import ZeroMQ

/// A reader: subscribes to the writer, measures fan-out latency, accounts
/// for every version (received, lost, skipped, stale), follows its
/// slow-subscriber policy and plays its role (log, query, cli).
///
/// One thread does everything. Its hot path is a bare libzmq subscriber's:
/// one blocking receive per message on the SUB socket (`ZMQ_RCVTIMEO`); the
/// other sockets and the signalfd are looked at in aux turns, every 50 ms
/// (1 ms while a snapshot answer is awaited or clock probes are coming). The
/// query role, whose requests must not wait for an aux turn, polls its
/// ROUTER and the SUB socket together instead. docs/architecture.md,
/// "Processes and threads" and "Decisions", says why.
///
/// This file holds its state and the per-message path; ReaderWaits.swift how
/// it waits and what an aux turn does, ReaderSnapshots.swift the snapshot
/// exchange (``SyncStateMachine`` decides it), ReaderReport.swift its tick,
/// STATS and metrics.
final class ReaderNode: NodeProcess {
    // The per-message state comes first and together, as fields of this class
    // (so it has more than the usual fifteen): a class's stored properties are
    // laid out in declaration order, and a reader woken with cold caches pays
    // a miss for every line of itself it reads. The configuration values the
    // path reads are copied here for the same reason (docs/architecture.md,
    // "Decisions").
    /// The Clone-pattern decisions: its first bytes are read per message.
    var sync: SyncStateMachine
    /// A copy of the runtime's lifecycle for the path: whether latencies are recorded.
    var measuring = false
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
    let cli: CLIView?
    let query: QueryService?
    let log: LogWriter?
    var latest = LatestFrame()
    // Measurement.
    var recorder = LatencyRecorder()
    var tracker: VersionTracker

    // Everything else.
    let config: ReaderConfig
    let logger: Logger
    let subs: SubscriberSockets
    /// The snapshot service's DEALER (Clone pattern).
    let snapshotClient: Socket
    let snapshotWatch: ConnectionWatch
    /// Updates held until the start snapshot is applied (or given up on).
    var held: [HeldUpdate] = []
    /// Their bytes: they are held up to a count and a byte budget.
    var heldBytes = 0
    var tally = ReaderTally()
    /// Batch frames received, and their transport latency.
    var batches = ReaderBatches()
    var streamEnd = StreamEnd()
    /// Where the writer said its latest epoch began (heartbeats, END), for the tracker's epoch-start accounting.
    var epochStart: (epoch: UInt64, firstVersion: UInt64) = (0, 0)
    var memory = MemoryReading()
    var rng: SeededRandom
    /// Wall clock: nanoseconds added to receive times (given, or from START).
    var clockCorrection: Int64
    /// The wall clock is read per message only when something uses it.
    let needsWall: Bool
    var waits: WaitState

    static func settings(_ config: ReaderConfig) -> NodeRuntime.Settings {
        NodeRuntime.Settings(
            name: config.name, role: .reader(config.role), controlEndpoint: config.controlEndpoint,
            metricsDirectory: config.metricsDirectory, parentPID: config.parentPID,
            durationNanos: config.durationNanos, cpu: config.cpu, curve: config.curve)
    }

    /// Sets the roles up (a log file that cannot be opened is an error before
    /// any traffic), then the sockets.
    init(config: ReaderConfig, runtime: NodeRuntime) throws {
        self.config = config
        logger = runtime.logger
        log = config.role == .log
            ? try LogWriter(path: config.logPath ?? "\(config.name).jsonl", node: config.name, flushEvery: config.logFlushEvery)
            : nil
        query = config.role == .query
            ? try QueryService(context: runtime.context, endpoint: config.serviceEndpoint ?? "tcp://127.0.0.1:*",
                               workers: config.workers, historySize: config.historySize,
                               serviceDelayNanos: config.serviceDelayNanos, maxReplyBytes: config.maxMessageBytes,
                               guards: runtime.guards, logger: runtime.logger, security: runtime.security)
            : nil
        cli = config.role == .cli ? CLIView(node: config.name) : nil
        subs = try SubscriberSockets(context: runtime.context, config: config, security: runtime.security, guards: runtime.guards)
        snapshotClient = try runtime.context.socket(.dealer)
        try snapshotClient.setLinger(.zero)
        try snapshotClient.setMaxMessageSize(Int64(config.maxMessageBytes))
        snapshotWatch = try runtime.guards.connecting(snapshotClient, to: [config.snapshotEndpoint], security: runtime.security,
                                                      server: Topology.writerName, label: "snapshots")
        try snapshotClient.connect(config.snapshotEndpoint)
        sync = SyncStateMachine(policy: config.policy, startMono: runtime.startMono, startWall: runtime.incarnation)
        latencyClock = config.clock
        policy = config.policy
        lagLimitNanos = config.lagLimitNanos
        processingDelay = config.processingDelay
        tracker = VersionTracker(gapsAreSkips: config.policy == .conflate)
        tracker.epochLimit = Self.epochLimit(wallNanos: SystemClock.wallNanos())
        rng = SeededRandom(seed: config.seed)
        clockCorrection = config.clockOffsetNanos ?? 0
        needsWall = config.clock == .wall || config.role == .log
        waits = WaitState(startMono: runtime.startMono, clock: config.clock, attached: runtime.control != nil,
                          serving: query != nil)
    }

    var helloEndpoints: HelloEndpoints { HelloEndpoints(service: query?.endpoint ?? "") }

    /// Each reader ticks at its own phase of the second: a hundred readers
    /// doing their once-a-second work at the same instant would show up as a
    /// latency spike in every one of them.
    var firstTickDelay: UInt64 {
        var phase = SeededRandom(seed: UInt64(truncatingIfNeeded: config.name.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) }))
        return 500_000_000 + phase.below(1_000_000_000)
    }

    deinit { latest.deallocate() }

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
            sync.heartbeat(epoch: header.epoch, trackerEpoch: tracker.epoch, at: recvMono)
            noteEpochStart(header)
        case .end:
            streamEnd.seen = (header.epoch, header.version)
            noteEpochStart(header)
        case .snapshot, .batch:
            if sync.holdsUpdates {
                holdUpdate(raw, recvMono: recvMono, recvWall: recvWall)
                return
            }
            handleUpdates(header, raw, recvMono: recvMono, recvWall: recvWall)
        }
    }

    /// The highest epoch a reader accepts at wall time `wallNanos`: a writer's
    /// epoch is its start in wall-clock microseconds, so one more than a day
    /// ahead of this clock is forged (docs/protocol.md, `implausible_discarded`).
    static func epochLimit(wallNanos: UInt64) -> UInt64 { wallNanos / 1_000 + 86_400_000_000 }

    /// A heartbeat or END said where its epoch began: the tracker settles the
    /// start of an epoch it entered as the writer restarted (again on each tick,
    /// for a heartbeat that came before the epoch's first update).
    func noteEpochStart(_ header: FrameHeader) {
        guard header.epochFirstVersion > 0, header.epoch >= epochStart.epoch else { return }
        epochStart = (header.epoch, header.epochFirstVersion)
        tracker.epochStarted(epoch: epochStart.epoch, firstVersion: epochStart.firstVersion)
    }

    /// A snapshot frame's update, or each of a batch frame's in order.
    func handleUpdates(_ header: FrameHeader, _ raw: UnsafeRawBufferPointer, recvMono: UInt64, recvWall: UInt64) {
        guard header.kind == .batch else {
            handleUpdate(header, raw, recvMono: recvMono, recvWall: recvWall)
            return
        }
        batches.frames += 1
        if measuring { batches.recordTransport(header, recvMono: recvMono, recvWall: recvWall, clock: latencyClock, correction: clockCorrection) }
        let before = tracker.received
        if !header.forEachEntry(in: raw, { handleUpdate($0, raw, recvMono: recvMono, recvWall: recvWall) }) {
            decodeErrors += 1
        }
        batches.versions += tracker.received - before
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
            if signed < 0 { tally.negativeLatencies += 1 }
            latency = UInt64(max(0, signed))
        }
        lastLagNanos = latency
        if measuring, latency < 1 << 62 { recorder.record(nanos: latency) }
        if header.epoch > writerEpoch { writerEpoch = header.epoch }
        if header.epoch == writerEpoch, header.version > writerVersion { writerVersion = header.version }
        // The first update after a snail reconnect: the jump is the policy's choice.
        let jump = sync.expectsJump
        if jump { tracker.gapsAreSkips = true }
        let outcome = tracker.observe(epoch: header.epoch, version: header.version, coalesced: header.extra)
        if jump {
            tracker.gapsAreSkips = policy == .conflate
            sync.jumpTaken(at: recvMono)
        }
        switch outcome {
        case .stale, .duplicate, .outOfOrder, .oldEpoch, .implausible:
            return
        case .gap, .newEpoch:
            sync.updateObserved(outcome, at: recvMono)
        case .first, .inOrder:
            break
        }
        if let range = header.snapshotRange {
            if cli != nil { latest.keep(raw, snapshotRange: range) }
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
            tally.delayedNanos += n
        }
        if policy == .snail, latency > lagLimitNanos, latency < 1 << 62, !sync.reconnectDue { lagOverLimit(latency) }
    }

    /// Clone pattern: an update that arrives before the start snapshot is
    /// held, so the snapshot is applied first and the update follows it.
    @inline(never)
    func holdUpdate(_ raw: UnsafeRawBufferPointer, recvMono: UInt64, recvWall: UInt64) {
        held.append(HeldUpdate(bytes: Array(raw), recvMono: recvMono, recvWall: recvWall))
        heldBytes += raw.count
        if sync.updateHeld(count: held.count, bytes: heldBytes) == .replayHeld { replayHeld() }
    }

    /// snail: disconnect, reconnect after the frame in hand, resync.
    @inline(never)
    func lagOverLimit(_ latency: UInt64) {
        tally.snailDisconnects += 1
        logger.info("lag over limit: disconnecting to resync", metadata: ["lagMs": "\(latency / 1_000_000)"])
        sync.lagOverLimit()
    }
}

/// An update held while the start snapshot is awaited.
struct HeldUpdate {
    var bytes: [UInt8]
    var recvMono: UInt64
    var recvWall: UInt64
}

/// What a reader counts beside its tracker.
struct ReaderTally {
    var resyncs: UInt64 = 0
    var snailDisconnects: UInt64 = 0
    /// Wall-clock latencies that came out negative (an offset estimate off by more than the latency).
    var negativeLatencies: UInt64 = 0
    var delayedNanos: UInt64 = 0
    /// How long each snapshot fetch took to converge.
    var converge: [ConvergeEvent] = []
}

/// What a reader counts of batch (`SNB1`) frames: how many came, the
/// versions in them, and each frame's transport latency (receive time minus
/// the frame's send stamp; each version's latency counts from its making).
struct ReaderBatches {
    var frames: UInt64 = 0
    var versions: UInt64 = 0
    var transport = LatencyHistogram.latency()

    mutating func recordTransport(_ header: FrameHeader, recvMono: UInt64, recvWall: UInt64, clock: LatencyClock, correction: Int64) {
        let nanos: UInt64
        switch clock {
        case .monotonic: nanos = recvMono &- header.sendMonotonicNanos
        case .wall: nanos = UInt64(max(0, (Int64(bitPattern: recvWall) &+ correction) &- Int64(bitPattern: header.sendWallNanos)))
        }
        guard nanos < 1 << 62 else { return }
        _ = transport.record(max(1_000, min(nanos, 60_000_000_000)))
    }
}

/// How the writer's stream ended, as far as the reader knows.
struct StreamEnd {
    /// The writer's END: its final position.
    var seen: (epoch: UInt64, version: UInt64)?
    /// STOP's final position, when it carried one.
    var announced: (epoch: UInt64, version: UInt64)?

    /// The final position to count the tail against: STOP's, else END's.
    var final: (epoch: UInt64, version: UInt64)? { announced ?? seen }
}
