import Synchronization

/// Counts how one socket's connections end, from its monitor
/// (`zmq_socket_monitor`), and connects again what libzmq gave up on.
///
/// libzmq closes a connection whose peer breaks the protocol: a frame above
/// `ZMQ_MAXMSGSIZE` (``Socket/setMaxMessageSize(_:)``), a malformed ZMTP
/// command. It says so only with `ZMQ_EVENT_DISCONNECTED`, the event an
/// ordinary close gives too. What tells the two apart differs by side:
///
/// - **Connecting side** (``init(_:connecting:)``): after an ordinary close
///   libzmq schedules a reconnect at once (`ZMQ_EVENT_CONNECT_RETRIED`);
///   after a protocol error it never does, and the endpoint stays dead. A
///   disconnect with no retry by the next ``check(_:)`` is counted in
///   ``dropped``, and ``check(_:)`` connects the endpoint again
///   (`zmq_disconnect`, `zmq_connect`), so the socket goes on.
/// - **Bound side** (``init(_:)``): nothing tells them apart; every
///   connection that ended is counted in ``disconnects``, those of peers
///   that left as well as those libzmq closed.
///
/// Only the events needed are asked for, and the monitor's queue has no
/// limit (see ``Socket/monitor(_:)``): call ``check(_:)`` regularly, e.g.
/// once a second.
public final class ConnectionWatch {
    /// Events handed over by another reader of the socket's monitor: libzmq
    /// allows one monitor per socket, and a CURVE socket's is the CURVE
    /// handler's (``CurveAuthenticator/watch(_:as:server:forwarding:)``),
    /// which passes the events a watch needs on to it here.
    public final class Inbox: Sendable {
        private let events = Mutex<[MonitorEvent]>([])

        public init() {}

        /// Hands over one event (from the thread that reads the monitor).
        public func post(_ event: MonitorEvent) {
            events.withLock { $0.append(event) }
        }

        /// The events handed over since the last call.
        func take() -> [MonitorEvent] {
            events.withLock { e in
                defer { e.removeAll() }
                return e
            }
        }
    }

    /// The events a watch reads: for a socket that connects, disconnects and
    /// what follows them; for one that binds, disconnects.
    public static func events(connecting: Bool) -> MonitorEvents {
        connecting ? [.disconnected, .connectRetried, .connected] : .disconnected
    }

    /// The watch's own monitor PAIR, when it reads the socket's monitor itself.
    private final class OwnMonitor {
        let pair: Socket
        init(_ pair: consuming Socket) { self.pair = pair }
    }

    private let monitor: OwnMonitor?
    private let inbox: Inbox?
    /// The endpoints a connecting socket was connected to; empty on the bound side.
    public let endpoints: [String]
    /// Connections that ended, for any reason (`ZMQ_EVENT_DISCONNECTED`).
    public private(set) var disconnects: UInt64 = 0
    /// Connecting side: connections libzmq closed for a protocol error and did
    /// not retry; each was connected again.
    public private(set) var dropped: UInt64 = 0
    /// Connecting side: the endpoints disconnected and not retried yet, with
    /// the checks that have seen them so.
    private var unretried: [String: Int] = [:]

    /// Watches a socket that connects to `endpoints` (connect them before or after: events come either way).
    /// - Throws: ``ZMQError`` if the monitor cannot be started.
    public init(_ socket: borrowing Socket, connecting endpoints: [String]) throws {
        monitor = OwnMonitor(try socket.monitor(Self.events(connecting: true)))
        inbox = nil
        self.endpoints = endpoints
    }

    /// Watches a socket that binds: counts the connections that ended.
    /// - Throws: ``ZMQError`` if the monitor cannot be started.
    public init(_ socket: borrowing Socket) throws {
        monitor = OwnMonitor(try socket.monitor(Self.events(connecting: false)))
        inbox = nil
        endpoints = []
    }

    /// Watches a socket whose monitor another reader has, from the events it
    /// hands over to `inbox`: connecting to `endpoints`, or (empty) binding.
    public init(_ inbox: Inbox, connecting endpoints: [String] = []) {
        monitor = nil
        self.inbox = inbox
        self.endpoints = endpoints
    }

    /// Reads the events queued. On the connecting side, an endpoint that was
    /// disconnected and not retried by the previous check as well is counted
    /// as dropped and connected again on `socket`.
    /// - Parameters:
    ///   - socket: the watched socket (needed to connect it again).
    /// - Returns: the connections dropped and connected again by this call.
    @discardableResult
    public func check(_ socket: borrowing Socket) -> Int {
        var events = inbox?.take() ?? []
        if let monitor {
            while let event = try? MonitorEvent.read(from: monitor.pair, timeout: .zero) { events.append(event) }
        }
        for event in events {
            switch event.event {
            case .disconnected:
                disconnects += 1
                if !endpoints.isEmpty { unretried[event.endpoint] = 0 }
            case .connectRetried, .connected:
                unretried[event.endpoint] = nil
            default:
                break
            }
        }
        var reconnected = 0
        for (endpoint, seen) in unretried {
            guard seen >= 1 else {
                unretried[endpoint] = seen + 1
                continue
            }
            unretried[endpoint] = nil
            dropped += 1
            reconnected += 1
            // The event names the address libzmq resolved, which may not be the
            // endpoint as connected (a host name): then every endpoint is renewed.
            for e in endpoints.contains(endpoint) ? [endpoint] : endpoints {
                try? socket.disconnect(e)
                try? socket.connect(e)
            }
        }
        return reconnected
    }
}
