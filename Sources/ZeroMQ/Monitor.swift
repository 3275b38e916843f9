import CZeroMQ

/// Socket events reported by `zmq_socket_monitor` (`ZMQ_EVENT_*`).
public struct MonitorEvents: OptionSet, Sendable, Hashable {
    /// The `ZMQ_EVENT_*` bits.
    public let rawValue: UInt32

    /// Creates a set from `ZMQ_EVENT_*` bits.
    /// - Parameters:
    ///   - rawValue: The bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `ZMQ_EVENT_CONNECTED`: a connect completed; value is the fd.
    public static let connected = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_CONNECTED))
    /// `ZMQ_EVENT_CONNECT_DELAYED`: a connect is pending.
    public static let connectDelayed = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_CONNECT_DELAYED))
    /// `ZMQ_EVENT_CONNECT_RETRIED`: a reconnect is scheduled; value is the interval in ms.
    public static let connectRetried = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_CONNECT_RETRIED))
    /// `ZMQ_EVENT_LISTENING`: a bind succeeded; value is the fd.
    public static let listening = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_LISTENING))
    /// `ZMQ_EVENT_BIND_FAILED`: a bind failed; value is the errno.
    public static let bindFailed = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_BIND_FAILED))
    /// `ZMQ_EVENT_ACCEPTED`: a connection was accepted; value is the fd.
    public static let accepted = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_ACCEPTED))
    /// `ZMQ_EVENT_ACCEPT_FAILED`: accepting failed; value is the errno.
    public static let acceptFailed = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_ACCEPT_FAILED))
    /// `ZMQ_EVENT_CLOSED`: a connection's fd was closed; value is the fd.
    public static let closed = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_CLOSED))
    /// `ZMQ_EVENT_CLOSE_FAILED`: closing failed; value is the errno.
    public static let closeFailed = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_CLOSE_FAILED))
    /// `ZMQ_EVENT_DISCONNECTED`: a session was broken; value is the fd.
    public static let disconnected = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_DISCONNECTED))
    /// `ZMQ_EVENT_MONITOR_STOPPED`: monitoring ended (the socket was closed).
    public static let monitorStopped = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_MONITOR_STOPPED))
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL`: a handshake failed for an unspecified reason.
    public static let handshakeFailedNoDetail = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
    /// `ZMQ_EVENT_HANDSHAKE_SUCCEEDED`: the ZMTP handshake (and security mechanism) succeeded.
    public static let handshakeSucceeded = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL`: the peer violated the protocol; value is a `ZMQ_PROTOCOL_ERROR_*` code.
    public static let handshakeFailedProtocol = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`: authentication was rejected; value is the ZAP status code.
    public static let handshakeFailedAuth = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
    /// Any of the handshake failures.
    public static let handshakeFailed: MonitorEvents = [.handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth]
    /// `ZMQ_EVENT_ALL`: every event.
    public static let all = MonitorEvents(rawValue: UInt32(ZMQ_EVENT_ALL))
}

/// One event read from a monitor socket (see ``Socket/monitor(_:)``).
public struct MonitorEvent: Sendable, Hashable, CustomStringConvertible {
    /// The event (a single bit).
    public let event: MonitorEvents
    /// The event's value: an fd, an errno, an interval or a status, depending on the event.
    public let value: UInt32
    /// The endpoint the event concerns, e.g. `tcp://127.0.0.1:40001`.
    public let endpoint: String

    /// Creates an event.
    /// - Parameters:
    ///   - event: The event bit.
    ///   - value: The event's value.
    ///   - endpoint: The endpoint concerned.
    public init(event: MonitorEvents, value: UInt32, endpoint: String) {
        self.event = event
        self.value = value
        self.endpoint = endpoint
    }

    /// The event's raw code, value and endpoint.
    public var description: String {
        "event 0x\(String(event.rawValue, radix: 16)) value \(value) endpoint \(endpoint)"
    }

    /// Reads one event from a monitor socket, waiting up to `timeout` (`zmq_poll`, `zmq_msg_recv`).
    ///
    /// Parses the two-frame (version 1) monitor message: a 6-byte frame with a
    /// 16-bit event and 32-bit value in host byte order, then the endpoint.
    /// - Parameters:
    ///   - monitor: The PAIR socket returned by ``Socket/monitor(_:)``.
    ///   - timeout: How long to wait; `.zero` does not block.
    /// - Returns: The event, or `nil` if none arrived in time.
    /// - Throws: ``ZMQError`` on a receive failure, or ``ZMQError/Code/invalidArgument``
    ///   if the message is not a monitor event.
    public static func read(from monitor: borrowing Socket, timeout: Duration) throws -> MonitorEvent? {
        guard let frames = try monitor.receiveMultipart(timeout: timeout) else { return nil }
        guard frames.count == 2, frames[0].count == 6 else {
            throw ZMQError(
                code: .invalidArgument,
                operation: "read monitor event (got \(frames.count) frames, first of \(frames[0].count) bytes; expected 2 frames, first of 6 bytes)"
            )
        }
        let (event, value) = frames[0].withUnsafeBytes { bytes in
            (bytes.loadUnaligned(fromByteOffset: 0, as: UInt16.self),
             bytes.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        return MonitorEvent(event: MonitorEvents(rawValue: UInt32(event)), value: value, endpoint: frames[1].string)
    }
}
