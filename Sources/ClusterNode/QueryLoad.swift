import ClusterCore
import ClusterProcess
import Logging
import SwiftProtobuf
import ZeroMQ

/// Drives query readers at a rate with N concurrent clients and records the
/// latency of each answer and the share answered BUSY.
///
/// Open loop: requests are due on a fixed schedule; one that finds all N
/// clients waiting is counted `client_saturated` rather than delayed, so a
/// slow service shows up as BUSY answers or saturation, never as a slower
/// schedule. One DEALER connects to every target; libzmq spreads requests
/// over them round-robin.
final class QueryLoadNode: NodeProcess {
    let config: QueryLoadConfig
    let dealer: Socket
    private let dealerWatch: ConnectionWatch
    private let dealerIndex: Int
    private var pacer: Pacer
    private var rng: SeededRandom
    /// Request id → send time.
    private var outstanding: [UInt64: UInt64] = [:]
    private var nextID: UInt64 = 0
    private var latency = LatencyRecorder()
    private var counts: [String: UInt64] = [:]
    /// The versions the service last said it keeps (GetVersion asks within them, mostly).
    private var newestVersion: UInt64 = 0
    private var oldestVersion: UInt64 = 0

    static func settings(_ config: QueryLoadConfig) -> NodeRuntime.Settings {
        NodeRuntime.Settings(
            name: config.name, role: .queryLoad, controlEndpoint: config.controlEndpoint,
            metricsDirectory: config.metricsDirectory, parentPID: config.parentPID, durationNanos: config.durationNanos,
            curve: config.curve)
    }

    init(config: QueryLoadConfig, runtime: NodeRuntime) throws {
        self.config = config
        dealer = try runtime.context.socket(.dealer)
        try dealer.setLinger(.zero)
        try dealer.setSendHighWaterMark(100_000)
        try dealer.setMaxMessageSize(Int64(config.maxMessageBytes))
        // One monitor per socket: with CURVE the handler's, which hands the watch its events.
        let inbox = runtime.security.map { _ in ConnectionWatch.Inbox() }
        for (i, t) in config.targets.enumerated() {
            // CURVE: libzmq takes the server key a connection expects from the
            // socket's options at connect time, so one DEALER reaches each
            // query reader with that reader's key.
            if let security = runtime.security {
                guard i < config.targetNodes.count else {
                    throw CurveFileError(file: security.files.peersFile, "target \(t) has no --target-node: its server key is unknown")
                }
                try security.client(dealer, of: config.targetNodes[i], label: "query", forwarding: inbox)
            }
            try dealer.connect(t)
        }
        dealerWatch = try inbox.map { runtime.guards.adopt(ConnectionWatch($0, connecting: config.targets)) }
            ?? runtime.guards.connecting(dealer, to: config.targets)
        dealerIndex = runtime.watch(dealer)
        pacer = Pacer(interval: config.rate > 0 ? UInt64(1e9 / config.rate) : 1_000_000_000)
        rng = SeededRandom(seed: config.seed)
    }

    var readyAtHello: (epoch: UInt64, version: UInt64)? { (0, 0) }

    func measuringBegan(at mono: UInt64, _ runtime: NodeRuntime) {
        pacer.begin(at: mono)
        latency.reset()
    }

    /// Sends the requests due, each to a free client; one that finds none free is counted, not delayed.
    func work(now: UInt64, _ runtime: NodeRuntime) {
        let (count, _) = pacer.takeDue(now: now)
        for _ in 0..<count {
            if outstanding.count >= config.clients {
                counts[.clientSaturated] += 1
            } else {
                send(now: now)
            }
        }
    }

    func wait(now: UInt64, until deadline: UInt64, _ runtime: NodeRuntime) -> NodeRuntime.Wake {
        let wake = min(pacer.nextDue ?? deadline, deadline)
        let wait = wake > now ? wake - now : 0
        let ready: Int
        if wait >= 2_000_000 {
            ready = runtime.poll(timeout: .nanoseconds(Int64(wait - 1_000_000)))
        } else {
            ready = runtime.poll(timeout: .zero)
            if ready == 0, wait > 0 { sleepUntil(monotonicNanos: now + wait) }
        }
        return ready > 0 ? .polled : .idle
    }

    func serve(_ wake: NodeRuntime.Wake, _ runtime: NodeRuntime) {
        if runtime.isReadable(dealerIndex) { receiveReplies() }
    }

    /// Expires requests that outlived the timeout (they free their client), rolls the interval.
    func tick(now: UInt64, _ runtime: NodeRuntime) -> LatencySummary {
        let expired = outstanding.filter { now - $0.value > config.timeoutNanos }
        for id in expired.keys { outstanding.removeValue(forKey: id) }
        counts[.timeouts] += UInt64(expired.count)
        let t = runtime.measuredSince.map { Double(now - $0) / 1e9 } ?? 0
        dealerWatch.check(dealer)
        return latency.roll(t: t, lostSoFar: counts[.timeouts], scheduling: runtime.schedulingLastSecond)
    }

    func fillStats(_ stats: inout Clustersim_V1_Stats) {
        stats.received = counts[.answeredOK]
        stats.busy = counts[.answeredBusy]
        stats.served = counts[.answeredOK] + counts[.answeredNotAvailable]
    }

    /// Gives answers in flight a moment, then reports.
    func finish(reason: String, _ runtime: NodeRuntime) -> NodeRuntime.Final {
        let deadline = SystemClock.monotonicNanos() + min(config.timeoutNanos, 500_000_000)
        while !outstanding.isEmpty, SystemClock.monotonicNanos() < deadline {
            _ = runtime.poll(timeout: .milliseconds(20))
            receiveReplies()
        }
        counts[.unansweredAtStop] = UInt64(outstanding.count)
        let ok = counts[.answeredOK], busy = counts[.answeredBusy]
        var gauges: [String: Double] = [:]
        gauges[.busyRatio] = ok + busy > 0 ? Double(busy) / Double(ok + busy) : 0
        gauges[.rateAsked] = config.rate
        gauges[.clients] = Double(config.clients)
        gauges[.maxMessageBytes] = Double(config.maxMessageBytes)
        let metrics = runtime.metrics(
            counters: counts, gauges: gauges, recorder: latency,
            latencies: ["query_client": LatencySummary(latency.total)],
            notes: ["targets=\(config.targets.joined(separator: ","))"])
        return NodeRuntime.Final(metrics: metrics, histogram: latency.total, message: "query load stopped",
                                 summary: ["ok": "\(ok)", "busy": "\(busy)"])
    }

    private func send(now: UInt64) {
        nextID += 1
        var req = Clustersim_V1_QueryRequest()
        req.requestID = nextID
        req.sendMonotonicNs = now
        switch (config.mix ?? .standard).pick(Double(rng.next() >> 11) / Double(1 << 53)) {
        case .getLatest:
            req.getLatest = .init()
            counts[.sentGetLatest] += 1
        case .getVersion:
            var g = Clustersim_V1_GetVersion()
            let span = newestVersion > oldestVersion ? newestVersion - oldestVersion : 0
            // Mostly kept versions, sometimes older ones: exercises NOT_AVAILABLE.
            g.version = newestVersion > 0 ? newestVersion - min(newestVersion - 1, rng.below(span + span / 4 + 1)) : 1
            req.getVersion = g
            counts[.sentGetVersion] += 1
        case .health:
            req.health = .init()
            counts[.sentHealth] += 1
        case .metrics:
            req.metrics = .init()
            counts[.sentMetrics] += 1
        }
        guard let bytes: [UInt8] = try? req.serializedBytes(), (try? dealer.send(bytes, dontWait: true)) == true else {
            counts[.sendFailed] += 1
            return
        }
        outstanding[nextID] = now
        counts[.sent] += 1
    }

    private func receiveReplies() {
        while let msg = try? dealer.receive(dontWait: true) {
            let now = SystemClock.monotonicNanos()
            guard let reply = try? Clustersim_V1_QueryReply(serializedBytes: msg.bytes) else {
                counts[.decodeErrors] += 1
                continue
            }
            guard let sent = outstanding.removeValue(forKey: reply.requestID) else {
                counts[.lateReplies] += 1
                continue
            }
            if reply.newestVersion > 0 {
                newestVersion = reply.newestVersion
                oldestVersion = reply.oldestVersion
            }
            let measured = pacer.origin != nil
            switch reply.status {
            case .ok:
                counts[.answeredOK] += 1
                if measured { latency.record(nanos: now - sent) }
            case .busy:
                counts[.answeredBusy] += 1
            case .notAvailable:
                counts[.answeredNotAvailable] += 1
                if measured { latency.record(nanos: now - sent) }
            case .notReady:
                counts[.answeredNotReady] += 1
            default:
                counts[.answeredBadRequest] += 1
            }
        }
    }
}
