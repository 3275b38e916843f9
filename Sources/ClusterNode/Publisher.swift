import ClusterCore
import ZeroMQ

/// Sends each snapshot as one frame, stamped immediately before the send;
/// coalescing, the newest of those due; batching, several to a frame.
/// Used only from the writer's thread (the store calls its sink inline).
final class Publisher: @unchecked Sendable {
    /// Where the frames go: libzmq's PUB socket, or the writer's own ZMTP publisher.
    final class Output {
        /// The PUB socket, when libzmq writes the frames.
        fileprivate let socket: Socket?
        /// The writer's own publisher, when it writes them itself.
        let direct: DirectPublisher?

        init(socket: consuming Socket) {
            self.socket = consume socket
            direct = nil
        }

        init(direct: DirectPublisher) {
            socket = nil
            self.direct = direct
        }

        /// Sends one frame; with `dontWait`, false when libzmq's queue is full
        /// (only with `XPUB_NODROP`). The direct publisher never waits.
        func send(_ bytes: UnsafeRawBufferPointer, dontWait: Bool) -> Bool {
            if let direct {
                direct.send(bytes)
                return true
            }
            switch socket {
            case .some(let s): return (try? s.send(bytes, dontWait: dontWait)) ?? false
            case .none: return false
            }
        }

        /// Calls `body` with the PUB socket, when there is one.
        func withSocket(_ body: (borrowing Socket) -> Void) {
            switch socket {
            case .some(let s): body(s)
            case .none: break
            }
        }
    }

    /// How versions become frames.
    enum Mode: Equatable {
        /// One `SNP1` frame per version.
        case each
        /// Behind schedule, only the newest of the versions due is sent (`hold()`/`release()`).
        case coalesce
        /// Versions that wait together share an `SNB1` frame.
        case batch(WriterBatching)
    }

    let output: Output
    let mode: Mode
    private var builder = SnapshotFrameBuilder()
    /// Versions sent (whatever the frames that carried them).
    private(set) var published: UInt64 = 0
    /// Frames of versions sent: `SNP1` and `SNB1`.
    private(set) var framesSent: UInt64 = 0
    private(set) var sendFailed: UInt64 = 0
    /// Time spent waiting in `zmq_send` at the high-water mark (only with
    /// `XPUB_NODROP`; a plain PUB drops instead of waiting).
    private(set) var blockedNanos: UInt64 = 0
    private(set) var blockedSends: UInt64 = 0
    /// The version of the last frame sent.
    private(set) var lastSentVersion: UInt64 = 0
    /// The writer's latency, its send call: each version's store-and-send;
    /// batching, each frame's send (a version's wait for its frame is the
    /// batching delay, in ``batchStatistics``).
    var sendLatency = LatencyRecorder()

    /// How long the store took to take a version and its sink to send (or hold) it.
    func recordCommit(nanos: UInt64) {
        if batcher == nil { sendLatency.record(nanos: nanos) }
    }

    init(output: Output, mode: Mode = .each) {
        self.output = output
        self.mode = mode
        if case .batch(let b) = mode { batcher = Batcher(b) }
    }

    /// Sends a heartbeat or end-of-stream frame; never blocks.
    func sendRaw(_ frame: [UInt8]) {
        _ = frame.withUnsafeBytes { output.send($0, dontWait: true) }
    }

    /// The store's sink: a new version, sent, held or batched as the mode says.
    func publish(_ snapshot: Snapshot) {
        if holding {
            held = snapshot
            heldCount += 1
            return
        }
        if batcher != nil {
            batcher!.add(snapshot, now: SystemClock.monotonicNanos())
            if batcher!.isFull { sendBatch() }
            return
        }
        send(snapshot, coalesced: 0)
    }

    // MARK: - Coalescing

    /// Coalescing: snapshots published until `release()` are held, and only the last is sent.
    private var holding = false
    private var held: Snapshot?
    private var heldCount: UInt32 = 0
    /// Versions folded into a later frame instead of sent.
    private(set) var coalesced: UInt64 = 0

    func hold() {
        holding = true
    }

    /// Sends the newest held snapshot, saying how many versions before it were folded in.
    func release() {
        holding = false
        guard let s = held else { return }
        held = nil
        let folded = heldCount - 1
        heldCount = 0
        coalesced += UInt64(folded)
        send(s, coalesced: folded)
    }

    private func send(_ snapshot: Snapshot, coalesced folded: UInt32) {
        builder.begin(encodedSnapshot: snapshot.encoded(), epoch: snapshot.epoch, version: snapshot.version, coalesced: folded)
        let (ok, _) = builder.stampAndSend { sendFrame($0) }
        count(ok, versions: 1, last: snapshot.version)
    }

    // MARK: - Batching

    private var batcher: Batcher?
    private var batchBuilder = BatchFrameBuilder()

    /// When the versions waiting must be sent (monotonic ns); nil when none waits.
    var batchDeadline: UInt64? { batcher?.deadline }

    /// Sends the versions waiting when their deadline has come (or `force`).
    func flushBatch(now: UInt64, force: Bool = false) {
        guard let deadline = batcher?.deadline, force || now >= deadline else { return }
        sendBatch()
    }

    /// How many frames carried how many versions, and how long versions waited for their frame.
    var batchStatistics: BatchStatistics? { batcher?.statistics }

    /// Sends what waits: alone in an `SNP1` frame when it did not wait (a
    /// writer that keeps up sends as it would without batching), else as
    /// one `SNB1` frame, each version with the stamps of when it was made.
    private func sendBatch() {
        guard let pending = batcher?.pending, let first = pending.first else { return }
        let wasHeld = batcher!.held
        batcher!.reset()
        if pending.count == 1, !wasHeld {
            let start = SystemClock.monotonicNanos()
            send(first, coalesced: 0)
            let end = SystemClock.monotonicNanos()
            sendLatency.record(nanos: end - start)
            batcher!.frameSent(sendMono: end, of: pending)
            return
        }
        batchBuilder.begin(epoch: first.epoch)
        for s in pending {
            batchBuilder.append(encodedSnapshot: s.encoded(), version: s.version, madeMonotonicNanos: s.monotonicNanos, madeWallNanos: s.wallNanos)
        }
        let (ok, mono) = batchBuilder.stampAndSend { sendFrame($0) }
        sendLatency.record(nanos: SystemClock.monotonicNanos() &- mono)
        batcher!.frameSent(sendMono: mono, of: pending)
        count(ok, versions: pending.count, last: pending[pending.count - 1].version)
    }

    // MARK: - Sending

    private func sendFrame(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Non-blocking first: EAGAIN means a subscriber's queue is full and
        // XPUB_NODROP is on; the blocking send that follows is time blocked.
        if output.send(bytes, dontWait: true) { return true }
        if output.direct != nil { return false }
        let start = SystemClock.monotonicNanos()
        let sent = output.send(bytes, dontWait: false)
        blockedNanos += SystemClock.monotonicNanos() - start
        blockedSends += 1
        return sent
    }

    private func count(_ ok: Bool, versions: Int, last: UInt64) {
        if ok {
            published += UInt64(versions)
            framesSent += 1
        } else {
            sendFailed += UInt64(versions)
        }
        lastSentVersion = last
    }
}

/// The versions a batching writer holds for a frame, when they must go, and
/// what its frames carried.
struct Batcher {
    let settings: WriterBatching
    /// Versions waiting, oldest first.
    private(set) var pending: [Snapshot] = []
    /// When they must be sent; nil when none waits.
    private(set) var deadline: UInt64?
    /// Whether the first of them was held for others (its deadline was after it was added).
    private(set) var held = false
    /// When the last frame was sent (monotonic ns).
    private var lastFrameMono: UInt64 = 0
    private(set) var statistics = BatchStatistics()

    init(_ settings: WriterBatching) {
        self.settings = settings
        pending.reserveCapacity(settings.maxCount)
    }

    var isFull: Bool { pending.count >= settings.maxCount }

    /// Adds a version made at `now`. The first to wait sets the deadline: now,
    /// when no frame went out in the last `maxDelay`; else `maxDelay` after the last frame.
    mutating func add(_ snapshot: Snapshot, now: UInt64) {
        if pending.isEmpty {
            let earliest = lastFrameMono &+ settings.maxDelayNanos
            let d = lastFrameMono == 0 || now >= earliest ? now : earliest
            deadline = d
            held = d > now
        }
        pending.append(snapshot)
    }

    /// Forgets the versions waiting (they were sent).
    mutating func reset() {
        pending.removeAll(keepingCapacity: true)
        deadline = nil
        held = false
    }

    /// Records a frame sent at `sendMono` carrying `versions`.
    mutating func frameSent(sendMono: UInt64, of versions: [Snapshot]) {
        lastFrameMono = sendMono
        statistics.record(frameOf: versions.count)
        for s in versions { statistics.recordDelay(nanos: sendMono &- min(sendMono, s.monotonicNanos)) }
    }
}
