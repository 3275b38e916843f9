import ClusterCore
import ClusterProcess
import Logging
import ZeroMQ

/// The relay role: the ZeroMQ guide's XSUB/XPUB proxy, with seeded delay,
/// jitter and loss on what it forwards.
///
/// Subscriptions flow upstream unchanged (XPUB → XSUB). Frames flow down in
/// order: each is held until its due time (arrival + delay + jitter, never
/// earlier than the frame before it, so jitter cannot reorder), then sent.
/// Lost frames are snapshot and batch frames only, so the readers behind a
/// relay see exactly `dropped_versions` versions missing as gaps. Latency through relays is
/// measured end to end by the readers, from the writer's own stamp.
///
/// Its part of the process: the two sockets, the hold queue, and waits in
/// whole milliseconds of poll with a sleep to the exact due time.
final class RelayNode: NodeProcess {
    let config: RelayConfig
    let logger: Logger
    let xsub: Socket
    let xpub: Socket
    private let xsubWatch: ConnectionWatch
    private let xpubWatch: ConnectionWatch
    let helloEndpoints: HelloEndpoints
    private let subIndex: Int
    private let pubIndex: Int
    private var queue: HoldQueue
    /// How long each frame was held.
    private var holdLatency = LatencyRecorder()
    private var forwarded: UInt64 = 0
    /// Frames dropped by the seeded loss, and the versions they carried.
    private var dropped: UInt64 = 0
    private var droppedVersions: UInt64 = 0
    /// Snapshot frames not held because the hold queue had its byte budget full.
    private var overBudget: UInt64 = 0
    private var heartbeats: UInt64 = 0
    private var subscriptions: UInt64 = 0
    private var delayFaults: UInt64 = 0

    static func settings(_ config: RelayConfig) -> NodeRuntime.Settings {
        NodeRuntime.Settings(
            name: config.name, role: .reader(.relay), controlEndpoint: config.controlEndpoint,
            metricsDirectory: config.metricsDirectory, parentPID: config.parentPID, durationNanos: config.durationNanos,
            curve: config.curve)
    }

    init(config: RelayConfig, runtime: NodeRuntime) throws {
        self.config = config
        logger = runtime.logger
        xsub = try runtime.context.socket(.xsub)
        try xsub.setLinger(.zero)
        try xsub.setReceiveHighWaterMark(config.highWaterMark)
        try xsub.setMaxMessageSize(Int64(config.maxMessageBytes))
        xsubWatch = try runtime.guards.connecting(xsub, to: [config.upstream], security: runtime.security,
                                                  server: config.upstreamNode ?? Topology.writerName, label: "publish")
        try xsub.connect(config.upstream)
        xpub = try runtime.context.socket(.xpub)
        try xpub.setLinger(.milliseconds(200))
        try xpub.setSendHighWaterMark(config.highWaterMark)
        // Subscriptions only: a few bytes each.
        try xpub.setMaxMessageSize(Int64(MessageLimits.requestBytes))
        xpubWatch = try runtime.guards.bound(xpub, security: runtime.security, label: "relay")
        try xpub.bind(config.bindEndpoint)
        helloEndpoints = HelloEndpoints(pub: (try? xpub.lastEndpoint) ?? config.bindEndpoint)
        runtime.logger.info("relay bound", metadata: ["upstream": "\(config.upstream)", "downstream": "\(helloEndpoints.pub)"])
        queue = HoldQueue(config)
        subIndex = runtime.watch(xsub)
        pubIndex = runtime.watch(xpub)
    }

    /// A standalone duration counts from the start: a relay has no measured phase.
    var durationOrigin: DurationOrigin { .processStart }

    func work(now: UInt64, _ runtime: NodeRuntime) {
        forwardDue(now: now)
    }

    /// Waits until the next frame is due: polls in whole milliseconds, then sleeps the rest.
    func wait(now: UInt64, until deadline: UInt64, _ runtime: NodeRuntime) -> NodeRuntime.Wake {
        let nextDue = queue.nextDue ?? .max
        let wake = min(nextDue, deadline)
        let wait = wake > now ? wake - now : 0
        if runtime.poll(timeout: .milliseconds(Int64(wait / 1_000_000))) > 0 { return .polled }
        let after = SystemClock.monotonicNanos()
        if nextDue != .max, nextDue > after, nextDue - after < 1_000_000 { sleepUntil(monotonicNanos: nextDue) }
        return .idle
    }

    func serve(_ wake: NodeRuntime.Wake, _ runtime: NodeRuntime) {
        if runtime.isReadable(pubIndex) {
            // Subscriptions from readers go upstream as they are.
            while let m = try? xpub.receive(dontWait: true) {
                subscriptions += 1
                _ = try? xsub.send(m.bytes, dontWait: true)
            }
        }
        if runtime.isReadable(subIndex) { receiveFrames(runtime) }
    }

    private func receiveFrames(_ runtime: NodeRuntime) {
        for _ in 0..<4096 {
            guard let frame = try? xsub.receive(dontWait: true) else { break }
            let arrival = SystemClock.monotonicNanos()
            let bytes = frame.bytes
            if bytes.starts(with: FrameKind.heartbeat.prefix) {
                heartbeats += 1
                runtime.ready()
            }
            let versions = Self.versions(in: bytes)
            // Heartbeats and END always pass; updates only while the queue is within its budget.
            if versions > 0, queue.bytes + bytes.count > MessageLimits.subscriberQueueBytes {
                overBudget += 1
                continue
            }
            if !queue.admit(bytes, arrival: arrival, carriesVersions: versions > 0) {
                dropped += 1
                droppedVersions += versions
            }
        }
    }

    /// The versions a frame carries: 1 for `SNP1`, the entries of an `SNB1`
    /// batch, 0 for every other frame (never dropped).
    static func versions(in frame: [UInt8]) -> UInt64 {
        if frame.starts(with: FrameKind.snapshot.prefix) { return 1 }
        guard frame.starts(with: FrameKind.batch.prefix) else { return 0 }
        let header = frame.withUnsafeBytes { try? FrameCodec.parseHeader($0).get() }
        return max(1, header?.extra ?? 1)
    }

    /// A `delay` fault: extra forwarding delay, for a while or until changed.
    func control(_ body: Clustersim_V1_ControlMessage.OneOf_Body, _ runtime: NodeRuntime) {
        guard case .addDelay(let d) = body else { return }
        queue.addDelay(d.delayNs, until: d.forNs > 0 ? SystemClock.monotonicNanos() + d.forNs : .max)
        delayFaults += 1
        logger.info("forwarding delay changed", metadata: [
            "addedMs": "\(Double(d.delayNs) / 1e6)", "forMs": "\(Double(d.forNs) / 1e6)"])
    }

    func tick(now: UInt64, _ runtime: NodeRuntime) -> LatencySummary {
        xsubWatch.check(xsub)
        xpubWatch.check(xpub)
        return holdLatency.roll(t: Double(now - runtime.startMono) / 1e9, lostSoFar: droppedVersions,
                         scheduling: runtime.schedulingLastSecond)
    }

    func fillStats(_ stats: inout Clustersim_V1_Stats) {
        stats.received = forwarded
        stats.lost = droppedVersions
    }

    /// Forwards what is still held (END among it), then reports.
    func finish(reason: String, _ runtime: NodeRuntime) -> NodeRuntime.Final {
        let drainUntil = max(SystemClock.monotonicNanos() + config.delayNanos + config.jitterNanos, queue.lastDue) + 50_000_000
        while queue.count > 0, SystemClock.monotonicNanos() < drainUntil {
            forwardDue(now: SystemClock.monotonicNanos())
            sleepNanos(500_000)
        }
        // No reconnect to an upstream that ended (ReaderNode's finish says why).
        try? xsub.disconnect(config.upstream)
        var counters: [String: UInt64] = [:]
        counters[.forwarded] = forwarded
        counters[.dropped] = dropped
        counters[.droppedVersions] = droppedVersions
        counters[.heartbeats] = heartbeats
        counters[.subscriptionsForwarded] = subscriptions
        counters[.heldAtStop] = UInt64(queue.count)
        counters[.delayFaults] = delayFaults
        counters[.heldOverBudget] = overBudget
        var gauges: [String: Double] = [:]
        gauges[.delayMs] = Double(config.delayNanos) / 1e6
        gauges[.jitterMs] = Double(config.jitterNanos) / 1e6
        gauges[.loss] = config.loss
        gauges[.maxMessageBytes] = Double(config.maxMessageBytes)
        gauges[.sendHighWaterMark] = Double(config.highWaterMark)
        let metrics = runtime.metrics(
            counters: counters, gauges: gauges, recorder: holdLatency,
            notes: ["latency is the time each frame was held; end-to-end latency is measured by the readers"])
        return NodeRuntime.Final(metrics: metrics, histogram: holdLatency.total, message: "relay stopped",
                                 summary: ["forwarded": "\(forwarded)", "dropped": "\(dropped)", "droppedVersions": "\(droppedVersions)"])
    }

    private func forwardDue(now: UInt64) {
        while let (arrival, frame) = queue.popDue(now: now) {
            _ = try? xpub.send(frame, dontWait: true)
            holdLatency.record(nanos: now - arrival)
            forwarded += 1
        }
    }
}

/// The frames a relay holds, in order, each until its due time: arrival +
/// delay (+ a `delay` fault's extra) + seeded jitter, never before the frame
/// ahead of it. Seeded loss drops frames of versions only (`SNP1`, `SNB1`).
struct HoldQueue {
    private var frames: [(due: UInt64, arrival: UInt64, frame: [UInt8])] = []
    private var head = 0
    /// The bytes of the frames held.
    private(set) var bytes = 0
    /// The due time of the last frame admitted.
    private(set) var lastDue: UInt64 = 0
    private var rng: SeededRandom
    private let lossThreshold: UInt64
    private let delayNanos: UInt64
    private let jitterNanos: UInt64
    /// A `delay` fault: extra delay for frames arriving before `extraUntil` (monotonic).
    private var extraDelay: UInt64 = 0
    private var extraUntil: UInt64 = .max

    init(_ config: RelayConfig) {
        rng = SeededRandom(seed: config.seed)
        lossThreshold = UInt64(min(max(config.loss, 0), 1) * Double(UInt64.max >> 11))
        delayNanos = config.delayNanos
        jitterNanos = config.jitterNanos
    }

    /// Frames held.
    var count: Int { frames.count - head }

    /// When the first held frame is due; nil when none is held.
    var nextDue: UInt64? { head < frames.count ? frames[head].due : nil }

    /// Holds a frame, unless the seeded loss takes it (snapshot frames only).
    /// - Returns: false when it was dropped.
    mutating func admit(_ frame: [UInt8], arrival: UInt64, carriesVersions: Bool) -> Bool {
        if carriesVersions, lossThreshold > 0, (rng.next() >> 11) < lossThreshold { return false }
        let jitter = jitterNanos > 0 ? rng.below(jitterNanos + 1) : 0
        if extraDelay > 0, arrival >= extraUntil { extraDelay = 0 }
        let due = max(arrival + delayNanos + extraDelay + jitter, lastDue)
        lastDue = due
        frames.append((due, arrival, frame))
        bytes += frame.count
        return true
    }

    /// Takes the first frame if it is due at `now`; compacts the storage when none is.
    mutating func popDue(now: UInt64) -> (arrival: UInt64, frame: [UInt8])? {
        if head < frames.count, frames[head].due <= now {
            head += 1
            bytes -= frames[head - 1].frame.count
            return (frames[head - 1].arrival, frames[head - 1].frame)
        }
        if head > 4096, head * 2 > frames.count {
            frames.removeFirst(head)
            head = 0
        }
        return nil
    }

    /// Adds `extra` to the delay of frames arriving before `until`.
    mutating func addDelay(_ extra: UInt64, until: UInt64) {
        extraDelay = extra
        extraUntil = until
    }
}
