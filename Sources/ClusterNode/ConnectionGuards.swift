import ClusterCore
import ZeroMQ

/// The watches on a node's sockets (``ConnectionWatch``), totalled for its
/// metrics: connections libzmq dropped on its connecting sockets (each
/// connected again by the watch's check), and connections to its bound
/// sockets that ended. Each node checks its own watches once a tick, with
/// the socket each watches; a socket that is replaced retires its watch,
/// whose counts stay in the totals.
final class ConnectionGuards {
    private var dropped: UInt64 = 0
    private var disconnects: UInt64 = 0
    private var live: [ConnectionWatch] = []
    /// Direct subscribers (readers that read ZMTP themselves), their counts kept after they are replaced.
    private var directs: [DirectSubscriber] = []
    /// The writer's own publisher, whose subscribers' disconnects count as peers' disconnects.
    private var publishers: [DirectPublisher] = []

    /// A watch on a socket that connects to `endpoints`; with `security`, the
    /// socket is made a CURVE client of the node `server` first, and the CURVE
    /// handler's monitor serves both (libzmq allows one monitor per socket).
    /// Before it connects.
    /// - Throws: `ZMQError` when the monitor cannot be started; `CurveFileError`
    ///   when the peers file has no key for `server`.
    func connecting(_ socket: borrowing Socket, to endpoints: [String], security: NodeSecurity? = nil, server: String = "",
                    label: String = "") throws -> ConnectionWatch {
        guard let security else { return adopt(try ConnectionWatch(socket, connecting: endpoints)) }
        let inbox = ConnectionWatch.Inbox()
        try security.client(socket, of: server, label: label, forwarding: inbox)
        return adopt(ConnectionWatch(inbox, connecting: endpoints))
    }

    /// A watch on a socket that binds; with `security`, the socket is made a
    /// CURVE server under the ZAP domain `label` first, and the CURVE
    /// handler's monitor serves both. Before it binds.
    /// - Throws: `ZMQError` when the monitor cannot be started.
    func bound(_ socket: borrowing Socket, security: NodeSecurity? = nil, label: String = "") throws -> ConnectionWatch {
        guard let security else { return adopt(try ConnectionWatch(socket)) }
        let inbox = ConnectionWatch.Inbox()
        try security.server(socket, label: label, forwarding: inbox)
        return adopt(ConnectionWatch(inbox))
    }

    /// Counts a watch made elsewhere in the node's totals.
    func adopt(_ watch: ConnectionWatch) -> ConnectionWatch {
        live.append(watch)
        return watch
    }

    /// Counts a direct subscriber's dropped connections (frames above its limit) in the node's totals.
    func adopt(_ subscriber: DirectSubscriber) -> DirectSubscriber {
        directs.append(subscriber)
        return subscriber
    }

    /// Counts the disconnects of a writer's own publisher's subscribers in the node's totals.
    func adopt(_ publisher: DirectPublisher) {
        publishers.append(publisher)
    }

    /// Keeps the counts of a watch whose socket is gone, and lets the watch go.
    func retire(_ watch: ConnectionWatch) {
        guard let i = live.firstIndex(where: { $0 === watch }) else { return }
        live.remove(at: i)
        (dropped, disconnects) = (dropped + Self.dropped(watch), disconnects + Self.disconnects(watch))
    }

    /// The node's counters: connections dropped (connecting sockets), peers' disconnects (bound sockets).
    var counters: [String: UInt64] {
        var c: [String: UInt64] = [:]
        c[.connectionsDropped] = live.reduce(dropped) { $0 + Self.dropped($1) } + directs.reduce(0) { $0 + $1.oversizeDrops }
        c[.peerDisconnects] = live.reduce(disconnects) { $0 + Self.disconnects($1) } + publishers.reduce(0) { $0 + $1.disconnects }
        return c
    }

    private static func dropped(_ w: ConnectionWatch) -> UInt64 { w.endpoints.isEmpty ? 0 : w.dropped }
    private static func disconnects(_ w: ConnectionWatch) -> UInt64 { w.endpoints.isEmpty ? w.disconnects : 0 }
}
