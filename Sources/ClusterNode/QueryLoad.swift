import ClusterCore
import ClusterProcess
import Foundation
import Logging
import SwiftProtobuf
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Drives query readers at a rate with N concurrent clients and records the
/// latency of each answer and the share answered BUSY.
///
/// Open loop: requests are due on a fixed schedule; one that finds all N
/// clients waiting is counted `client_saturated` rather than delayed, so a
/// slow service shows up as BUSY answers or saturation, never as a slower
/// schedule. One DEALER connects to every target; libzmq spreads requests
/// over them round-robin.
public final class QueryLoadNode {
    let config: QueryLoadConfig
    let logger: Logger

    public init(config: QueryLoadConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public func run(signals: ShutdownSignals) throws -> Int32 {
        let incarnation = SystemClock.wallNanos()
        let startMono = SystemClock.monotonicNanos()
        ParentWatch.tightenTimerSlack()
        let context = try Context()
        let dealer = try context.socket(.dealer)
        try dealer.setLinger(.zero)
        try dealer.setSendHighWaterMark(100_000)
        for t in config.targets { try dealer.connect(t) }

        var control: ControlClient?
        if let ep = config.controlEndpoint {
            control = try ControlClient(context: context, endpoint: ep, node: config.name, logger: logger)
            control?.hello(role: .queryLoad, incarnation: incarnation)
            control?.ready()
        }

        var rng = SeededRandom(seed: config.seed)
        var outstanding: [UInt64: UInt64] = [:]   // request id -> send time
        var latency = LatencyRecorder()
        var counts: [String: UInt64] = [:]
        var newestVersion: UInt64 = 0
        var oldestVersion: UInt64 = 0
        var nextID: UInt64 = 0
        var started = control == nil
        var runStart = started ? startMono : 0
        var sentScheduled: UInt64 = 0
        let interval = config.rate > 0 ? UInt64(1e9 / config.rate) : 1_000_000_000
        var stopReason: String?
        var nextTick = SystemClock.monotonicNanos() + 1_000_000_000

        var poller = Poller()
        let dealerIndex = poller.add(dealer)
        let signalIndex = poller.add(fileDescriptor: signals.fileDescriptor)
        let controlIndex = control.map { poller.add($0.socket) } ?? -1

        func sendOne(now: UInt64) {
            nextID += 1
            var req = Clustersim_V1_QueryRequest()
            req.requestID = nextID
            req.sendMonotonicNs = now
            switch (config.mix ?? .standard).pick(Double(rng.next() >> 11) / Double(1 << 53)) {
            case .getLatest: req.getLatest = .init(); counts["sent_get_latest", default: 0] += 1
            case .getVersion:
                var g = Clustersim_V1_GetVersion()
                let span = newestVersion > oldestVersion ? newestVersion - oldestVersion : 0
                // Mostly kept versions, sometimes older ones: exercises NOT_AVAILABLE.
                g.version = newestVersion > 0 ? newestVersion - min(newestVersion - 1, rng.below(span + span / 4 + 1)) : 1
                req.getVersion = g
                counts["sent_get_version", default: 0] += 1
            case .health: req.health = .init(); counts["sent_health", default: 0] += 1
            case .metrics: req.metrics = .init(); counts["sent_metrics", default: 0] += 1
            }
            guard let bytes: [UInt8] = try? req.serializedBytes(),
                  (try? dealer.send(bytes, dontWait: true)) == true else {
                counts["send_failed", default: 0] += 1
                return
            }
            outstanding[nextID] = now
            counts["sent", default: 0] += 1
        }

        func receiveReplies() {
            while let msg = try? dealer.receive(dontWait: true) {
                let now = SystemClock.monotonicNanos()
                guard let reply = try? Clustersim_V1_QueryReply(serializedBytes: msg.bytes) else {
                    counts["decode_errors", default: 0] += 1
                    continue
                }
                guard let sent = outstanding.removeValue(forKey: reply.requestID) else {
                    counts["late_replies", default: 0] += 1
                    continue
                }
                if reply.newestVersion > 0 { newestVersion = reply.newestVersion; oldestVersion = reply.oldestVersion }
                switch reply.status {
                case .ok: counts["ok", default: 0] += 1; if started { latency.record(nanos: now - sent) }
                case .busy: counts["busy", default: 0] += 1
                case .notAvailable: counts["not_available", default: 0] += 1; if started { latency.record(nanos: now - sent) }
                case .notReady: counts["not_ready", default: 0] += 1
                default: counts["bad_request", default: 0] += 1
                }
            }
        }

        while stopReason == nil {
            let now = SystemClock.monotonicNanos()
            if started {
                let due = (now - runStart) / interval + 1
                var budget = 1000
                while sentScheduled < due && budget > 0 {
                    sentScheduled += 1
                    budget -= 1
                    if outstanding.count >= config.clients {
                        counts["client_saturated", default: 0] += 1
                    } else {
                        sendOne(now: now)
                    }
                }
            }
            if now >= nextTick {
                nextTick = now + 1_000_000_000
                // Expire requests that outlived the timeout: they free their client.
                let expired = outstanding.filter { now - $0.value > config.timeoutNanos }
                for id in expired.keys { outstanding.removeValue(forKey: id) }
                counts["timeouts", default: 0] += UInt64(expired.count)
                let s = latency.roll(t: started ? Double(now - runStart) / 1e9 : 0, lostSoFar: counts["timeouts", default: 0])
                control?.stats(interval: s) { st in
                    st.received = counts["ok", default: 0]
                    st.busy = counts["busy", default: 0]
                    st.served = counts["ok", default: 0] + counts["not_available", default: 0]
                }
                if let parent = config.parentPID, getppid() != parent { stopReason = "launcher exited" }
            }
            if let d = config.durationNanos, started, now - runStart >= d { stopReason = "duration reached"; break }
            let nextDue = started ? runStart + sentScheduled * interval : nextTick
            let wait = min(nextDue, nextTick) > now ? min(nextDue, nextTick) - now : 0
            let ready: Int
            if wait >= 2_000_000 {
                ready = (try? poller.poll(timeout: .nanoseconds(Int64(wait - 1_000_000)))) ?? 0
            } else {
                ready = (try? poller.poll(timeout: .zero)) ?? 0
                if ready == 0, wait > 0 { sleepUntil(monotonicNanos: now + wait) }
            }
            guard ready > 0 else { continue }
            if poller.events(at: signalIndex).contains(.readable), let sig = signals.take() { stopReason = "signal \(sig)"; break }
            if poller.events(at: dealerIndex).contains(.readable) { receiveReplies() }
            if controlIndex >= 0, poller.events(at: controlIndex).contains(.readable), let c = control {
                while let body = c.receive() {
                    switch body {
                    case .start: if !started { started = true; runStart = SystemClock.monotonicNanos(); sentScheduled = 0; latency.reset() }
                    case .stop(let s): stopReason = s.reason.isEmpty ? "stop" : s.reason
                    case .timeRequest(let r): c.answer(r)
                    default: break
                    }
                }
            }
        }
        // Give answers in flight a moment.
        let deadline = SystemClock.monotonicNanos() + min(config.timeoutNanos, 500_000_000)
        while !outstanding.isEmpty, SystemClock.monotonicNanos() < deadline {
            _ = try? poller.poll(timeout: .milliseconds(20))
            receiveReplies()
        }
        counts["unanswered_at_stop"] = UInt64(outstanding.count)
        let ok = counts["ok", default: 0], busy = counts["busy", default: 0]
        let metrics = NodeMetrics(
            node: config.name, role: .queryLoad, incarnation: incarnation, startedWallNs: incarnation,
            stoppedWallNs: SystemClock.wallNanos(), counters: counts,
            gauges: ["busy_ratio": ok + busy > 0 ? Double(busy) / Double(ok + busy) : 0, "rate_asked": config.rate,
                     "clients": Double(config.clients)],
            latency: LatencySummary(latency.total), latencies: ["query_client": LatencySummary(latency.total)],
            series: latency.series, process: ProcessStats.read(), notes: ["targets=\(config.targets.joined(separator: ","))"])
        logger.info("query load stopped", metadata: ["ok": "\(ok)", "busy": "\(busy)", "reason": "\(stopReason ?? "")"])
        control?.finish(metrics: metrics, histogram: latency.total, reason: stopReason ?? "")
        if let dir = config.metricsDirectory {
            try? MetricsDump.write(metrics, histogram: latency.total, to: dir)
        }
        return 0
    }
}
