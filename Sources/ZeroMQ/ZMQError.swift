import CZeroMQ

/// An error reported by libzmq: the errno it set and the operation that failed.
///
/// Match a specific code with `catch ZMQError.Code.again` (or `catch .again`
/// where the type is known), or inspect ``code`` directly.
public struct ZMQError: Error, Hashable, CustomStringConvertible, Sendable {
    /// An errno value as reported by `zmq_errno`, with names for the values libzmq uses.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The raw errno value.
        public var rawValue: Int32

        /// Creates a code from a raw errno value.
        /// - Parameters:
        ///   - rawValue: The errno value.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// Creates a code from a raw errno value.
        /// - Parameters:
        ///   - rawValue: The errno value.
        public init(_ rawValue: Int32) { self.rawValue = rawValue }

        /// The message `zmq_strerror` gives for this code, e.g. "Address already in use".
        public var description: String { String(cString: zmq_strerror(rawValue)) }

        /// `EAGAIN`: no message available, or a send would block (timeout or `dontWait`).
        public static let again = Code(czmq_eagain())
        /// `EINTR`: the call was interrupted by a signal.
        public static let interrupted = Code(czmq_eintr())
        /// `ETERM`: the context was terminated or shut down.
        public static let terminated = Code(czmq_eterm())
        /// `EADDRINUSE`: the address is already bound.
        public static let addressInUse = Code(czmq_eaddrinuse())
        /// `EADDRNOTAVAIL`: the address is not local.
        public static let addressNotAvailable = Code(czmq_eaddrnotavail())
        /// `EINVAL`: an invalid argument, e.g. a malformed endpoint.
        public static let invalidArgument = Code(czmq_einval())
        /// `EPROTONOSUPPORT`: the transport of an endpoint is not supported.
        public static let protocolNotSupported = Code(czmq_eprotonosupport())
        /// `ENODEV`: the interface named in an endpoint does not exist.
        public static let noDevice = Code(czmq_enodev())
        /// `ENOTSUP`: the operation is not supported by this socket type or build.
        public static let notSupported = Code(czmq_enotsup())
        /// `EMSGSIZE`: the message is too large.
        public static let messageTooLarge = Code(czmq_emsgsize())
        /// `EFSM`: the operation is not allowed in the socket's current state (e.g. REQ receive before send).
        public static let wrongState = Code(czmq_efsm())
        /// `EHOSTUNREACH`: the message cannot be routed (e.g. ROUTER_MANDATORY with an unknown peer).
        public static let hostUnreachable = Code(czmq_ehostunreach())
        /// `ENOTSOCK`: the handle is not a valid socket.
        public static let notSocket = Code(czmq_enotsock())
        /// `ENOCOMPATPROTO`: the transport is not compatible with the socket type.
        public static let incompatibleProtocol = Code(czmq_enocompatproto())
        /// `EMTHREAD`: no I/O thread is available.
        public static let noThreadAvailable = Code(czmq_emthread())
        /// `EFAULT`: an invalid handle or address was passed.
        public static let badAddress = Code(czmq_efault())
        /// `ENOMEM`: out of memory.
        public static let noMemory = Code(czmq_enomem())
        /// `EMFILE`: too many open files or sockets.
        public static let tooManyOpenFiles = Code(czmq_emfile())
        /// `ENOENT`: a named endpoint does not exist (e.g. unbinding an unknown endpoint).
        public static let noSuchEntry = Code(czmq_enoent())
        /// `ECONNREFUSED`: the peer refused the connection.
        public static let connectionRefused = Code(czmq_econnrefused())

        /// Matches a ``ZMQError`` with this code, so `catch ZMQError.Code.again` works.
        /// - Parameters:
        ///   - code: The code to match.
        ///   - error: The thrown error.
        /// - Returns: `true` if `error` is a ``ZMQError`` whose code is `code`.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? ZMQError)?.code == code
        }

        /// Matches a ``ZMQError`` with this code, for typed `throws(ZMQError)` contexts.
        /// - Parameters:
        ///   - code: The code to match.
        ///   - error: The error.
        /// - Returns: `true` if the error's code is `code`.
        public static func ~= (code: Code, error: ZMQError) -> Bool {
            error.code == code
        }
    }

    /// The errno reported by libzmq.
    public let code: Code
    /// What was being done, e.g. `bind tcp://127.0.0.1:5555`.
    public let operation: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The errno reported by libzmq.
    ///   - operation: What was being done, including the endpoint or option involved.
    public init(code: Code, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The operation followed by the `zmq_strerror` text, e.g.
    /// `bind tcp://127.0.0.1:5555: Address already in use`.
    public var description: String { "\(operation): \(code.description)" }
}

// MARK: - Calling libzmq

/// The errno of the last libzmq call on this thread (`zmq_errno`).
@inlinable
func lastErrorCode() -> ZMQError.Code { ZMQError.Code(czmq_errno()) }

/// The outcome of a libzmq call: its result, or the errno it failed with.
@usableFromInline
enum CallResult {
    case success(Int32)
    case failure(ZMQError.Code)
}

/// Calls `body` until it does not fail with `EINTR`.
///
/// - Parameters:
///   - body: A libzmq call returning -1 on failure.
/// - Returns: The call's result, or the errno read immediately after the failing call.
@inlinable
func retryOnInterrupt(_ body: () -> Int32) -> CallResult {
    while true {
        let result = body()
        if result != -1 { return .success(result) }
        let code = lastErrorCode()
        if code != .interrupted { return .failure(code) }
    }
}

/// Calls `body` (retrying `EINTR`) and throws a ``ZMQError`` describing `operation` on failure.
///
/// - Parameters:
///   - operation: Built only on failure, e.g. `"bind \(endpoint)"`.
///   - body: A libzmq call returning -1 on failure.
/// - Returns: The call's non-negative result.
/// - Throws: ``ZMQError`` with the errno of the failing call.
@inline(__always)
@discardableResult
func valueOrThrow(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    switch retryOnInterrupt(body) {
    case .success(let value): return value
    case .failure(let code): throw ZMQError(code: code, operation: operation())
    }
}

/// Converts a duration to whole milliseconds, rounding up so a tiny positive
/// timeout never becomes a busy zero, clamped to `Int32.max`.
func milliseconds(_ duration: Duration) -> Int32 {
    precondition(duration >= .zero, "negative duration \(duration)")
    let (seconds, attoseconds) = duration.components
    let perMillisecond: Int64 = 1_000_000_000_000_000
    var ms = attoseconds / perMillisecond
    if attoseconds % perMillisecond != 0 { ms += 1 }
    let (product, overflow1) = seconds.multipliedReportingOverflow(by: 1000)
    let (total, overflow2) = product.addingReportingOverflow(ms)
    if overflow1 || overflow2 || total > Int64(Int32.max) { return Int32.max }
    return Int32(total)
}
