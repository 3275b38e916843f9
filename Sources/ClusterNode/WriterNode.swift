import ClusterCore
import ClusterProcess
import Logging
import ZeroMQ

/// The writer: runs the FSM, keeps the `StateStoreCore`, publishes every
/// snapshot on PUB as one frame, answers the snapshot service, heartbeats,
/// and talks to the orchestrator.
///
/// One thread does all of it. Publishing is paced against an absolute
/// schedule (`clock_nanosleep`, 1 µs timer slack), so a late wake-up is
/// caught up rather than lost; the snapshot ROUTER, the control DEALER and
/// the shutdown signalfd are polled in the waits, or looked at without
/// waiting every 2 ms when the waits are shorter than that.
///
/// Its parts: the ``Publisher``, the ``Pacer``, the ``SnapshotMaker`` and the
/// ``SnapshotService``; the ``NodeRuntime`` does the rest.
final class WriterNode: NodeProcess {
    let config: WriterConfig
    let logger: Logger
    let publisher: Publisher
    let maker: SnapshotMaker
    let service: SnapshotService
    let helloEndpoints: HelloEndpoints
    private let serviceIndex: Int
    private var pacer: Pacer
    private var heartbeats: HeartbeatSchedule
    /// The next non-blocking look at the other sockets during short waits.
    private var nextAux: UInt64 = 0
    private let cpuAtStart: Double
    /// The PUB's high-water mark per subscriber, after the byte budget.
    let sendHighWaterMark: Int32
    /// The libzmq PUB's watch; nil when the writer publishes itself.
    private let pubWatch: ConnectionWatch?
    /// The poll entry of the writer's own publisher (its epoll descriptor); -1 with libzmq's.
    private let directIndex: Int

    static func settings(_ config: WriterConfig) -> NodeRuntime.Settings {
        NodeRuntime.Settings(
            name: config.name, role: .writer, controlEndpoint: config.controlEndpoint,
            metricsDirectory: config.metricsDirectory, parentPID: config.parentPID,
            durationNanos: config.durationNanos, ioThreads: config.ioThreads, curve: config.curve)
    }

    init(config: WriterConfig, runtime: NodeRuntime) throws {
        self.config = config
        logger = runtime.logger
        // A batch frame carries at most 1 MiB of snapshots, and a subscriber's queue
        // is bounded in bytes as well as in frames (docs/security.md, "Bounded messages").
        let batchCount = MessageLimits.batchCount(maxCount: config.batch?.maxCount, payloadBytes: config.payloadBytes,
                                                  historyLimit: config.historyLimit)
        let batching = config.batch.flatMap { b in batchCount >= 2 ? WriterBatching(maxCount: batchCount, maxDelayNanos: b.maxDelayNanos) : nil }
        let frame = MessageLimits.typicalFrameBytes(payloadBytes: config.payloadBytes, historyLimit: config.historyLimit)
        sendHighWaterMark = MessageLimits.highWaterMark(messages: Int(config.sendHighWaterMark), frameBytes: batchCount * frame,
                                                        budget: MessageLimits.subscriberQueueBytes)
        let output: Publisher.Output
        let pubEndpoint: String
        if config.publisher == .direct {
            // A subscriber sends only subscriptions: a few bytes each.
            let direct = try DirectPublisher(endpoint: config.publishEndpoint, highWaterMark: Int(sendHighWaterMark),
                                             maxMessageSize: MessageLimits.requestBytes, sendBufferBytes: config.sendBufferBytes)
            runtime.guards.adopt(direct)
            directIndex = runtime.watch(fileDescriptor: direct.fileDescriptor)
            pubWatch = nil
            pubEndpoint = direct.endpoint
            output = Publisher.Output(direct: direct)
        } else {
            let pub = try runtime.context.socket(.pub)
            try pub.setSendHighWaterMark(sendHighWaterMark)
            if let b = config.sendBufferBytes { try pub.setSendBufferSize(b) }
            try pub.setLinger(.milliseconds(500))
            if config.noDrop { try pub.setXPubNoDrop(true) }
            // A PUB receives only subscriptions: a few bytes each.
            try pub.setMaxMessageSize(Int64(MessageLimits.requestBytes))
            pubWatch = try runtime.guards.bound(pub, security: runtime.security, label: "publish")
            try pub.bind(config.publishEndpoint)
            pubEndpoint = (try? pub.lastEndpoint) ?? config.publishEndpoint
            directIndex = -1
            output = Publisher.Output(socket: pub)
        }
        service = try SnapshotService(context: runtime.context, endpoint: config.snapshotEndpoint, frameBytes: frame,
                                      security: runtime.security, guards: runtime.guards)
        helloEndpoints = HelloEndpoints(pub: pubEndpoint, snapshots: service.endpoint)
        publisher = Publisher(output: output, mode: batching.map { .batch($0) } ?? (config.coalesce ? .coalesce : .each))
        if let b = config.batch, b.maxCount != batching?.maxCount {
            runtime.logger.info("batches limited by bytes", metadata: [
                "maxCount": "\(b.maxCount)", "versionsPerFrame": "\(batchCount)", "batchBytes": "\(MessageLimits.batchFrameBytes)"])
        }
        maker = try SnapshotMaker(config: config, incarnation: runtime.incarnation, publisher: publisher, logger: runtime.logger)
        runtime.logger.info("writer bound", metadata: [
            "pub": "\(helloEndpoints.pub)", "snapshots": "\(service.endpoint)", "epoch": "\(maker.epoch)"])
        serviceIndex = runtime.watch(service.socket)
        pacer = Pacer(interval: config.rate > 0 ? UInt64(1e9 / config.rate) : 0)
        heartbeats = HeartbeatSchedule(next: SystemClock.monotonicNanos(), interval: config.heartbeatNanos)
        cpuAtStart = ProcessStats.read(withSmaps: false)?.cpuSeconds ?? 0
        if sendHighWaterMark < config.sendHighWaterMark || config.sendHighWaterMark == 0 {
            runtime.logger.info("high-water mark bounded by bytes", metadata: [
                "sndhwm": "\(sendHighWaterMark)", "frameBytes": "\(batchCount * frame)", "budgetBytes": "\(MessageLimits.subscriberQueueBytes)"])
        }
        if runtime.control == nil { runtime.logger.info("writer running standalone", metadata: ["rate": "\(config.rate)"]) }
    }

    var readyAtHello: (epoch: UInt64, version: UInt64)? { (maker.epoch, maker.version) }

    func measuringBegan(at mono: UInt64, _ runtime: NodeRuntime) {
        pacer.begin(at: mono)
        publisher.sendLatency.reset()
        heartbeats.next = mono
        if runtime.control != nil { logger.info("measured phase started") }
    }

    /// Publishes every snapshot due (batching: sends the versions waiting
    /// whose time has come), then a heartbeat when one is due.
    func work(now: UInt64, _ runtime: NodeRuntime) {
        if let origin = pacer.origin {
            let (count, late) = pacer.takeDue(now: now)
            // Coalescing: behind schedule, the snapshots due now are all made (versions,
            // FSM and history stay exact) but only the newest is sent.
            let coalescing = publisher.mode == .coalesce && late
            if coalescing { publisher.hold() }
            maker.make(count, elapsed: now - origin)
            if coalescing { publisher.release() }
        }
        publisher.flushBatch(now: SystemClock.monotonicNanos())
        if let sequence = heartbeats.take(now: now, measuring: pacer.origin != nil) {
            // A heartbeat never announces a version still waiting for its frame.
            publisher.flushBatch(now: now, force: true)
            publisher.sendRaw(FrameCodec.heartbeat(epoch: maker.epoch, version: maker.version, sequence: sequence,
                                                     epochFirstVersion: maker.firstVersion))
        }
    }

    /// Sleeps to the next snapshot, heartbeat or tick. A wait of 2 ms or more
    /// is a poll; a shorter one sleeps on the clock alone, and the other
    /// sockets get a non-blocking look every 2 ms (a `zmq_poll` per tick
    /// would cost more than the send it paces).
    func wait(now: UInt64, until deadline: UInt64, _ runtime: NodeRuntime) -> NodeRuntime.Wake {
        let wake = min(pacer.nextDue ?? .max, heartbeats.next, deadline, publisher.batchDeadline ?? .max)
        let beforeWait = SystemClock.monotonicNanos()  // read once: a second read can pass `wake` (overflow trap)
        let waitNanos = wake > beforeWait ? wake - beforeWait : 0
        let ready: Int
        if waitNanos >= 2_000_000 {
            ready = runtime.poll(timeout: .nanoseconds(Int64(waitNanos - 1_000_000)))
            nextAux = SystemClock.monotonicNanos() + 2_000_000
        } else {
            let now2 = SystemClock.monotonicNanos()
            if now2 >= nextAux {
                ready = runtime.poll(timeout: .zero)
                nextAux = now2 + 2_000_000
            } else {
                ready = 0
            }
            if ready == 0 && waitNanos > 0 { sleepUntil(monotonicNanos: wake) }
        }
        return ready > 0 ? .polled : .idle
    }

    func serve(_ wake: NodeRuntime.Wake, _ runtime: NodeRuntime) {
        if runtime.isReadable(serviceIndex) { service.answer(from: maker.store, epoch: maker.epoch) }
        if runtime.isReadable(directIndex) { publisher.output.direct?.service() }
    }

    func tick(now: UInt64, _ runtime: NodeRuntime) -> LatencySummary {
        let t = runtime.measuredSince.map { Double(now - $0) / 1e9 } ?? 0
        let interval = publisher.sendLatency.roll(t: t, lostSoFar: 0, scheduling: runtime.schedulingLastSecond)
        maker.saveLatest()
        if let pubWatch { publisher.output.withSocket { pubWatch.check($0) } }
        service.watch.check(service.socket)
        return interval
    }

    func fillStats(_ stats: inout Clustersim_V1_Stats) {
        stats.published = publisher.published
        stats.epoch = maker.epoch
        stats.version = maker.version
    }

    /// Announces the final version (END, three times), saves the state, reports.
    func finish(reason: String, _ runtime: NodeRuntime) -> NodeRuntime.Final {
        publisher.flushBatch(now: SystemClock.monotonicNanos(), force: true)
        let finalVersion = maker.version
        for i in 0..<3 {
            publisher.sendRaw(FrameCodec.endOfStream(epoch: maker.epoch, finalVersion: finalVersion, published: publisher.published,
                                                   epochFirstVersion: maker.firstVersion))
            if i < 2 { sleepNanos(20_000_000) }
        }
        // What a slow subscriber has not taken yet, as libzmq's linger (500 ms) would.
        publisher.output.direct?.drain(timeoutNanos: 500_000_000)
        maker.saveLatest()
        return NodeRuntime.Final(
            metrics: metrics(runtime), histogram: publisher.sendLatency.total, message: "writer stopped",
            summary: ["published": "\(publisher.published)", "finalVersion": "\(finalVersion)"])
    }

    private func metrics(_ runtime: NodeRuntime) -> NodeMetrics {
        let runNanos = runtime.measuredSince.map { SystemClock.monotonicNanos() - $0 } ?? 0
        let published = publisher.published
        var counters: [String: UInt64] = [:]
        counters[.published] = published
        counters[.heartbeats] = heartbeats.sequence
        counters[.sendFailed] = publisher.sendFailed
        counters[.snapshotRequestsServed] = service.served
        counters[.illegalEvents] = maker.machine.illegalEvents
        counters[.lateTicks] = pacer.lateWakeUps
        counters[.finalVersion] = maker.version
        counters[.blockedNanos] = publisher.blockedNanos
        counters[.blockedSends] = publisher.blockedSends
        counters[.coalesced] = publisher.coalesced
        counters[.framesSent] = publisher.framesSent
        if let direct = publisher.output.direct {
            counters[.subscriberQueueDrops] = direct.dropped
            counters[.handshakesRefused] = direct.handshakeFailures
        }
        var latencies: [String: LatencySummary] = [:]
        if let b = publisher.batchStatistics {
            counters.merge(b.counters) { _, new in new }
            latencies[LatencyName.batchingDelay] = LatencySummary(b.delay)
        }
        for (k, v) in maker.machine.transitionsByKind { counters[.transition(k)] = v }
        let cpu = ProcessStats.read()
        var gauges: [String: Double] = [:]
        gauges[.rateAsked] = config.rate
        gauges[.rateAchieved] = runNanos > 0 ? Double(published) / (Double(runNanos) / 1e9) : 0
        gauges[.runSeconds] = Double(runNanos) / 1e9
        gauges[.cpuSecondsRun] = (cpu?.cpuSeconds ?? 0) - cpuAtStart
        gauges[.payloadBytes] = Double(config.payloadBytes)
        gauges[.sendHighWaterMark] = Double(sendHighWaterMark)
        return runtime.metrics(epoch: maker.epoch, counters: counters, gauges: gauges, recorder: publisher.sendLatency,
                               latencies: latencies, process: cpu)
    }
}

/// The writer's heartbeats: every 100 ms in warm-up (readers become READY
/// sooner), then at the configured interval.
struct HeartbeatSchedule {
    static let warmUpInterval: UInt64 = 100_000_000
    /// When the next is due (monotonic ns).
    var next: UInt64
    let interval: UInt64
    /// Heartbeats sent.
    private(set) var sequence: UInt64 = 0

    /// The sequence number of the heartbeat due at `now`, if one is; schedules the next.
    mutating func take(now: UInt64, measuring: Bool) -> UInt64? {
        guard now >= next else { return nil }
        next = now + (measuring ? interval : Self.warmUpInterval)
        sequence += 1
        return sequence
    }
}
