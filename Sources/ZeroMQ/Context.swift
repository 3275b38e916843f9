import CZeroMQ

/// The kind of a ZeroMQ socket (`ZMQ_PUB`, `ZMQ_SUB`, ...).
public enum SocketType: Sendable, Hashable, CustomStringConvertible {
    /// `ZMQ_PUB`: publishes to all subscribers.
    case pub
    /// `ZMQ_SUB`: receives what publishers send, filtered by subscribed prefixes.
    case sub
    /// `ZMQ_XPUB`: like PUB, but also receives subscription messages.
    case xpub
    /// `ZMQ_XSUB`: like SUB, but subscribes by sending subscription messages.
    case xsub
    /// `ZMQ_ROUTER`: addresses peers by routing id (first frame).
    case router
    /// `ZMQ_DEALER`: load-balances outgoing, fair-queues incoming messages.
    case dealer
    /// `ZMQ_PUSH`: load-balances messages to pullers.
    case push
    /// `ZMQ_PULL`: fair-queues messages from pushers.
    case pull
    /// `ZMQ_PAIR`: exclusive connection to one peer.
    case pair
    /// `ZMQ_REQ`: strict send/receive alternation, client side.
    case req
    /// `ZMQ_REP`: strict receive/send alternation, server side.
    case rep

    /// The libzmq constant for this type.
    var rawValue: Int32 {
        switch self {
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pair: ZMQ_PAIR
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        }
    }

    /// The upper-case libzmq name, e.g. `PUB`.
    public var description: String {
        switch self {
        case .pub: "PUB"
        case .sub: "SUB"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        case .router: "ROUTER"
        case .dealer: "DEALER"
        case .push: "PUSH"
        case .pull: "PULL"
        case .pair: "PAIR"
        case .req: "REQ"
        case .rep: "REP"
        }
    }
}

/// A libzmq context: the I/O threads and the namespace of `inproc://` endpoints.
///
/// Every ``Socket`` keeps its context alive, so the context is terminated
/// (`zmq_ctx_term`) only after the last of its sockets has been closed. Its
/// deinit therefore blocks only while closed sockets flush pending messages
/// according to their LINGER option.
///
/// libzmq contexts are thread-safe (all `zmq_ctx_*` calls and `zmq_socket`
/// may be used from any thread), hence `@unchecked Sendable`.
public final class Context: @unchecked Sendable {
    /// The `void *` returned by `zmq_ctx_new`; never exposed publicly.
    let handle: UnsafeMutableRawPointer

    /// The `ZMQ_AFFINITY` every socket of this context starts with (0: any I/O thread).
    public let socketAffinity: UInt64

    /// Creates a context (`zmq_ctx_new`, then `zmq_ctx_set(ZMQ_IO_THREADS)`).
    /// - Parameters:
    ///   - ioThreads: Number of libzmq I/O threads; must not be negative.
    ///   - socketAffinity: The I/O threads (bit *n*: thread *n*) the connections of
    ///     every socket made here may run in, unless the socket sets its own
    ///     (``Socket/setAffinity(_:)``); 0, the default, means any. With one
    ///     thread kept out of it, a socket given only that thread has it to itself.
    /// - Throws: ``ZMQError`` if libzmq cannot create the context or set the thread count.
    public init(ioThreads: Int = 1, socketAffinity: UInt64 = 0) throws {
        self.socketAffinity = socketAffinity
        precondition(ioThreads >= 0 && ioThreads <= Int(Int32.max), "ioThreads must be >= 0, got \(ioThreads)")
        guard let handle = zmq_ctx_new() else {
            throw ZMQError(code: lastErrorCode(), operation: "zmq_ctx_new")
        }
        if ioThreads != 1 {
            let rc = zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(ioThreads))
            if rc != 0 {
                let code = lastErrorCode()
                zmq_ctx_term(handle)
                throw ZMQError(code: code, operation: "zmq_ctx_set ZMQ_IO_THREADS \(ioThreads)")
            }
        }
        self.handle = handle
    }

    deinit {
        // All sockets hold a strong reference, so all are closed by now.
        _ = retryOnInterrupt { zmq_ctx_term(handle) }
    }

    /// Creates a socket of the given type in this context (`zmq_socket`).
    /// - Parameters:
    ///   - type: The socket type.
    /// - Returns: An owned socket that keeps this context alive.
    /// - Throws: ``ZMQError`` (e.g. ``ZMQError/Code/terminated``, ``ZMQError/Code/tooManyOpenFiles``).
    public func socket(_ type: SocketType) throws -> Socket {
        try Socket(context: self, type: type)
    }

    /// Makes blocking operations on this context's sockets fail with
    /// ``ZMQError/Code/terminated`` (`zmq_ctx_shutdown`); useful to stop a
    /// thread blocked in a receive. Sockets must still be closed.
    /// - Throws: ``ZMQError`` if libzmq rejects the call.
    public func shutdown() throws {
        try valueOrThrow("zmq_ctx_shutdown") { zmq_ctx_shutdown(handle) }
    }

    /// The libzmq version linked at run time (`zmq_version`).
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }

    /// Whether libzmq was built with a capability (`zmq_has`), e.g. `"curve"`, `"ipc"`.
    /// - Parameters:
    ///   - capability: The capability name as documented for `zmq_has`.
    /// - Returns: `true` if the capability is available.
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
