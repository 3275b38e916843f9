import ClusterCore
import ClusterProcess
import ZeroMQ

/// How a reader waits for its messages, and what its aux turns do.
///
/// The hot path is one blocking receive per message (`ZMQ_RCVTIMEO`, the
/// aux interval): a queued message costs no system call, so a backlog is
/// taken as a batch. The wait returns to the runtime when the next aux turn
/// is due; the runtime reads the signalfd and the control socket, the reader
/// its heartbeat socket (conflate), snapshot answers and its request, then
/// READY, the start give-up and the tick follow. docs/architecture.md,
/// "Processes and threads" and "Decisions", gives the measurements.
extension ReaderNode {
    /// Time between aux turns when nothing is awaited: bounds how late STOP,
    /// START and signals are seen.
    static let auxInterval: UInt64 = 50_000_000

    /// A standalone duration counts from the start, warm-up included.
    var durationOrigin: DurationOrigin { .processStart }

    /// After STOP the tail is read until END or for the drain time.
    var drainNanos: UInt64? { config.drainNanos }

    var tailRead: Bool { streamEnd.seen != nil }

    func measuringBegan(at mono: UInt64, _ runtime: NodeRuntime) {
        measuring = true
        recorder.reset()
    }

    func control(_ body: Clustersim_V1_ControlMessage.OneOf_Body, _ runtime: NodeRuntime) {
        switch body {
        case .start(let start):
            if start.hasClockCorrection_p, config.clock == .wall, config.clockOffsetNanos == nil {
                clockCorrection = start.clockCorrectionNs
            }
        case .stop(let stop):
            if stop.finalVersion > 0 { streamEnd.announced = (stop.finalEpoch, stop.finalVersion) }
        case .timeRequest:
            // Clock probes come 30–55 ms apart: answer the next ones within a millisecond.
            waits.quickAuxUntil = SystemClock.monotonicNanos() + 150_000_000
        default:
            break
        }
    }

    /// The end of an aux turn: READY when due, and the start snapshot given up on after 5 s.
    func work(now: UInt64, _ runtime: NodeRuntime) {
        let sinceStart = now - runtime.startMono
        if runtime.control != nil, sync.readyCheck(sinceStart: sinceStart) == .sendReady {
            runtime.ready(epoch: tracker.epoch, version: tracker.highest)
        }
        if sync.startWaitCheck(sinceStart: sinceStart) == .replayHeld {
            logger.warning("no snapshot from the snapshot service after 5 s: going on with updates alone")
            replayHeld()
        }
    }

    /// An aux turn's own sockets: the heartbeat socket when conflating,
    /// snapshot answers, and the request decided since the last turn.
    func serve(_ wake: NodeRuntime.Wake, _ runtime: NodeRuntime) {
        if subs.separateHeartbeats {
            while (try? subs.heartbeat.receive(dontWait: true, { raw, _ in
                self.handleFrame(raw, recvMono: SystemClock.monotonicNanos(), recvWall: self.needsWall ? SystemClock.wallNanos() : 0)
            })) != nil {}
        }
        // Only while an answer is awaited: an empty DONTWAIT receive costs a poll()
        // inside libzmq. A late answer to an abandoned request waits in the queue
        // and is discarded by its id the next time.
        if sync.awaitsAnswer {
            while let msg = try? snapshotClient.receive(dontWait: true) {
                handleSnapshotReply(msg.bytes)
            }
        }
        if case .sendRequest(let request) = sync.requestToSend(at: SystemClock.monotonicNanos()) {
            send(request)
        }
    }

    /// Receives until the next aux turn is due.
    func wait(now: UInt64, until _: UInt64, _ runtime: NodeRuntime) -> NodeRuntime.Wake {
        // 1 ms while a snapshot answer is awaited (convergence is measured) or clock
        // probes are coming, else 50 ms: each turn costs a few system calls inside
        // libzmq, and on two cores a hundred readers' turns are felt by all of them.
        let quick = sync.isFetching || now < waits.quickAuxUntil
        let interval = quick ? 1_000_000 : Self.auxInterval
        let nextAux = SystemClock.monotonicNanos() + interval
        if query != nil || (waits.probes && now < waits.quickAuxUntil) {
            return waitPolling(until: nextAux, runtime)
        }
        return waitReceiving(until: nextAux, timeoutMs: Int64(interval / 1_000_000))
    }

    /// The hot path: one blocking receive per message, its timeout the aux
    /// interval, set only when the interval changes, so a turn is at most one
    /// interval late; no non-blocking drain after a receive (docs/architecture.md,
    /// "Decisions").
    func waitReceiving(until nextAux: UInt64, timeoutMs: Int64) -> NodeRuntime.Wake {
        if let direct = subs.direct { return waitReceiving(direct, until: nextAux) }
        setReceiveTimeout(milliseconds: timeoutMs)
        let subs = self.subs
        let needsWall = self.needsWall
        // The receive time of the message just handled serves as the loop's
        // "now": one clock read per message, not two. Not where handling a
        // message takes time of its own (a processing delay, a log batch's write).
        let reuseReceiveTime = processingDelay == nil && log == nil
        // Into a buffer, not a closure capturing the reader ("Decisions").
        let frame = ReceiveBuffer()
        var now = SystemClock.monotonicNanos()
        while now < nextAux {
            if (try? subs.data.receive(into: frame)) == true {
                let t = SystemClock.monotonicNanos()
                handleFrame(frame.bytes, recvMono: t, recvWall: needsWall ? SystemClock.wallNanos() : 0)
                // Not held through the wait ("Decisions"; ReceiveBuffer says more).
                frame.release()
                now = reuseReceiveTime ? t : SystemClock.monotonicNanos()
            } else {
                now = SystemClock.monotonicNanos()
            }
            if sync.reconnectDue {
                reconnect()
                setReceiveTimeout(milliseconds: timeoutMs)
            }
        }
        return .auxTurn
    }

    /// The hot path of a reader that reads ZMTP itself: each receive returns a
    /// frame already read when there is one (no system call), else reads the
    /// connection once, taking every frame that read brought.
    func waitReceiving(_ direct: DirectSubscriber, until nextAux: UInt64) -> NodeRuntime.Wake {
        let needsWall = self.needsWall
        let reuseReceiveTime = processingDelay == nil && log == nil
        var now = SystemClock.monotonicNanos()
        while now < nextAux {
            if let raw = direct.receive(timeoutNanos: nextAux - now, now: now) {
                // Each frame is stamped as it is handed over, those parsed from
                // one read one after the other.
                let t = SystemClock.monotonicNanos()
                handleFrame(raw, recvMono: t, recvWall: needsWall ? SystemClock.wallNanos() : 0)
                now = reuseReceiveTime ? t : SystemClock.monotonicNanos()
            } else {
                now = SystemClock.monotonicNanos()
            }
            if sync.reconnectDue {
                reconnect()
                guard let d = subs.direct else { break }
                return waitReceiving(d, until: nextAux)
            }
        }
        return .auxTurn
    }

    /// The query role (its ROUTER and the workers' replies), and a wall-clock
    /// reader while clock probes come (the control socket: a probe answered
    /// at the next aux turn would bias the offset by the wait), poll beside
    /// the SUB socket; control wakes an aux turn at once.
    func waitPolling(until nextAux: UInt64, _ runtime: NodeRuntime) -> NodeRuntime.Wake {
        let frame = ReceiveBuffer()
        while true {
            let now = SystemClock.monotonicNanos()
            if now >= nextAux { return .auxTurn }
            if let direct = subs.direct {
                // Frames already read are not on the descriptor; a reconnect changes it.
                if direct.hasBufferedFrame { drain(into: frame) }
                if waits.poll == nil || waits.pollDescriptor != direct.fileDescriptor {
                    waits.poll = ReaderPoll(subs: subs, query: query, control: runtime.control)
                    waits.pollDescriptor = direct.fileDescriptor
                }
            }
            if waits.poll == nil { waits.poll = ReaderPoll(subs: subs, query: query, control: runtime.control) }
            // Unconnected, the direct subscriber connects when its own receive runs: poll in short turns.
            let cap: UInt64 = subs.direct.map { $0.isConnected ? UInt64.max : 100_000_000 } ?? UInt64.max
            _ = try? waits.poll!.poller.poll(timeout: .nanoseconds(Int64(min(nextAux - now, cap))))
            let poll = waits.poll!
            if let q = query, let indices = poll.service { q.service(poller: poll.poller, indices: indices) }
            if poll.isReadable(poll.sub) || subs.direct?.isConnected == false { drain(into: frame) }
            let control = poll.isReadable(poll.control)
            if sync.reconnectDue { reconnect() }
            if control { return .auxTurn }
        }
    }

    /// Takes everything queued on the SUB socket without waiting (bounded,
    /// so aux turns stay on time).
    func drain(into frame: borrowing ReceiveBuffer) {
        if let direct = subs.direct {
            var n = 0
            while n < 4096, !sync.reconnectDue, let raw = direct.receive(timeoutNanos: 0) {
                handleFrame(raw, recvMono: SystemClock.monotonicNanos(), recvWall: needsWall ? SystemClock.wallNanos() : 0)
                n += 1
            }
            return
        }
        var n = 0
        while n < 4096, !sync.reconnectDue {
            guard (try? subs.data.receive(into: frame, dontWait: true)) == true else { break }
            handleFrame(frame.bytes, recvMono: SystemClock.monotonicNanos(), recvWall: needsWall ? SystemClock.wallNanos() : 0)
            n += 1
        }
        frame.release()   // a receive that found nothing emptied it already; a bounded drain did not
    }

    /// snail: a new SUB socket (what the old one had queued goes with it).
    func reconnect() {
        subs.reconnect()
        sync.reconnected()
        waits.receiveTimeoutMs = nil
        waits.poll = nil
    }

    private func setReceiveTimeout(milliseconds: Int64) {
        guard waits.receiveTimeoutMs != milliseconds else { return }
        try? subs.data.setReceiveTimeout(.milliseconds(milliseconds))
        waits.receiveTimeoutMs = milliseconds
    }
}

/// What a reader keeps for its waits.
struct WaitState {
    /// Aux turns every millisecond until then (clock probes in progress).
    var quickAuxUntil: UInt64 = 0
    /// Whether clock probes are polled for while they come (a wall-clock
    /// reader's latencies are only as good as its clock offset; monotonic
    /// readers need none and keep the cheaper blocking receive).
    let probes: Bool
    /// The receive timeout set on the SUB socket; nil until set.
    var receiveTimeoutMs: Int64?
    /// The poll set, when the reader polls (rebuilt after a snail reconnect).
    var poll: ReaderPoll?
    /// The direct subscriber's descriptor in `poll` (rebuilt when it changes).
    var pollDescriptor: Int32 = -1

    init(startMono: UInt64, clock: LatencyClock, attached: Bool, serving: Bool) {
        // The orchestrator sends its probes right after HELLO.
        if attached, clock == .wall { quickAuxUntil = startMono + 3_000_000_000 }
        probes = attached && clock == .wall && !serving
    }
}

/// A reader's poll set: the SUB socket, the query service's sockets, the control socket.
struct ReaderPoll {
    var poller = Poller()
    let sub: Int
    let service: (router: Int, replies: Int)?
    let control: Int

    init(subs: SubscriberSockets, query: QueryService?, control: ControlClient?) {
        var p = Poller()
        if let direct = subs.direct {
            sub = direct.fileDescriptor >= 0 ? p.add(fileDescriptor: direct.fileDescriptor) : -1
        } else {
            sub = p.add(subs.data)
        }
        service = query.map { $0.register(in: &p) }
        self.control = control.map { p.add($0.socket) } ?? -1
        poller = p
    }

    func isReadable(_ index: Int) -> Bool {
        index >= 0 && poller.events(at: index).contains(.readable)
    }
}
