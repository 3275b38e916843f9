import ClusterCore
import ZeroMQ

/// The reader's SUB sockets: one for everything, or, with `conflate`, a
/// conflated socket for snapshots and a plain one for heartbeats and END
/// (conflation keeps one message per socket, and must not let a heartbeat
/// replace a snapshot).
final class SubscriberSockets {
    let context: Context
    let config: ReaderConfig
    let security: NodeSecurity?
    private(set) var data: Socket
    /// Heartbeats and END when conflating; otherwise an idle socket, never connected or read.
    let heartbeat: Socket
    let separateHeartbeats: Bool

    init(context: Context, config: ReaderConfig, security: NodeSecurity?) throws {
        self.context = context
        self.config = config
        self.security = security
        separateHeartbeats = config.policy == .conflate
        data = try Self.make(context: context, config: config, conflate: separateHeartbeats, security: security)
        heartbeat = try context.socket(.sub)
        try heartbeat.setLinger(.zero)
        if separateHeartbeats {
            try heartbeat.subscribe(FrameKind.heartbeat.prefix)
            try heartbeat.subscribe(FrameKind.end.prefix)
            try Self.secure(heartbeat, config: config, security: security)
            try heartbeat.connect(config.publishEndpoint)
        }
    }

    /// A CURVE client of the node serving the stream: the writer, or the relay `pubNode`.
    static func secure(_ socket: borrowing Socket, config: ReaderConfig, security: NodeSecurity?) throws {
        try security?.client(socket, of: config.pubNode ?? Topology.writerName, label: "publish")
    }

    static func make(context: Context, config: ReaderConfig, conflate: Bool, security: NodeSecurity?) throws -> Socket {
        let s = try context.socket(.sub)
        try s.setLinger(.zero)
        if conflate {
            try s.setConflate(true)
        } else {
            try s.setReceiveHighWaterMark(config.receiveHighWaterMark)
        }
        if let b = config.receiveBufferBytes { try s.setReceiveBufferSize(b) }
        try s.subscribe(FrameKind.snapshot.prefix)
        try s.subscribe(FrameKind.batch.prefix)
        if !conflate {
            try s.subscribe(FrameKind.heartbeat.prefix)
            try s.subscribe(FrameKind.end.prefix)
        }
        try secure(s, config: config, security: security)
        try s.connect(config.publishEndpoint)
        return s
    }

    /// snail: drops the data socket (and whatever it had queued) and connects a new one.
    func reconnect() {
        if let s = try? Self.make(context: context, config: config, conflate: separateHeartbeats, security: security) {
            data = s
        }
    }
}
