import ClusterCore
import ClusterProcess
import Foundation
import Logging
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// The relay role: the ZeroMQ guide's XSUB/XPUB proxy, with seeded delay,
/// jitter and loss on what it forwards.
///
/// Subscriptions flow upstream unchanged (XPUB → XSUB). Frames flow down in
/// order: each is held until its due time (arrival + delay + jitter, never
/// earlier than the frame before it, so jitter cannot reorder), then sent.
/// Lost frames are snapshot frames only, so the readers behind a relay see
/// exactly `dropped` versions missing as gaps. Latency through relays is
/// measured end to end by the readers, from the writer's own stamp.
public final class RelayNode {
    let config: RelayConfig
    let logger: Logger

    public init(config: RelayConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public func run(signals: ShutdownSignals) throws -> Int32 {
        let incarnation = SystemClock.wallNanos()
        let startMono = SystemClock.monotonicNanos()
        ParentWatch.tightenTimerSlack()
        let context = try Context()
        let xsub = try context.socket(.xsub)
        try xsub.setLinger(.zero)
        try xsub.setReceiveHighWaterMark(100_000)
        try xsub.connect(config.upstream)
        let xpub = try context.socket(.xpub)
        try xpub.setLinger(.milliseconds(200))
        try xpub.setSendHighWaterMark(100_000)
        try xpub.bind(config.bindEndpoint)
        let boundEndpoint = (try? xpub.lastEndpoint) ?? config.bindEndpoint

        var control: ControlClient?
        if let ep = config.controlEndpoint {
            control = try ControlClient(context: context, endpoint: ep, node: config.name, logger: logger)
            control?.hello(role: .reader(.relay), incarnation: incarnation, pubEndpoint: boundEndpoint)
        }
        logger.info("relay bound", metadata: ["upstream": "\(config.upstream)", "downstream": "\(boundEndpoint)"])

        var rng = SeededRandom(seed: config.seed)
        let lossThreshold = UInt64(min(max(config.loss, 0), 1) * Double(UInt64.max >> 11))
        var queue: [(due: UInt64, arrival: UInt64, frame: [UInt8])] = []
        // A `delay` fault: extra forwarding delay until `extraUntil` (monotonic).
        var extraDelay: UInt64 = 0
        var extraUntil: UInt64 = .max
        var delayFaults: UInt64 = 0
        var head = 0
        var lastDue: UInt64 = 0
        var forwarded: UInt64 = 0, dropped: UInt64 = 0, heartbeats: UInt64 = 0, subscriptions: UInt64 = 0
        var readySent = control == nil
        var stopReason: String?
        var nextTick = SystemClock.monotonicNanos() + 1_000_000_000
        var holdLatency = LatencyRecorder()

        var poller = Poller()
        let subIndex = poller.add(xsub)
        let pubIndex = poller.add(xpub)
        let signalIndex = poller.add(fileDescriptor: signals.fileDescriptor)
        let controlIndex = control.map { poller.add($0.socket) } ?? -1

        func flushDue(now: UInt64) {
            while head < queue.count, queue[head].due <= now {
                _ = try? xpub.send(queue[head].frame, dontWait: true)
                holdLatency.record(nanos: now - queue[head].arrival)
                forwarded += 1
                head += 1
            }
            if head > 4096, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
        }

        while stopReason == nil {
            var now = SystemClock.monotonicNanos()
            flushDue(now: now)
            if now >= nextTick {
                nextTick = now + 1_000_000_000
                let interval = holdLatency.roll(t: Double(now - startMono) / 1e9, lostSoFar: dropped)
                control?.stats(interval: interval) { s in
                    s.received = forwarded
                    s.lost = dropped
                }
                if let parent = config.parentPID, getppid() != parent { stopReason = "launcher exited" }
            }
            if let d = config.durationNanos, now - startMono >= d { stopReason = "duration reached"; break }
            // Wait until the next frame is due: poll in whole milliseconds, then sleep the rest.
            let nextDue = head < queue.count ? queue[head].due : UInt64.max
            let wake = min(nextDue, nextTick)
            let wait = wake > now ? wake - now : 0
            let ready = (try? poller.poll(timeout: .milliseconds(Int64(wait / 1_000_000)))) ?? 0
            if ready == 0 {
                now = SystemClock.monotonicNanos()
                if nextDue != .max, nextDue > now, nextDue - now < 1_000_000 { sleepUntil(monotonicNanos: nextDue) }
                continue
            }
            if poller.events(at: signalIndex).contains(.readable), let sig = signals.take() { stopReason = "signal \(sig)"; break }
            if poller.events(at: pubIndex).contains(.readable) {
                // Subscriptions from readers go upstream as they are.
                while let m = try? xpub.receive(dontWait: true) {
                    subscriptions += 1
                    _ = try? xsub.send(m.bytes, dontWait: true)
                }
            }
            if poller.events(at: subIndex).contains(.readable) {
                for _ in 0..<4096 {
                    guard let frame = try? xsub.receive(dontWait: true) else { break }
                    let arrival = SystemClock.monotonicNanos()
                    let bytes = frame.bytes
                    let isSnapshot = bytes.starts(with: FrameKind.snapshot.prefix)
                    if bytes.starts(with: FrameKind.heartbeat.prefix) {
                        heartbeats += 1
                        if !readySent, let c = control { c.ready(); readySent = true }
                    }
                    if isSnapshot, lossThreshold > 0, (rng.next() >> 11) < lossThreshold {
                        dropped += 1
                        continue
                    }
                    let jitter = config.jitterNanos > 0 ? rng.below(config.jitterNanos + 1) : 0
                    if extraDelay > 0, arrival >= extraUntil { extraDelay = 0 }
                    let due = max(arrival + config.delayNanos + extraDelay + jitter, lastDue)
                    lastDue = due
                    queue.append((due, arrival, bytes))
                }
            }
            if controlIndex >= 0, poller.events(at: controlIndex).contains(.readable), let c = control {
                while let body = c.receive() {
                    switch body {
                    case .stop(let s): stopReason = s.reason.isEmpty ? "stop" : s.reason
                    case .timeRequest(let r): c.answer(r)
                    case .addDelay(let d):
                        extraDelay = d.delayNs
                        extraUntil = d.forNs > 0 ? SystemClock.monotonicNanos() + d.forNs : .max
                        delayFaults += 1
                        logger.info("forwarding delay changed", metadata: [
                            "addedMs": "\(Double(d.delayNs) / 1e6)", "forMs": "\(Double(d.forNs) / 1e6)"])
                    default: break
                    }
                }
            }
        }
        // Forward what is still held (END among it), then report.
        let drainUntil = max(SystemClock.monotonicNanos() + config.delayNanos + config.jitterNanos, lastDue) + 50_000_000
        while head < queue.count, SystemClock.monotonicNanos() < drainUntil {
            flushDue(now: SystemClock.monotonicNanos())
            sleepNanos(500_000)
        }
        let metrics = NodeMetrics(
            node: config.name, role: .reader(.relay), incarnation: incarnation, startedWallNs: incarnation,
            stoppedWallNs: SystemClock.wallNanos(),
            counters: ["forwarded": forwarded, "dropped": dropped, "heartbeats": heartbeats,
                       "subscriptions_forwarded": subscriptions, "held_at_stop": UInt64(queue.count - head),
                       "delay_faults": delayFaults],
            gauges: ["delay_ms": Double(config.delayNanos) / 1e6, "jitter_ms": Double(config.jitterNanos) / 1e6, "loss": config.loss],
            latency: LatencySummary(holdLatency.total), series: holdLatency.series, process: ProcessStats.read(),
            notes: ["latency is the time each frame was held; end-to-end latency is measured by the readers"])
        logger.info("relay stopped", metadata: ["forwarded": "\(forwarded)", "dropped": "\(dropped)", "reason": "\(stopReason ?? "")"])
        control?.finish(metrics: metrics, histogram: holdLatency.total, reason: stopReason ?? "")
        if let dir = config.metricsDirectory {
            try? MetricsDump.write(metrics, histogram: holdLatency.total, to: dir)
        }
        return 0
    }
}
