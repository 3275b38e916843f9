import ClusterCore
import ZeroMQ

/// Sends each snapshot as one frame, stamped immediately before the send.
/// Used only from the writer's thread (the store calls its sink inline).
final class Publisher: @unchecked Sendable {
    private let socket: Socket
    private var builder = SnapshotFrameBuilder()
    private(set) var published: UInt64 = 0
    private(set) var sendFailed: UInt64 = 0
    /// Time spent waiting in `zmq_send` at the high-water mark (only with
    /// `XPUB_NODROP`; a plain PUB drops instead of waiting).
    private(set) var blockedNanos: UInt64 = 0
    private(set) var blockedSends: UInt64 = 0

    init(socket: consuming Socket) {
        self.socket = socket
    }

    /// Sends a heartbeat or end-of-stream frame; never blocks.
    func sendRaw(_ frame: [UInt8]) {
        _ = try? socket.send(frame, dontWait: true)
    }

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

    func publish(_ snapshot: Snapshot) {
        if holding {
            held = snapshot
            heldCount += 1
            return
        }
        send(snapshot, coalesced: 0)
    }

    private func send(_ snapshot: Snapshot, coalesced folded: UInt32) {
        builder.begin(encodedSnapshot: snapshot.encoded(), epoch: snapshot.epoch, version: snapshot.version, coalesced: folded)
        let (ok, _) = builder.stampAndSend { bytes -> Bool in
            // Non-blocking first: EAGAIN means a subscriber's queue is full and
            // XPUB_NODROP is on; the blocking send that follows is time blocked.
            if let sent = try? socket.send(bytes, dontWait: true), sent { return true }
            let start = SystemClock.monotonicNanos()
            let sent = (try? socket.send(bytes)) ?? false
            blockedNanos += SystemClock.monotonicNanos() - start
            blockedSends += 1
            return sent
        }
        if ok { published += 1 } else { sendFailed += 1 }
    }
}
