import ClusterCore
import SwiftProtobuf
import ZeroMQ

/// The reader's side of the Clone pattern's snapshot exchange: requests to
/// the writer's snapshot service, their answers, and the replay of the
/// updates held meanwhile. `SyncStateMachine` decides; this does.
extension ReaderNode {
    /// Sends a snapshot request on the snapshot DEALER, without waiting.
    func send(_ request: SyncStateMachine.Request) {
        var req = Clustersim_V1_SnapshotRequest()
        req.client = config.name
        req.requestID = request.id
        guard let bytes: [UInt8] = try? req.serializedBytes() else { return }
        _ = try? snapshotClient.send(bytes, dontWait: true)
    }

    /// Applies the answer to the awaited request: the tracker takes the
    /// snapshot's version (the updates at or below it become stale), the
    /// roles get the snapshot, its convergence is recorded; after the start
    /// snapshot, the held updates follow it.
    func handleSnapshotReply(_ bytes: [UInt8]) {
        guard let reply = try? Clustersim_V1_SnapshotReply(serializedBytes: bytes) else {
            decodeErrors += 1
            return
        }
        guard case .applySnapshot(let request, let replay) = sync.snapshotReply(id: reply.requestID, hasSnapshot: reply.hasSnapshot)
        else { return }
        tracker.applySnapshot(epoch: reply.epoch, version: reply.version, skipping: request.trigger == .snail)
        if request.trigger != .start { tally.resyncs += 1 }
        let snapshotBytes: [UInt8] = (try? reply.snapshot.serializedBytes()) ?? []
        query?.update(version: reply.version, epoch: reply.epoch, encodedSnapshot: snapshotBytes)
        log?.recordSnapshot(Snapshot(reply.snapshot), recvWall: SystemClock.wallNanos(), via: "snapshot")
        tally.converge.append(ConvergeEvent(
            trigger: request.trigger, atWallNs: request.triggerWall,
            millis: Double(SystemClock.monotonicNanos() - request.triggerMono) / 1e6, version: reply.version))
        if replay { replayHeld() }
    }

    /// Replays the held updates in order; those at or below an applied
    /// snapshot's version are stale and discarded by the tracker.
    func replayHeld() {
        let updates = held
        held = []
        heldBytes = 0
        for update in updates {
            update.bytes.withUnsafeBytes { raw in
                if case .success(let h) = FrameCodec.parseHeader(raw) {
                    handleUpdates(h, raw, recvMono: update.recvMono, recvWall: update.recvWall)
                }
            }
        }
    }
}
