import ClusterCore
import SwiftProtobuf
import ZeroMQ

/// The writer's snapshot service: a ROUTER that answers each
/// `SnapshotRequest` with the current snapshot (the Clone pattern's state
/// request, docs/protocol.md).
final class SnapshotService {
    let socket: Socket
    /// The endpoint bound (a wildcard port resolved).
    let endpoint: String
    /// Requests answered.
    private(set) var served: UInt64 = 0
    /// Its connections that ended.
    let watch: ConnectionWatch

    /// Binds the ROUTER. It takes requests only (a few bytes; a larger
    /// message drops its peer), and keeps at most 16 MiB of replies of
    /// `frameBytes` queued for one client (`ZMQ_SNDHWM`; more are dropped).
    /// - Throws: `ZMQError` when the endpoint cannot be bound.
    init(context: Context, endpoint requested: String, frameBytes: Int, security: NodeSecurity?, guards: ConnectionGuards) throws {
        socket = try context.socket(.router)
        try socket.setLinger(.zero)
        try socket.setMaxMessageSize(Int64(MessageLimits.requestBytes))
        try socket.setSendHighWaterMark(MessageLimits.highWaterMark(messages: 1_000, frameBytes: frameBytes,
                                                                    budget: MessageLimits.clientRepliesBytes))
        watch = try guards.bound(socket, security: security, label: "snapshots")
        try socket.bind(requested)
        endpoint = (try? socket.lastEndpoint) ?? requested
    }

    /// Answers the requests queued, 64 at most: a flood of requests cannot stall publishing.
    func answer(from store: StateStoreCore, epoch: UInt64) {
        for _ in 0..<64 {
            guard let frames = try? socket.receiveMultipart(dontWait: true) else { return }
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
                _ = try? socket.sendMultipart([identity, bytes], dontWait: true)
                served += 1
            }
        }
    }
}
