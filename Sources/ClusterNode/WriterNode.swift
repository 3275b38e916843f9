import ClusterCore
import ClusterProcess
import Foundation
import Logging
import SwiftProtobuf
import Synchronization
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// The writer: runs the FSM, keeps the `StateStoreCore`, publishes every
/// snapshot on PUB as one frame, answers the snapshot service, heartbeats,
/// and talks to the orchestrator.
///
/// One thread does all of it in one poll loop: the PUB socket, the snapshot
/// ROUTER, the control DEALER and the shutdown signalfd. Publishing is paced
/// against an absolute schedule (`clock_nanosleep`, 1 µs timer slack), so a
/// late wake-up is caught up rather than lost.
public final class WriterNode {
    let config: WriterConfig
    var logger: Logger

    public init(config: WriterConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Runs until STOP, SIGTERM/SIGINT, or the configured duration.
    /// - Returns: the process exit status (0 after a clean stop).
    /// - Throws: `ZMQError` when an endpoint cannot be bound (the message names it).
    public func run(signals: ShutdownSignals) throws -> Int32 {
        let incarnation = SystemClock.wallNanos()
        ParentWatch.tightenTimerSlack()

        // Epoch: new on every start, above any persisted one (fences old incarnations).
        var epoch = incarnation / 1000
        var firstVersion: UInt64 = 1
        let stateFile = config.stateDirectory.map { SnapshotFile(directory: $0) }
        var restoredFrom: Snapshot?
        if let stateFile {
            switch stateFile.load() {
            case .restored(let s):
                restoredFrom = s
                epoch = max(epoch, s.epoch + 1)
                firstVersion = s.version + 1
                logger.info("state restored", metadata: ["version": "\(s.version)", "epoch": "\(s.epoch)", "newEpoch": "\(epoch)"])
            case .missing:
                logger.info("no saved state, starting fresh", metadata: ["dir": "\(config.stateDirectory ?? "")"])
            case .corrupt(let reason):
                logger.warning("saved state unreadable, starting fresh", metadata: ["reason": "\(reason)"])
            }
        }

        let context = try Context(ioThreads: config.ioThreads)
        let pub = try context.socket(.pub)
        try pub.setSendHighWaterMark(config.sendHighWaterMark)
        if let b = config.sendBufferBytes { try pub.setSendBufferSize(b) }
        try pub.setLinger(.milliseconds(500))
        if config.noDrop { try pub.setXPubNoDrop(true) }
        try pub.bind(config.publishEndpoint)
        let service = try context.socket(.router)
        try service.setLinger(.zero)
        try service.bind(config.snapshotEndpoint)
        let pubEndpoint = (try? pub.lastEndpoint) ?? config.publishEndpoint
        let serviceEndpoint = (try? service.lastEndpoint) ?? config.snapshotEndpoint

        var control: ControlClient? = nil
        if let ep = config.controlEndpoint {
            control = try ControlClient(context: context, endpoint: ep, node: config.name, logger: logger)
            control?.hello(role: .writer, incarnation: incarnation, pubEndpoint: pubEndpoint, snapshotEndpoint: serviceEndpoint)
        }
        logger.info("writer bound", metadata: ["pub": "\(pubEndpoint)", "snapshots": "\(serviceEndpoint)", "epoch": "\(epoch)"])

        // The store and its first snapshot.
        let store = StateStoreCore(configuration: .init(maxSubscribers: 1_000, defaultBufferSize: 1_024, historyLimit: 64))
        let payload = Data((0..<config.payloadBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let fsmInstance = "fsm-\(config.name)-\(epoch)"
        let initial = Snapshot(
            version: firstVersion, epoch: epoch, state: .booting, prevState: restoredFrom?.state ?? .unspecified,
            reason: restoredFrom == nil ? "writer started" : "writer restarted from saved state",
            snapshotID: Snapshot.makeID(epoch: epoch, version: firstVersion), fsmInstanceID: fsmInstance,
            sourceModule: "cluster-node.writer", attemptCount: 0, monotonicNanos: SystemClock.monotonicNanos(),
            wallNanos: SystemClock.wallNanos(), history: Array((restoredFrom?.history ?? []).suffix(config.historyLimit)),
            contextData: payload)
        var machine = StateMachine(state: .booting)

        // The publisher is a synchronous sink of the store: called inline by set().
        let publisher = Publisher(socket: pub)  // takes the PUB socket
        _ = store.addSink { snapshot in publisher.publish(snapshot) }
        _ = store.initializeIfEmpty { initial }

        var generator = EventGenerator(seed: config.seed)
        var script = try config.scriptPath.map { EventScript(try EventScriptFile.load(path: $0)) }
        var lastSaved: UInt64 = 0
        func persist(_ s: Snapshot) {
            guard let stateFile, s.version != lastSaved else { return }
            do { try stateFile.save(s); lastSaved = s.version } catch {
                logger.error("cannot save state", metadata: ["error": "\(error)"])
            }
        }
        persist(initial)

        var poller = Poller()
        let serviceIndex = poller.add(service)
        let signalIndex = poller.add(fileDescriptor: signals.fileDescriptor)
        var controlIndex = -1
        if let c = control { controlIndex = poller.add(c.socket) }

        // Phases: warm-up (heartbeats only) until START, then the measured run.
        var started = control == nil
        var startMono: UInt64 = started ? SystemClock.monotonicNanos() : 0
        let interval = config.rate > 0 ? UInt64(1e9 / config.rate) : 0
        var scheduled: UInt64 = 0          // snapshots due so far in the run
        var heartbeatSeq: UInt64 = 0
        var nextHeartbeat = SystemClock.monotonicNanos()
        var nextStats = SystemClock.monotonicNanos() + 1_000_000_000
        var stopReason: String?
        var nextAux: UInt64 = 0
        var sendLatency = LatencyRecorder()
        var servedSnapshots: UInt64 = 0
        var lateTicks: UInt64 = 0
        let warmHeartbeat: UInt64 = 100_000_000
        let cpuAtStart = ProcessStats.read(withSmaps: false)?.cpuSeconds ?? 0

        func sendHeartbeat() {
            heartbeatSeq += 1
            let frame = FrameCodec.heartbeat(epoch: epoch, version: store.get()?.version ?? 0, sequence: heartbeatSeq)
            publisher.sendRaw(frame)
        }

        func answerSnapshotRequests() {
            // Bounded work per turn: a flood of requests cannot stall publishing.
            for _ in 0..<64 {
                guard let frames = try? service.receiveMultipart(dontWait: true) else { return }
                guard frames.count >= 2 else { continue }
                let identity = frames[0].bytes
                let request = try? Clustersim_V1_SnapshotRequest(serializedBytes: frames[frames.count - 1].bytes)
                var reply = Clustersim_V1_SnapshotReply()
                reply.requestID = request?.requestID ?? 0
                reply.epoch = epoch
                if let s = store.get() {
                    reply.version = s.version
                    reply.snapshot = s.proto
                }
                reply.sendMonotonicNs = SystemClock.monotonicNanos()
                reply.sendWallNs = SystemClock.wallNanos()
                if let bytes: [UInt8] = try? reply.serializedBytes() {
                    _ = try? service.sendMultipart([identity, bytes], dontWait: true)
                    servedSnapshots += 1
                }
            }
        }

        func metricsNow() -> NodeMetrics {
            let now = SystemClock.monotonicNanos()
            let runNanos = started ? now - startMono : 0
            let published = publisher.published
            var counters: [String: UInt64] = [:]
            counters[.published] = published
            counters[.heartbeats] = heartbeatSeq
            counters[.sendFailed] = publisher.sendFailed
            counters[.snapshotRequestsServed] = servedSnapshots
            counters[.illegalEvents] = machine.illegalEvents
            counters[.lateTicks] = lateTicks
            counters[.finalVersion] = store.get()?.version ?? 0
            counters[.blockedNanos] = publisher.blockedNanos
            counters[.blockedSends] = publisher.blockedSends
            counters[.coalesced] = publisher.coalesced
            for (k, v) in machine.transitionsByKind { counters[.transition(k)] = v }
            let cpu = ProcessStats.read()
            return NodeMetrics(
                node: config.name, role: .writer, incarnation: incarnation, epoch: epoch,
                startedWallNs: incarnation, stoppedWallNs: SystemClock.wallNanos(), counters: counters,
                gauges: [
                    Gauge.rateAsked.rawValue: config.rate,
                    Gauge.rateAchieved.rawValue: runNanos > 0 ? Double(published) / (Double(runNanos) / 1e9) : 0,
                    Gauge.runSeconds.rawValue: Double(runNanos) / 1e9,
                    Gauge.cpuSecondsRun.rawValue: (cpu?.cpuSeconds ?? 0) - cpuAtStart,
                    Gauge.payloadBytes.rawValue: Double(config.payloadBytes),
                ],
                latency: LatencySummary(sendLatency.total), series: sendLatency.series,
                process: cpu)
        }

        if let c = control { c.ready(epoch: epoch, version: store.get()?.version ?? 0) }
        else { logger.info("writer running standalone", metadata: ["rate": "\(config.rate)"]) }

        func commit(_ next: Snapshot) {
            let before = SystemClock.monotonicNanos()
            _ = try? store.set(next, enforceVersion: true)
            sendLatency.record(nanos: SystemClock.monotonicNanos() - before)
        }
        func refresh() {
            guard let c = store.get() else { return }
            let v = c.version + 1
            commit(Snapshot(
                version: v, epoch: c.epoch, state: c.state, prevState: c.state, reason: "context refresh",
                snapshotID: Snapshot.makeID(epoch: c.epoch, version: v), fsmInstanceID: c.fsmInstanceID,
                sourceModule: c.sourceModule, attemptCount: c.attemptCount, monotonicNanos: SystemClock.monotonicNanos(),
                wallNanos: SystemClock.wallNanos(), history: c.history, contextData: c.contextData))
        }
        func publishOne(_ event: FSMEvent, scripted: Bool) {
            // Generated events: draw until a legal one, so every tick publishes one
            // snapshot; the illegal ones are rejected and counted by the machine.
            var e = event
            for _ in 0..<8 {
                switch machine.apply(e) {
                case .success(let t):
                    guard let current = store.get() else { return }
                    commit(current.next(after: t, attemptCount: machine.attemptCount, historyLimit: config.historyLimit))
                    return
                case .failure:
                    if scripted { refresh(); return }
                    e = generator.next(for: machine.state)
                }
            }
            refresh()
        }

        loop: while stopReason == nil {
            let now = SystemClock.monotonicNanos()
            // 1. Publish everything due.
            if started && interval > 0 {
                let due = (now - startMono) / interval + 1
                if due > scheduled + 1 { lateTicks += 1 }
                var budget = 1_000  // keep the loop responsive when far behind
                // Coalescing: behind schedule, the snapshots due now are all made (versions,
                // FSM and history stay exact) but only the newest is sent.
                let coalescing = config.coalesce && due > scheduled + 1
                if coalescing { publisher.hold() }
                defer { if coalescing { publisher.release() } }
                while scheduled < due && budget > 0 {
                    scheduled += 1
                    budget -= 1
                    if script != nil {
                        // Scripted: state changes come from the script; other ticks refresh the context.
                        let events = script!.due(atNanos: now - startMono)
                        if events.isEmpty { refresh() } else { events.forEach { publishOne($0, scripted: true) } }
                    } else {
                        publishOne(generator.next(for: machine.state), scripted: false)
                    }
                }
            }
            // 2. Heartbeats: every 100 ms in warm-up, then at the configured interval.
            if now >= nextHeartbeat {
                sendHeartbeat()
                nextHeartbeat = now + (started ? config.heartbeatNanos : warmHeartbeat)
            }
            // 3. Stats to the orchestrator every second.
            if now >= nextStats {
                nextStats = now + 1_000_000_000
                let t = started ? Double(now - startMono) / 1e9 : 0
                let interval = sendLatency.roll(t: t, lostSoFar: 0)
                control?.stats(interval: interval) { s in
                    s.published = publisher.published
                    s.epoch = epoch
                    s.version = store.get()?.version ?? 0
                }
                if let s = store.get(), stateFile != nil { persist(s) }
                if let parent = config.parentPID, getppid() != parent { stopReason = "launcher exited" }
            }
            if let d = config.durationNanos, started, now - startMono >= d { stopReason = "duration reached"; break }

            // 4. Wait for the next thing to do.
            let nextDue = started && interval > 0 ? startMono + (scheduled) * interval : UInt64.max
            let wake = min(nextDue, nextHeartbeat, nextStats)
            let beforeWait = SystemClock.monotonicNanos()  // read once: a second read can pass `wake` (overflow trap)
            let waitNanos = wake > beforeWait ? wake - beforeWait : 0
            let ready: Int
            if waitNanos >= 2_000_000 {
                ready = (try? poller.poll(timeout: .nanoseconds(Int64(waitNanos - 1_000_000)))) ?? 0
                nextAux = SystemClock.monotonicNanos() + 2_000_000
            } else {
                // Short waits: sleep to the tick on the clock alone; the other
                // sockets get a non-blocking look every 2 ms (a zmq_poll per
                // tick would cost more than the send it paces).
                let now2 = SystemClock.monotonicNanos()
                if now2 >= nextAux {
                    ready = (try? poller.poll(timeout: .zero)) ?? 0
                    nextAux = now2 + 2_000_000
                } else {
                    ready = 0
                }
                if ready == 0 && waitNanos > 0 { sleepUntil(monotonicNanos: wake) }
            }
            guard ready > 0 else { continue }
            if poller.events(at: signalIndex).contains(.readable), let sig = signals.take() {
                stopReason = "signal \(sig)"
                break loop
            }
            if poller.events(at: serviceIndex).contains(.readable) { answerSnapshotRequests() }
            if controlIndex >= 0, poller.events(at: controlIndex).contains(.readable), let c = control {
                while let body = c.receive() {
                    switch body {
                    case .start:
                        if !started {
                            started = true
                            startMono = SystemClock.monotonicNanos()
                            scheduled = 0
                            sendLatency.reset()
                            nextHeartbeat = startMono
                            logger.info("measured phase started")
                        }
                    case .stop(let stop):
                        stopReason = stop.reason.isEmpty ? "stop" : stop.reason
                    case .timeRequest(let req):
                        c.answer(req)
                    default:
                        break
                    }
                }
            }
        }

        // Stop: announce the final version, persist, report.
        let final = store.get()
        let finalVersion = final?.version ?? 0
        for i in 0..<3 {
            publisher.sendRaw(FrameCodec.endOfStream(epoch: epoch, finalVersion: finalVersion, published: publisher.published))
            if i < 2 { sleepNanos(20_000_000) }
        }
        if let final { persist(final) }
        let metrics = metricsNow()
        logger.info("writer stopped", metadata: ["reason": "\(stopReason ?? "")", "published": "\(publisher.published)", "finalVersion": "\(finalVersion)"])
        control?.finish(metrics: metrics, histogram: sendLatency.total, reason: stopReason ?? "")
        if let dir = config.metricsDirectory {
            try? MetricsDump.write(metrics, histogram: sendLatency.total, to: dir)
        }
        return 0
    }
}
