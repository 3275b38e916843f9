import ClusterCore
import ZeroMQ

/// The reader's SUB sockets: one for everything, or, with `conflate`, a
/// conflated socket for snapshots and a plain one for heartbeats and END
/// (conflation keeps one message per socket, and must not let a heartbeat
/// replace a snapshot).
///
/// A frame above `--max-message` makes libzmq drop the connection for good;
/// the watches count it and connect again (``check()``, once a tick).
///
/// With `--subscriber direct` the stream comes through ``direct`` instead,
/// read on the reader's thread (`DirectSubscriber`); `data` is then an idle
/// socket, never connected or read.
final class SubscriberSockets {
    let context: Context
    let config: ReaderConfig
    let security: NodeSecurity?
    let guards: ConnectionGuards
    private(set) var data: Socket
    private var dataWatch: ConnectionWatch?
    /// The stream, when the reader reads ZMTP itself.
    private(set) var direct: DirectSubscriber?
    /// Handshakes the direct subscriber had refused at the last check (each is logged once).
    private var refusedHandshakes: UInt64 = 0
    /// Heartbeats and END when conflating; otherwise an idle socket, never connected or read.
    let heartbeat: Socket
    private let heartbeatWatch: ConnectionWatch?
    let separateHeartbeats: Bool

    init(context: Context, config: ReaderConfig, security: NodeSecurity?, guards: ConnectionGuards) throws {
        self.context = context
        self.config = config
        self.security = security
        self.guards = guards
        separateHeartbeats = config.policy == .conflate
        let s = try Self.make(context: context, config: config, conflate: separateHeartbeats)
        if config.subscriber == .direct {
            direct = guards.adopt(try Self.makeDirect(config, security: security))
        } else {
            dataWatch = try Self.watch(s, config: config, security: security, guards: guards)
            try s.connect(config.publishEndpoint)
        }
        data = s
        heartbeat = try context.socket(.sub)
        try heartbeat.setLinger(.zero)
        if separateHeartbeats {
            // Heartbeats and END are a few dozen bytes.
            try heartbeat.setMaxMessageSize(Int64(MessageLimits.requestBytes))
            try heartbeat.subscribe(FrameKind.heartbeat.prefix)
            try heartbeat.subscribe(FrameKind.end.prefix)
            heartbeatWatch = try Self.watch(heartbeat, config: config, security: security, guards: guards)
            try heartbeat.connect(config.publishEndpoint)
        } else {
            heartbeatWatch = nil
        }
    }

    /// Counts the connections libzmq dropped (a frame above the limit) and connects them again.
    /// The direct subscriber's handshakes refused since the last check are,
    /// under CURVE, each recorded as a refusal by the server (metrics.json's
    /// `refused_by_server` and refusals, as a libzmq client's are).
    /// - Returns: Why the last of them was refused, when there were any.
    func check() -> String? {
        dataWatch?.check(data)
        heartbeatWatch?.check(heartbeat)
        guard let d = direct, d.handshakeFailures > refusedHandshakes else { return nil }
        let reason = d.lastError ?? "the handshake was refused"
        for _ in refusedHandshakes..<d.handshakeFailures {
            security?.authenticator.record(.refusedByServer, socket: "publish", address: config.publishEndpoint, publicKey: "", reason: reason)
        }
        refusedHandshakes = d.handshakeFailures
        return reason
    }

    /// The direct subscriber for the stream: the frame kinds a reader reads, the reader's limit.
    /// With `security`, a CURVE client of the node serving the stream.
    static func makeDirect(_ config: ReaderConfig, security: NodeSecurity?) throws -> DirectSubscriber {
        try DirectSubscriber(endpoint: config.publishEndpoint,
                             prefixes: [FrameKind.snapshot.prefix, FrameKind.batch.prefix, FrameKind.heartbeat.prefix, FrameKind.end.prefix],
                             maxMessageSize: config.maxMessageBytes, receiveBufferBytes: config.receiveBufferBytes,
                             curve: try security?.directClient(of: config.pubNode ?? Topology.writerName, label: "publish"))
    }

    /// A watch on a SUB socket, before it connects; with CURVE, a client of the
    /// node serving the stream (the writer, or the relay `pubNode`).
    static func watch(_ socket: borrowing Socket, config: ReaderConfig, security: NodeSecurity?,
                      guards: ConnectionGuards) throws -> ConnectionWatch {
        try guards.connecting(socket, to: [config.publishEndpoint], security: security,
                              server: config.pubNode ?? Topology.writerName, label: "publish")
    }

    /// A SUB socket for the stream, subscribed, not connected yet.
    static func make(context: Context, config: ReaderConfig, conflate: Bool) throws -> Socket {
        let s = try context.socket(.sub)
        try s.setLinger(.zero)
        if conflate {
            try s.setConflate(true)
        } else {
            try s.setReceiveHighWaterMark(config.receiveHighWaterMark)
        }
        if let b = config.receiveBufferBytes { try s.setReceiveBufferSize(b) }
        try s.setMaxMessageSize(Int64(config.maxMessageBytes))
        try s.subscribe(FrameKind.snapshot.prefix)
        try s.subscribe(FrameKind.batch.prefix)
        if !conflate {
            try s.subscribe(FrameKind.heartbeat.prefix)
            try s.subscribe(FrameKind.end.prefix)
        }
        return s
    }

    /// Stops connecting to the stream: no reconnect (and no name lookup in the
    /// I/O thread, which the control socket's last messages share) after the run ended.
    func disconnect() {
        direct?.close()
        if direct == nil { try? data.disconnect(config.publishEndpoint) }
        if separateHeartbeats { try? heartbeat.disconnect(config.publishEndpoint) }
    }

    /// snail: drops the data socket (and whatever it had queued) and connects a new one.
    func reconnect() {
        if let old = direct {
            guard let d = try? Self.makeDirect(config, security: security) else { return }
            old.close()
            direct = guards.adopt(d)
            refusedHandshakes = 0
            return
        }
        guard let s = try? Self.make(context: context, config: config, conflate: separateHeartbeats),
              let w = try? Self.watch(s, config: config, security: security, guards: guards),
              (try? s.connect(config.publishEndpoint)) != nil else { return }
        if let dataWatch { guards.retire(dataWatch) }
        data = s
        dataWatch = w
    }
}
