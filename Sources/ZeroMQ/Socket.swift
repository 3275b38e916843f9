import CZeroMQ
import Foundation
import Synchronization

/// A ZeroMQ socket owned by exactly one variable (`zmq_socket` / `zmq_close`).
///
/// The socket is closed in `deinit` (or by ``close()``); libzmq then keeps
/// delivering pending outgoing messages according to the LINGER option
/// (``setLinger(_:)``), and the socket's ``Context`` cannot be terminated
/// before that, because the socket holds a strong reference to it.
///
/// libzmq sockets are not thread-safe, but may be migrated from one thread to
/// another with a full memory barrier in between. A non-copyable socket moved
/// (consumed) into another thread's closure is exactly such a migration, and
/// no second copy can remain behind, hence `@unchecked Sendable`.
public struct Socket: ~Copyable, @unchecked Sendable {
    /// The socket type it was created with.
    public let type: SocketType
    /// The `void *` returned by `zmq_socket`; never exposed publicly.
    @usableFromInline let handle: UnsafeMutableRawPointer
    /// Keeps the context alive until this socket has been closed.
    let context: Context

    init(context: Context, type: SocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError(code: lastErrorCode(), operation: "zmq_socket \(type)")
        }
        if context.socketAffinity != 0 {
            var mask = context.socketAffinity
            guard zmq_setsockopt(handle, ZMQ_AFFINITY, &mask, MemoryLayout<UInt64>.size) == 0 else {
                let code = lastErrorCode()
                zmq_close(handle)
                throw ZMQError(code: code, operation: "setsockopt ZMQ_AFFINITY=\(mask) on \(type) socket")
            }
        }
        self.type = type
        self.handle = handle
        self.context = context
    }

    deinit {
        // Fails only with ENOTSOCK, which cannot happen for an owned handle.
        zmq_close(handle)
    }

    /// Closes the socket now (`zmq_close`); pending messages are still sent according to LINGER.
    public consuming func close() {
        // Ending the lifetime of `self` runs deinit, which calls zmq_close.
    }

    // MARK: - Endpoints

    /// Binds the socket to a local endpoint (`zmq_bind`).
    /// - Parameters:
    ///   - endpoint: e.g. `tcp://127.0.0.1:*`, `ipc:///tmp/x.ipc`, `inproc://name`.
    /// - Throws: ``ZMQError`` naming the endpoint, e.g. ``ZMQError/Code/addressInUse``,
    ///   ``ZMQError/Code/invalidArgument``, ``ZMQError/Code/protocolNotSupported``.
    public func bind(_ endpoint: String) throws {
        try valueOrThrow("bind \(endpoint)") { zmq_bind(handle, endpoint) }
    }

    /// Connects the socket to a remote endpoint (`zmq_connect`); the connection is made in the background.
    /// - Parameters:
    ///   - endpoint: e.g. `tcp://127.0.0.1:5555`.
    /// - Throws: ``ZMQError`` naming the endpoint if it is malformed or its transport unsupported.
    public func connect(_ endpoint: String) throws {
        try valueOrThrow("connect \(endpoint)") { zmq_connect(handle, endpoint) }
    }

    /// Stops listening on an endpoint (`zmq_unbind`).
    /// - Parameters:
    ///   - endpoint: The endpoint as bound, or as reported by ``lastEndpoint`` for wildcard binds.
    /// - Throws: ``ZMQError`` naming the endpoint, e.g. ``ZMQError/Code/noSuchEntry`` if not bound.
    public func unbind(_ endpoint: String) throws {
        try valueOrThrow("unbind \(endpoint)") { zmq_unbind(handle, endpoint) }
    }

    /// Disconnects from an endpoint (`zmq_disconnect`).
    /// - Parameters:
    ///   - endpoint: The endpoint as connected.
    /// - Throws: ``ZMQError`` naming the endpoint, e.g. ``ZMQError/Code/noSuchEntry`` if not connected.
    public func disconnect(_ endpoint: String) throws {
        try valueOrThrow("disconnect \(endpoint)") { zmq_disconnect(handle, endpoint) }
    }

    /// The endpoint last bound or connected (`ZMQ_LAST_ENDPOINT`), with the real port after binding `tcp://host:*`.
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var lastEndpoint: String {
        get throws {
            let bytes = try bytesOption(ZMQ_LAST_ENDPOINT, "ZMQ_LAST_ENDPOINT", capacity: 1024)
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    // MARK: - Sending

    /// Queues one frame for sending, copying the bytes (`zmq_send`).
    /// - Parameters:
    ///   - bytes: The frame's content; may be empty.
    ///   - more: Set `ZMQ_SNDMORE`: more frames of the same message follow.
    ///   - dontWait: Set `ZMQ_DONTWAIT`: fail instead of blocking.
    /// - Returns: `false` only if `dontWait` is set and the frame cannot be queued now (`EAGAIN`).
    /// - Throws: ``ZMQError``; with `dontWait == false`, an expired SNDTIMEO throws ``ZMQError/Code/again``.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, more: Bool = false, dontWait: Bool = false) throws -> Bool {
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        switch retryOnInterrupt({ zmq_send(handle, bytes.baseAddress, bytes.count, flags) }) {
        case .success:
            return true
        case .failure(let code) where dontWait && code == .again:
            return false
        case .failure(let code):
            throw ZMQError(code: code, operation: "send \(bytes.count) bytes on \(type) socket")
        }
    }

    /// Queues one frame for sending (`zmq_send`).
    /// - Parameters:
    ///   - bytes: The frame's content; may be empty.
    ///   - more: More frames of the same message follow (`ZMQ_SNDMORE`).
    ///   - dontWait: Fail instead of blocking (`ZMQ_DONTWAIT`).
    /// - Returns: `false` only if `dontWait` is set and the frame cannot be queued now.
    /// - Throws: ``ZMQError`` on failure.
    @discardableResult
    public func send(_ bytes: [UInt8], more: Bool = false, dontWait: Bool = false) throws -> Bool {
        try bytes.withUnsafeBytes { try send($0, more: more, dontWait: dontWait) }
    }

    /// Queues a UTF-8 string as one frame (`zmq_send`), without a terminating NUL.
    /// - Parameters:
    ///   - string: The frame's content.
    ///   - more: More frames of the same message follow (`ZMQ_SNDMORE`).
    ///   - dontWait: Fail instead of blocking (`ZMQ_DONTWAIT`).
    /// - Returns: `false` only if `dontWait` is set and the frame cannot be queued now.
    /// - Throws: ``ZMQError`` on failure.
    @discardableResult
    public func send(_ string: String, more: Bool = false, dontWait: Bool = false) throws -> Bool {
        var string = string
        return try string.withUTF8 { try send(UnsafeRawBufferPointer($0), more: more, dontWait: dontWait) }
    }

    /// Queues `Data` as one frame (`zmq_send`).
    /// - Parameters:
    ///   - data: The frame's content.
    ///   - more: More frames of the same message follow (`ZMQ_SNDMORE`).
    ///   - dontWait: Fail instead of blocking (`ZMQ_DONTWAIT`).
    /// - Returns: `false` only if `dontWait` is set and the frame cannot be queued now.
    /// - Throws: ``ZMQError`` on failure.
    @discardableResult
    public func send(_ data: Data, more: Bool = false, dontWait: Bool = false) throws -> Bool {
        try data.withUnsafeBytes { try send($0, more: more, dontWait: dontWait) }
    }

    /// Sends all frames as one multipart message (`zmq_send` with `ZMQ_SNDMORE` on all but the last).
    ///
    /// `dontWait` applies to the first frame only: once libzmq accepts the first
    /// frame it accepts the rest of the message, which is delivered atomically.
    /// - Parameters:
    ///   - frames: The frames; must not be empty.
    ///   - dontWait: Return `false` instead of blocking if the message cannot be queued now.
    /// - Returns: `false` only if `dontWait` is set and the message cannot be queued now.
    /// - Throws: ``ZMQError`` on failure.
    @discardableResult
    public func sendMultipart(_ frames: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        precondition(!frames.isEmpty, "a multipart message needs at least one frame")
        let last = frames.count - 1
        for (index, frame) in frames.enumerated() {
            let sent = try send(frame, more: index < last, dontWait: dontWait && index == 0)
            if !sent { return false }
        }
        return true
    }

    // MARK: - Receiving

    /// Receives one frame of any size into a new ``Message`` (`zmq_msg_recv`).
    /// - Parameters:
    ///   - dontWait: Return `nil` at once if no frame is queued (`ZMQ_DONTWAIT`).
    /// - Returns: The frame, or `nil` if none is available (`dontWait`, or RCVTIMEO expired).
    /// - Throws: ``ZMQError``, e.g. ``ZMQError/Code/wrongState`` for a REQ socket that has not sent,
    ///   ``ZMQError/Code/terminated`` after the context was shut down.
    public func receive(dontWait: Bool = false) throws -> Message? {
        let message = Message()
        return try receive(into: message.storage.pointer, dontWait: dontWait) ? message : nil
    }

    /// `zmq_msg_recv` into `message`, retrying `EINTR`: every receive of a single frame goes through it.
    /// - Returns: `true` for a frame, `false` for none (`EAGAIN`: `dontWait`, or RCVTIMEO expired).
    @inlinable
    func receive(into message: UnsafeMutablePointer<zmq_msg_t>, dontWait: Bool) throws -> Bool {
        switch retryOnInterrupt({ zmq_msg_recv(message, handle, dontWait ? ZMQ_DONTWAIT : 0) }) {
        case .success:
            return true
        case .failure(let code) where code == .again:
            return false
        case .failure(let code):
            throw ZMQError(code: code, operation: "receive on \(type) socket")
        }
    }

    /// Waits up to `timeout` for a frame (`zmq_poll`, then `zmq_msg_recv`).
    /// - Parameters:
    ///   - timeout: How long to wait; `.zero` does not block.
    /// - Returns: The frame, or `nil` if none arrived in time.
    /// - Throws: ``ZMQError`` on failure.
    public func receive(timeout: Duration) throws -> Message? {
        try waitingUpTo(timeout) { () throws -> Message? in try receive(dontWait: true) }
    }

    /// Receives all frames of one multipart message (`zmq_msg_recv` until `more` is false).
    /// - Parameters:
    ///   - dontWait: Return `nil` at once if no message is queued.
    /// - Returns: The frames in order, or `nil` if no message is available.
    /// - Throws: ``ZMQError`` on failure.
    public func receiveMultipart(dontWait: Bool = false) throws -> [Message]? {
        guard let first = try receive(dontWait: dontWait) else { return nil }
        return try remainingFrames(after: first)
    }

    /// Waits up to `timeout` for one multipart message (`zmq_poll`, then `zmq_msg_recv`).
    /// - Parameters:
    ///   - timeout: How long to wait; `.zero` does not block.
    /// - Returns: The frames in order, or `nil` if no message arrived in time.
    /// - Throws: ``ZMQError`` on failure.
    public func receiveMultipart(timeout: Duration) throws -> [Message]? {
        guard let first = try receive(timeout: timeout) else { return nil }
        return try remainingFrames(after: first)
    }

    /// Collects the frames following `first`; libzmq delivers multipart messages
    /// atomically, so they are already queued.
    private func remainingFrames(after first: Message) throws -> [Message] {
        var frames = [first]
        while frames[frames.count - 1].more {
            guard let next = try receive(dontWait: true) else {
                throw ZMQError(code: .again, operation: "receive frame \(frames.count + 1) of a multipart message on \(type) socket")
            }
            frames.append(next)
        }
        return frames
    }

    /// Receives one frame and hands its bytes to `body` without copying or
    /// allocating (`zmq_msg_recv` into a `zmq_msg_t` on the stack, closed afterwards).
    ///
    /// The buffer is only valid inside `body`. Receiving again on the same
    /// socket from inside `body` is allowed (each call has its own message).
    /// - Parameters:
    ///   - dontWait: Return `nil` at once if no frame is queued (`ZMQ_DONTWAIT`).
    ///   - body: Gets the frame's bytes and whether more frames of the same message follow.
    /// - Returns: What `body` returns, or `nil` if no frame is available (`dontWait`, or RCVTIMEO expired).
    /// - Throws: ``ZMQError`` on failure, or what `body` throws.
    ///
    /// Inlinable: a reader calls it once per message, and an unspecialized
    /// generic call looks up `Optional<R>`'s metadata each time (about a
    /// tenth of the reader's instructions per message).
    @inlinable
    public func receive<R>(dontWait: Bool = false, _ body: (UnsafeRawBufferPointer, _ more: Bool) throws -> R) throws -> R? {
        var message = zmq_msg_t()
        return try withUnsafeMutablePointer(to: &message) { (msg) throws -> R? in
            zmq_msg_init(msg)
            defer { zmq_msg_close(msg) }
            guard try receive(into: msg, dontWait: dontWait) else { return nil }
            let bytes = UnsafeRawBufferPointer(start: zmq_msg_data(msg), count: zmq_msg_size(msg))
            return try body(bytes, zmq_msg_more(msg) != 0)
        }
    }

    /// Receives one frame into `buffer` (`zmq_msg_recv`), replacing what it held.
    ///
    /// No closure and no allocation: the hot loop of a reader calls it once
    /// per message and reads ``ReceiveBuffer/bytes`` afterwards.
    /// - Parameters:
    ///   - buffer: Where the frame goes; its previous frame is released, even when nothing arrives.
    ///   - dontWait: Return `false` at once if no frame is queued (`ZMQ_DONTWAIT`).
    /// - Returns: `true` if a frame was received; `false` if none is available (`dontWait`, or RCVTIMEO expired).
    /// - Throws: ``ZMQError`` on failure.
    @inlinable
    public func receive(into buffer: borrowing ReceiveBuffer, dontWait: Bool = false) throws -> Bool {
        try receive(into: buffer.message, dontWait: dontWait)
    }

    /// Waits up to `timeout` for a frame and hands its bytes to `body` (`zmq_poll`, then `zmq_msg_recv`).
    /// - Parameters:
    ///   - timeout: How long to wait; `.zero` does not block.
    ///   - body: Gets the frame's bytes (valid only inside `body`) and whether more frames follow.
    /// - Returns: What `body` returns, or `nil` if no frame arrived in time.
    /// - Throws: ``ZMQError`` on failure, or what `body` throws.
    public func receive<R>(timeout: Duration, _ body: (UnsafeRawBufferPointer, _ more: Bool) throws -> R) throws -> R? {
        try waitingUpTo(timeout) { () throws -> R? in try receive(dontWait: true, body) }
    }

    /// Tries `attempt`, then polls for readability until it yields a value or `timeout` passes.
    private func waitingUpTo<T>(_ timeout: Duration, _ attempt: () throws -> T?) throws -> T? {
        precondition(timeout >= .zero, "negative timeout \(timeout)")
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            if let value = try attempt() { return value }
            let remaining = clock.now.duration(to: deadline)
            if remaining <= .zero { return nil }
            if try !waitReadable(remaining) { return nil }
        }
    }

    /// Polls this socket for `ZMQ_POLLIN` (`zmq_poll`); `true` if readable or interrupted.
    private func waitReadable(_ timeout: Duration) throws -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let ms = Int(milliseconds(timeout))
        let rc = zmq_poll(&item, 1, ms)
        if rc == -1 {
            let code = lastErrorCode()
            if code == .interrupted { return true }  // the caller recomputes the remaining time
            throw ZMQError(code: code, operation: "zmq_poll on \(type) socket")
        }
        return rc > 0
    }

    // MARK: - Options

    /// Sets the send high water mark, in messages (`ZMQ_SNDHWM`; 0 = no limit).
    /// - Parameters:
    ///   - n: The limit; must not be negative.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setSendHighWaterMark(_ n: Int32) throws {
        precondition(n >= 0, "high water mark must be >= 0, got \(n)")
        try setOption(ZMQ_SNDHWM, n, "ZMQ_SNDHWM")
    }

    /// The send high water mark (`ZMQ_SNDHWM`, `zmq_getsockopt`).
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var sendHighWaterMark: Int32 { get throws { try int32Option(ZMQ_SNDHWM, "ZMQ_SNDHWM") } }

    /// Sets the receive high water mark, in messages (`ZMQ_RCVHWM`; 0 = no limit).
    /// - Parameters:
    ///   - n: The limit; must not be negative.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setReceiveHighWaterMark(_ n: Int32) throws {
        precondition(n >= 0, "high water mark must be >= 0, got \(n)")
        try setOption(ZMQ_RCVHWM, n, "ZMQ_RCVHWM")
    }

    /// The receive high water mark (`ZMQ_RCVHWM`, `zmq_getsockopt`).
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var receiveHighWaterMark: Int32 { get throws { try int32Option(ZMQ_RCVHWM, "ZMQ_RCVHWM") } }

    /// Sets how long pending messages are kept after close (`ZMQ_LINGER`).
    /// - Parameters:
    ///   - d: The linger period (`.zero` = drop at once); `nil` = wait forever.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setLinger(_ d: Duration?) throws {
        try setOption(ZMQ_LINGER, d.map(milliseconds) ?? -1, "ZMQ_LINGER")
    }

    /// The linger period (`ZMQ_LINGER`); `nil` means infinite.
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var linger: Duration? {
        get throws { Self.duration(fromMilliseconds: try int32Option(ZMQ_LINGER, "ZMQ_LINGER")) }
    }

    /// Keeps only the last message in the queues (`ZMQ_CONFLATE`); set before bind/connect.
    /// - Parameters:
    ///   - on: Whether to conflate.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setConflate(_ on: Bool) throws {
        try setOption(ZMQ_CONFLATE, on ? 1 : 0, "ZMQ_CONFLATE")
    }

    /// Subscribes a SUB socket to messages starting with `prefix` (`ZMQ_SUBSCRIBE`; empty = all).
    /// - Parameters:
    ///   - prefix: The prefix bytes.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails (e.g. not a SUB socket).
    public func subscribe(_ prefix: [UInt8]) throws {
        try prefix.withUnsafeBytes { try setOption(ZMQ_SUBSCRIBE, bytes: $0, "ZMQ_SUBSCRIBE") }
    }

    /// Subscribes a SUB socket to messages starting with the UTF-8 `prefix` (`ZMQ_SUBSCRIBE`; "" = all).
    /// - Parameters:
    ///   - prefix: The prefix.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func subscribe(_ prefix: String) throws {
        try subscribe(Array(prefix.utf8))
    }

    /// Removes a subscription made with ``subscribe(_:)-([UInt8])`` (`ZMQ_UNSUBSCRIBE`).
    /// - Parameters:
    ///   - prefix: The prefix bytes.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func unsubscribe(_ prefix: [UInt8]) throws {
        try prefix.withUnsafeBytes { try setOption(ZMQ_UNSUBSCRIBE, bytes: $0, "ZMQ_UNSUBSCRIBE") }
    }

    /// Removes a subscription made with ``subscribe(_:)-(String)`` (`ZMQ_UNSUBSCRIBE`).
    /// - Parameters:
    ///   - prefix: The prefix.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func unsubscribe(_ prefix: String) throws {
        try unsubscribe(Array(prefix.utf8))
    }

    /// Passes every subscription message, duplicates included, to an XPUB reader (`ZMQ_XPUB_VERBOSE`).
    /// - Parameters:
    ///   - on: Whether to pass duplicates.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setXPubVerbose(_ on: Bool) throws {
        try setOption(ZMQ_XPUB_VERBOSE, on ? 1 : 0, "ZMQ_XPUB_VERBOSE")
    }

    /// Makes an XPUB send fail with `EAGAIN` at the high water mark instead of dropping (`ZMQ_XPUB_NODROP`).
    /// - Parameters:
    ///   - on: Whether to refuse rather than drop.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setXPubNoDrop(_ on: Bool) throws {
        try setOption(ZMQ_XPUB_NODROP, on ? 1 : 0, "ZMQ_XPUB_NODROP")
    }

    /// Sets the kernel send buffer size (`ZMQ_SNDBUF`; -1 = OS default).
    /// - Parameters:
    ///   - bytes: The size in bytes.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setSendBufferSize(_ bytes: Int32) throws {
        try setOption(ZMQ_SNDBUF, bytes, "ZMQ_SNDBUF")
    }

    /// Sets the kernel receive buffer size (`ZMQ_RCVBUF`; -1 = OS default).
    /// - Parameters:
    ///   - bytes: The size in bytes.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setReceiveBufferSize(_ bytes: Int32) throws {
        try setOption(ZMQ_RCVBUF, bytes, "ZMQ_RCVBUF")
    }

    /// Disconnects peers that send larger messages (`ZMQ_MAXMSGSIZE`; -1 = no limit).
    /// Enforced on stream transports (tcp, ipc), not on inproc.
    /// - Parameters:
    ///   - bytes: The limit in bytes.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setMaxMessageSize(_ bytes: Int64) throws {
        precondition(bytes >= -1, "max message size must be >= -1, got \(bytes)")
        try setOption64(ZMQ_MAXMSGSIZE, bytes, "ZMQ_MAXMSGSIZE")
    }

    /// The I/O threads this socket's connections made from now on may run in
    /// (`ZMQ_AFFINITY`): bit *n* is the context's thread *n*; 0 means any.
    /// - Parameters:
    ///   - mask: The threads' bits.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setAffinity(_ mask: UInt64) throws {
        try setOption64(ZMQ_AFFINITY, Int64(bitPattern: mask), "ZMQ_AFFINITY")
    }

    /// The maximum inbound message size (`ZMQ_MAXMSGSIZE`; -1 = no limit).
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var maxMessageSize: Int64 { get throws { try int64Option(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE") } }

    /// Makes a blocking receive give up after `d` (`ZMQ_RCVTIMEO`); the receive then returns `nil`.
    /// - Parameters:
    ///   - d: The timeout; `nil` = block forever.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setReceiveTimeout(_ d: Duration?) throws {
        try setOption(ZMQ_RCVTIMEO, d.map(milliseconds) ?? -1, "ZMQ_RCVTIMEO")
    }

    /// The receive timeout (`ZMQ_RCVTIMEO`); `nil` means infinite.
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var receiveTimeout: Duration? {
        get throws { Self.duration(fromMilliseconds: try int32Option(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO")) }
    }

    /// Makes a blocking send give up after `d` (`ZMQ_SNDTIMEO`); the send then throws ``ZMQError/Code/again``.
    /// - Parameters:
    ///   - d: The timeout; `nil` = block forever.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setSendTimeout(_ d: Duration?) throws {
        try setOption(ZMQ_SNDTIMEO, d.map(milliseconds) ?? -1, "ZMQ_SNDTIMEO")
    }

    /// The send timeout (`ZMQ_SNDTIMEO`); `nil` means infinite.
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var sendTimeout: Duration? {
        get throws { Self.duration(fromMilliseconds: try int32Option(ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO")) }
    }

    /// Sets the identity a ROUTER peer sees for this socket (`ZMQ_ROUTING_ID`); set before connecting.
    /// - Parameters:
    ///   - id: 1 to 255 bytes, not starting with a zero byte.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setRoutingID(_ id: [UInt8]) throws {
        try id.withUnsafeBytes { try setOption(ZMQ_ROUTING_ID, bytes: $0, "ZMQ_ROUTING_ID") }
    }

    /// The routing id (`ZMQ_ROUTING_ID`); empty if none was set.
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var routingID: [UInt8] {
        get throws { try bytesOption(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", capacity: 255) }
    }

    /// Makes a ROUTER fail with ``ZMQError/Code/hostUnreachable`` for unknown peers instead of dropping (`ZMQ_ROUTER_MANDATORY`).
    /// - Parameters:
    ///   - on: Whether unroutable messages are an error.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setRouterMandatory(_ on: Bool) throws {
        try setOption(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
    }

    /// Queues messages only to completed connections (`ZMQ_IMMEDIATE`).
    /// - Parameters:
    ///   - on: Whether to wait for completed connections.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setImmediate(_ on: Bool) throws {
        try setOption(ZMQ_IMMEDIATE, on ? 1 : 0, "ZMQ_IMMEDIATE")
    }

    /// Sets the initial reconnection interval (`ZMQ_RECONNECT_IVL`).
    /// - Parameters:
    ///   - d: The interval.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setReconnectInterval(_ d: Duration) throws {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds(d), "ZMQ_RECONNECT_IVL")
    }

    /// Makes this socket a CURVE server (`ZMQ_CURVE_SERVER`); also set ``setCurveSecretKey(_:)``.
    /// - Parameters:
    ///   - on: Whether to act as CURVE server.
    /// - Throws: ``ZMQError``, e.g. ``ZMQError/Code/invalidArgument`` if libzmq lacks CURVE.
    public func setCurveServer(_ on: Bool) throws {
        try setOption(ZMQ_CURVE_SERVER, on ? 1 : 0, "ZMQ_CURVE_SERVER")
    }

    /// Sets this socket's long-term public key (`ZMQ_CURVE_PUBLICKEY`).
    /// - Parameters:
    ///   - z85: The key as 40 Z85 characters (see ``CurveKeyPair``).
    /// - Throws: ``ZMQError/Code/invalidArgument`` for a malformed key.
    public func setCurvePublicKey(_ z85: String) throws {
        try Array(z85.utf8).withUnsafeBytes { try setOption(ZMQ_CURVE_PUBLICKEY, bytes: $0, "ZMQ_CURVE_PUBLICKEY") }
    }

    /// Sets this socket's long-term secret key (`ZMQ_CURVE_SECRETKEY`).
    /// - Parameters:
    ///   - z85: The key as 40 Z85 characters.
    /// - Throws: ``ZMQError/Code/invalidArgument`` for a malformed key.
    public func setCurveSecretKey(_ z85: String) throws {
        try Array(z85.utf8).withUnsafeBytes { try setOption(ZMQ_CURVE_SECRETKEY, bytes: $0, "ZMQ_CURVE_SECRETKEY") }
    }

    /// Sets the server's public key a CURVE client expects (`ZMQ_CURVE_SERVERKEY`); makes this socket a CURVE client.
    /// - Parameters:
    ///   - z85: The key as 40 Z85 characters.
    /// - Throws: ``ZMQError/Code/invalidArgument`` for a malformed key.
    public func setCurveServerKey(_ z85: String) throws {
        try Array(z85.utf8).withUnsafeBytes { try setOption(ZMQ_CURVE_SERVERKEY, bytes: $0, "ZMQ_CURVE_SERVERKEY") }
    }

    /// Names the ZAP domain of this socket (`ZMQ_ZAP_DOMAIN`): a server's ZAP
    /// handler is told it with each request, so it knows which socket is asked.
    /// - Parameters:
    ///   - domain: The domain, at most 255 bytes.
    /// - Throws: ``ZMQError`` if `zmq_setsockopt` fails.
    public func setZAPDomain(_ domain: String) throws {
        try Array(domain.utf8).withUnsafeBytes { try setOption(ZMQ_ZAP_DOMAIN, bytes: $0, "ZMQ_ZAP_DOMAIN") }
    }

    /// Whether the last frame received has more frames following (`ZMQ_RCVMORE`).
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var hasMore: Bool { get throws { try int32Option(ZMQ_RCVMORE, "ZMQ_RCVMORE") != 0 } }

    /// The file descriptor that signals pending events (`ZMQ_FD`); edge-triggered, check ``hasMore``/receive with `dontWait` after it fires.
    /// - Throws: ``ZMQError`` if `zmq_getsockopt` fails.
    public var fileDescriptor: Int32 { get throws { try int32Option(ZMQ_FD, "ZMQ_FD") } }

    // MARK: - Monitoring

    /// Starts monitoring this socket (`zmq_socket_monitor`) and returns a PAIR
    /// socket connected to the monitor's unique `inproc://` endpoint.
    ///
    /// Read events from it with ``MonitorEvent/read(from:timeout:)``. The PAIR
    /// socket has LINGER 0 and no receive limit: libzmq's I/O thread sends
    /// each event with a blocking send, so a full monitor queue would stall
    /// every connection of the context until the events are read. Read them
    /// regularly; each is a few dozen bytes.
    /// - Parameters:
    ///   - events: The events to report.
    /// - Returns: The connected PAIR socket.
    /// - Throws: ``ZMQError`` if the monitor cannot be started or connected.
    public func monitor(_ events: MonitorEvents = .all) throws -> Socket {
        let endpoint = try startMonitor(events)
        let pair = try context.socket(.pair)
        try pair.setLinger(.zero)
        try pair.setReceiveHighWaterMark(0)
        try pair.connect(endpoint)
        return pair
    }

    /// Starts monitoring this socket (`zmq_socket_monitor`) on a unique
    /// `inproc://` endpoint, for a PAIR socket of the same context to connect
    /// to, on any thread (events sent before it connects are lost).
    /// - Parameters:
    ///   - events: The events to report.
    /// - Returns: The endpoint.
    /// - Throws: ``ZMQError`` if the monitor cannot be started.
    public func startMonitor(_ events: MonitorEvents) throws -> String {
        let endpoint = "inproc://clustersim.zeromq.monitor.\(monitorSequence.add(1, ordering: .relaxed).newValue)"
        try valueOrThrow("zmq_socket_monitor \(endpoint)") {
            zmq_socket_monitor(handle, endpoint, Int32(bitPattern: events.rawValue))
        }
        return endpoint
    }

    // MARK: - Option helpers

    private func setOption(_ option: Int32, _ value: Int32, _ name: StaticString) throws(ZMQError) {
        var value = value
        try valueOrThrow("setsockopt \(name)=\(value) on \(type) socket") {
            zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size)
        }
    }

    private func setOption64(_ option: Int32, _ value: Int64, _ name: StaticString) throws(ZMQError) {
        var value = value
        try valueOrThrow("setsockopt \(name)=\(value) on \(type) socket") {
            zmq_setsockopt(handle, option, &value, MemoryLayout<Int64>.size)
        }
    }

    private func setOption(_ option: Int32, bytes: UnsafeRawBufferPointer, _ name: StaticString) throws(ZMQError) {
        try valueOrThrow("setsockopt \(name) (\(bytes.count) bytes) on \(type) socket") {
            zmq_setsockopt(handle, option, bytes.baseAddress, bytes.count)
        }
    }

    private func int32Option(_ option: Int32, _ name: StaticString) throws(ZMQError) -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try valueOrThrow("getsockopt \(name) on \(type) socket") { zmq_getsockopt(handle, option, &value, &size) }
        return value
    }

    private func int64Option(_ option: Int32, _ name: StaticString) throws(ZMQError) -> Int64 {
        var value: Int64 = 0
        var size = MemoryLayout<Int64>.size
        try valueOrThrow("getsockopt \(name) on \(type) socket") { zmq_getsockopt(handle, option, &value, &size) }
        return value
    }

    private func bytesOption(_ option: Int32, _ name: StaticString, capacity: Int) throws(ZMQError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try valueOrThrow("getsockopt \(name) on \(type) socket") {
            buffer.withUnsafeMutableBytes { zmq_getsockopt(handle, option, $0.baseAddress, &size) }
        }
        buffer.removeLast(capacity - min(size, capacity))
        return buffer
    }

    private static func duration(fromMilliseconds ms: Int32) -> Duration? {
        ms < 0 ? nil : .milliseconds(ms)
    }
}

/// Numbers the monitor endpoints of this process so each is unique.
private let monitorSequence = Atomic<Int>(0)
