import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// A publisher that speaks ZMTP 3.0 (RFC 23, NULL mechanism) itself, on the
/// caller's thread: no libzmq socket, no I/O thread.
///
/// A libzmq PUB hands every frame from the caller's thread to an I/O thread,
/// which writes it to each subscriber: two threads, and a wake-up between
/// them, per frame. This writes each frame to every subscriber from the
/// thread that sends it, with one `send()` per subscriber and no copy into
/// a queue while the subscriber keeps up. It has PUB's semantics: each
/// subscriber gets the frames that match one of its subscriptions (a prefix;
/// the empty one matches every frame), and a subscriber whose frames are
/// not taken by its connection queues at most ``highWaterMark`` of them;
/// beyond that its frames are dropped (counted in ``dropped``), as libzmq's
/// PUB drops at its high-water mark. A frame is never cut: what the kernel
/// did not take of one is written first when the connection can take more.
///
/// It talks to any ZMTP 3.x SUB or XSUB peer (libzmq's, ``DirectSubscriber``):
/// it announces version 3.0, so a peer sends its subscriptions as messages
/// (`0x01` + prefix; `0x00` + prefix cancels one); the ZMTP 3.1 SUBSCRIBE
/// and CANCEL commands are understood too, and a PING is answered. What it
/// does not do: CURVE or any mechanism but NULL (a peer asking for another
/// is refused, counted in ``handshakeFailures``), multi-part messages.
/// A peer's frame above `maxMessageSize` ends its connection.
///
/// ``fileDescriptor`` (an epoll instance holding the listening socket and
/// every connection) becomes readable when one of them needs attention:
/// poll it beside other sockets and call ``service()`` when it is.
///
/// Not thread-safe: one thread uses it.
public final class DirectPublisher {
    /// The endpoint bound, with the port the system chose for `*` or 0.
    public private(set) var endpoint: String
    /// Frames queued per subscriber, beyond what its connection took, before its frames are dropped (0 when made: no limit).
    public let highWaterMark: Int
    /// The largest frame a peer may send (its subscriptions).
    public let maxMessageSize: Int
    /// Subscribers past the handshake.
    public var subscribers: Int { connections.reduce(0) { $0 + ($1.stage == .streaming ? 1 : 0) } }
    /// Connections accepted.
    public private(set) var accepted: UInt64 = 0
    /// Connections that ended (the peer closed, an error, a refused handshake, an oversized frame).
    public private(set) var disconnects: UInt64 = 0
    /// Handshakes refused: a peer that is not ZMTP 3, not NULL, or not a subscriber.
    public private(set) var handshakeFailures: UInt64 = 0
    /// Frames not delivered to a subscriber because its queue was full, summed over subscribers.
    public private(set) var dropped: UInt64 = 0
    /// Frames sent: each call of ``send(_:)``, whatever it reached.
    public private(set) var framesSent: UInt64 = 0
    /// What ended the last connection, for a log line; nil while none has ended.
    public private(set) var lastError: String?

    private let listener: Int32
    private let epoll: Int32
    private let unlinkPath: String?
    private var connections: [Connection] = []
    private var scratch: UnsafeMutableRawPointer
    private var scratchCapacity = 64 * 1024

    /// A connection and where its handshake is.
    final class Connection {
        /// -1 once it ended.
        var fd: Int32
        var stage = Stage.greeting
        var input: [UInt8] = []
        /// Frames (whole, or the rest of one) the kernel has not taken; the first from `offset`.
        var queue: [[UInt8]] = []
        var offset = 0
        var everyFrame = false
        var prefixes: [[UInt8]] = []

        init(fd: Int32) { self.fd = fd }

        func matches(_ frame: UnsafeRawBufferPointer) -> Bool {
            if everyFrame { return true }
            for p in prefixes where p.count <= frame.count {
                if p.withUnsafeBytes({ memcmp($0.baseAddress!, frame.baseAddress!, p.count) == 0 }) { return true }
            }
            return false
        }
    }

    enum Stage { case greeting, ready, streaming }

    /// Binds `endpoint`: `tcp://HOST:PORT` (HOST an address, a name, or `*`
    /// for every interface; PORT a number, or `*` for one the system picks)
    /// or `ipc://PATH` (a file left at PATH is replaced, as libzmq does).
    /// - Throws: ``DirectPublisher/Failure`` naming the endpoint and the reason.
    public init(endpoint: String, highWaterMark: Int, maxMessageSize: Int = 4096, sendBufferBytes: Int32? = nil) throws {
        // Everything that can fail comes first, so that nothing is left half made.
        let ep = csim_epoll_create()
        guard ep >= 0 else { throw Failure(endpoint: endpoint, reason: "epoll_create1: \(Self.errnoText())") }
        let (fd, path): (Int32, String?)
        do {
            (fd, path) = try Self.listen(endpoint)
        } catch {
            Glibc.close(ep)
            throw error
        }
        self.highWaterMark = highWaterMark > 0 ? highWaterMark : Int.max
        self.maxMessageSize = maxMessageSize
        self.sendBufferBytes = sendBufferBytes
        listener = fd
        unlinkPath = path
        epoll = ep
        scratch = .allocate(byteCount: 64 * 1024, alignment: 16)
        self.endpoint = Self.boundEndpoint(fd, asked: endpoint)
        watch(listener, writable: false, add: true)
    }

    private let sendBufferBytes: Int32?

    deinit { close() }

    /// Closes every connection and the listening socket.
    public func close() {
        guard !closed else { return }
        closed = true
        for c in connections { Glibc.close(c.fd) }
        connections.removeAll()
        Glibc.close(listener)
        Glibc.close(epoll)
        if let p = unlinkPath { unlink(p) }
        scratch.deallocate()
    }

    private var closed = false

    /// Readable when a connection or the listening socket needs ``service()``.
    public var fileDescriptor: Int32 { epoll }

    /// A bind that failed, or an endpoint that cannot be bound.
    public struct Failure: Error, CustomStringConvertible {
        public let endpoint: String
        public let reason: String
        public var description: String { "direct publisher: \(endpoint): \(reason)" }
    }

    // MARK: - Sending

    /// Sends one frame to every subscriber whose subscriptions match it.
    /// Never blocks: a subscriber whose connection is full gets the frame
    /// queued, or dropped past the high-water mark.
    /// - Returns: the subscribers the frame was written or queued for.
    @discardableResult
    public func send(_ body: UnsafeRawBufferPointer) -> Int {
        let header = body.count > 255 ? 9 : 2
        let length = header + body.count
        if length > scratchCapacity {
            scratch.deallocate()
            scratchCapacity = max(length, scratchCapacity * 2)
            scratch = .allocate(byteCount: scratchCapacity, alignment: 16)
        }
        if header == 2 {
            scratch.storeBytes(of: 0, as: UInt8.self)
            scratch.storeBytes(of: UInt8(body.count), toByteOffset: 1, as: UInt8.self)
        } else {
            scratch.storeBytes(of: 0x02, as: UInt8.self)
            var size = UInt64(body.count).bigEndian
            withUnsafeBytes(of: &size) { (scratch + 1).copyMemory(from: $0.baseAddress!, byteCount: 8) }
        }
        if body.count > 0 { (scratch + header).copyMemory(from: body.baseAddress!, byteCount: body.count) }
        framesSent += 1
        let frame = UnsafeRawBufferPointer(start: scratch, count: length)
        var reached = 0
        var failed = false
        for c in connections where c.stage == .streaming && c.matches(body) {
            if !c.queue.isEmpty {
                if c.queue.count >= highWaterMark {
                    dropped += 1
                } else {
                    c.queue.append(Array(frame))
                    reached += 1
                }
                continue
            }
            let n = Glibc.send(c.fd, frame.baseAddress, length, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            if n == length {
                reached += 1
            } else if n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK {
                c.queue.append(Array(frame))
                c.offset = max(0, n)
                reached += 1
                watch(c.fd, writable: true)   // until flush(_:) has written the queue
            } else {
                failed = true
                end(c, reason: "send: \(Self.errnoText())")
            }
        }
        if failed { connections.removeAll { $0.fd < 0 } }
        return reached
    }

    /// Frames queued for subscribers whose connections have not taken them yet.
    public var queuedFrames: Int { connections.reduce(0) { $0 + $1.queue.count } }

    /// Writes what waits until every queue is empty or `timeoutNanos` has
    /// passed, as libzmq's linger does before a socket closes; then each
    /// connection with frames left is closed (a frame cut short cannot be
    /// taken back) and its frames are counted in ``dropped``. Blocks for at
    /// most the timeout.
    /// - Returns: whether every queue was emptied.
    @discardableResult
    public func drain(timeoutNanos: UInt64) -> Bool {
        let deadline = DirectSubscriber.monotonicNanos() + timeoutNanos
        while queuedFrames > 0 {
            let now = DirectSubscriber.monotonicNanos()
            guard now < deadline else { break }
            var p = pollfd(fd: epoll, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(min(100, (deadline - now) / 1_000_000 + 1)))
            service()
        }
        let left = queuedFrames
        for c in connections where !c.queue.isEmpty {
            dropped += UInt64(c.queue.count)
            end(c, reason: "closing with \(c.queue.count) frames it had not taken")
        }
        connections.removeAll { $0.fd < 0 }
        return left == 0
    }

    // MARK: - Service

    /// Accepts connections, moves handshakes on, reads subscriptions and
    /// writes what waits for connections that can take it. Never blocks.
    public func service() {
        guard !closed else { return }
        var fds = [Int32](repeating: 0, count: 64)
        var flags = [Int32](repeating: 0, count: 64)
        while true {
            let n = csim_epoll_ready(epoll, &fds, &flags, 64)
            guard n > 0 else { return }
            for i in 0..<Int(n) {
                if fds[i] == listener {
                    acceptAll()
                    continue
                }
                guard let c = connections.first(where: { $0.fd == fds[i] }) else { continue }
                if flags[i] & 2 != 0 { flush(c) }
                if c.fd >= 0, flags[i] & 1 != 0 { readFrom(c) }
            }
            connections.removeAll { $0.fd < 0 }
            if n < 64 { return }
        }
    }

    private func acceptAll() {
        while true {
            let fd = csim_accept(listener)
            guard fd >= 0 else { return }
            if var b = sendBufferBytes {
                _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, socklen_t(MemoryLayout<Int32>.size))
            }
            accepted += 1
            let c = Connection(fd: fd)
            connections.append(c)
            watch(fd, writable: false, add: true)
            // The greeting (64 bytes: signature, version 3.0, NULL, not a
            // server) and READY as PUB: small enough for a fresh socket's buffer.
            var out = [UInt8](repeating: 0, count: 64)
            out[0] = 0xFF
            out[9] = 0x7F
            out[10] = 3
            out.replaceSubrange(12..<16, with: Array("NULL".utf8))
            out += DirectSubscriber.command([5] + Array("READY".utf8) + Self.metadata)
            let n = out.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if n != out.count { end(c, reason: "greeting: \(n < 0 ? Self.errnoText() : "a short write")") }
        }
    }

    /// The properties a PUB announces: `Socket-Type` `PUB`.
    static let metadata: [UInt8] = [11] + Array("Socket-Type".utf8) + [0, 0, 0, 3] + Array("PUB".utf8)

    private func readFrom(_ c: Connection) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while c.fd >= 0 {
            let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { return end(c, reason: "the peer closed") }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                if errno == EINTR { continue }
                return end(c, reason: "recv: \(Self.errnoText())")
            }
            c.input += buffer[0..<n]
            parse(c)
            if n < buffer.count { return }
        }
    }

    /// Moves through the peer's greeting and READY, then takes its subscriptions.
    private func parse(_ c: Connection) {
        if c.stage == .greeting {
            guard c.input.count >= 64 else { return }
            let g = c.input
            let mechanism = String(decoding: g[12..<32].prefix { $0 != 0 }, as: UTF8.self)
            guard g[0] == 0xFF, g[9] & 1 == 1, g[10] >= 3 else { return refuse(c, "peer is not ZMTP 3") }
            guard mechanism == "NULL" else { return refuse(c, "peer's mechanism is \(mechanism), not NULL") }
            c.input.removeFirst(64)
            c.stage = .ready
        }
        while c.fd >= 0, let (header, size) = Self.frameLength(c.input) {
            guard size <= maxMessageSize else { return end(c, reason: "a frame of \(size) bytes, above the limit of \(maxMessageSize)") }
            guard c.input.count >= header + size else { return }
            let flags = c.input[0]
            let body = Array(c.input[header..<header + size])
            c.input.removeFirst(header + size)
            if c.stage == .ready {
                guard flags & 0x04 != 0, body.count >= 6, body[0] == 5, Array(body[1..<6]) == Array("READY".utf8) else {
                    return refuse(c, "peer's first command is not READY")
                }
                let type = body.withUnsafeBytes { DirectSubscriber.property("Socket-Type", in: $0[6...]) }
                guard type == "SUB" || type == "XSUB" else { return refuse(c, "peer is not a subscriber (\(type ?? "no Socket-Type"))") }
                c.stage = .streaming
                continue
            }
            if flags & 0x04 != 0 {
                command(body, from: c)
            } else if let first = body.first, first <= 1 {
                subscription(Array(body.dropFirst()), add: first == 1, for: c)
            }
        }
    }

    /// ZMTP 3.1's SUBSCRIBE and CANCEL; a PING is answered with a PONG.
    private func command(_ body: [UInt8], from c: Connection) {
        guard let n = body.first.map(Int.init), body.count > n else { return }
        let name = String(decoding: body[1..<(n + 1)], as: UTF8.self)
        let rest = Array(body[(n + 1)...])
        switch name {
        case "SUBSCRIBE": subscription(rest, add: true, for: c)
        case "CANCEL": subscription(rest, add: false, for: c)
        case "PING":
            // TTL (2 bytes), then a context the PONG echoes.
            let pong = DirectSubscriber.command([4] + Array("PONG".utf8) + Array(rest.dropFirst(2)))
            if c.queue.isEmpty {
                _ = pong.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            }
        default: break
        }
    }

    private func subscription(_ prefix: [UInt8], add: Bool, for c: Connection) {
        if add {
            c.prefixes.append(prefix)
        } else if let i = c.prefixes.firstIndex(of: prefix) {
            c.prefixes.remove(at: i)
        }
        c.everyFrame = c.prefixes.contains { $0.isEmpty }
    }

    /// Writes what waits, oldest first, as far as the connection takes it.
    private func flush(_ c: Connection) {
        while let first = c.queue.first {
            let n = first.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress! + c.offset, $0.count - c.offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                if errno == EINTR { continue }
                return end(c, reason: "send: \(Self.errnoText())")
            }
            c.offset += n
            guard c.offset == first.count else { return }
            c.queue.removeFirst()
            c.offset = 0
        }
        watch(c.fd, writable: false)
    }

    private func refuse(_ c: Connection, _ reason: String) {
        handshakeFailures += 1
        end(c, reason: reason)
    }

    /// Closes a connection; it leaves ``connections`` at the end of the service or send that ended it.
    private func end(_ c: Connection, reason: String) {
        guard c.fd >= 0 else { return }
        lastError = reason
        disconnects += 1
        Glibc.close(c.fd)   // also leaves the epoll set
        c.fd = -1
        c.queue = []
        c.input = []
    }

    private func watch(_ fd: Int32, writable: Bool, add: Bool = false) {
        _ = csim_epoll_watch(epoll, fd, writable ? 1 : 0, add ? 1 : 0)
    }

    // MARK: - Endpoints

    static func frameLength(_ b: [UInt8]) -> (Int, Int)? {
        guard b.count >= 2 else { return nil }
        if b[0] & 0x02 == 0 { return (2, Int(b[1])) }
        guard b.count >= 9 else { return nil }
        let v = b[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (9, v > UInt64(Int.max / 2) ? Int.max / 2 : Int(v))
    }

    private static func listen(_ endpoint: String) throws -> (Int32, String?) {
        func fail(_ reason: String) -> Failure { Failure(endpoint: endpoint, reason: reason) }
        if endpoint.hasPrefix("ipc://") {
            let path = String(endpoint.dropFirst(6))
            guard !path.isEmpty, path.utf8.count < 108 else { throw fail("an ipc path of 1 to 107 bytes is expected") }
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw fail("socket: \(errnoText())") }
            unlink(path)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in path.utf8.enumerated() { raw[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0, Glibc.listen(fd, 1024) == 0 else {
                let reason = errnoText()
                Glibc.close(fd)
                throw fail("bind: \(reason)")
            }
            return (fd, path)
        }
        guard endpoint.hasPrefix("tcp://") else { throw fail("tcp://HOST:PORT or ipc://PATH is expected") }
        let rest = endpoint.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":") else { throw fail("no port") }
        var host = String(rest[..<colon])
        let port = String(rest[rest.index(after: colon)...])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard port == "*" || Int(port).map({ (0...65_535).contains($0) }) == true else { throw fail("the port is not a number or *") }
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host == "*" ? nil : host, port == "*" ? "0" : port, &hints, &list)
        guard rc == 0, let first = list else { throw fail("the host does not resolve: \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(list) }
        // `*` binds every IPv4 interface, as libzmq's `tcp://*:PORT` does by default.
        var info: UnsafeMutablePointer<addrinfo>? = first
        if host == "*" {
            while let i = info, i.pointee.ai_family != AF_INET { info = i.pointee.ai_next }
        }
        guard let a = info ?? Optional(first) else { throw fail("no address") }
        let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw fail("socket: \(errnoText())") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0, Glibc.listen(fd, 1024) == 0 else {
            let reason = errnoText()
            Glibc.close(fd)
            throw fail("bind: \(reason)")
        }
        return (fd, nil)
    }

    /// `tcp://HOST:*` or `:0` with the port chosen; anything else as asked.
    private static func boundEndpoint(_ fd: Int32, asked: String) -> String {
        guard asked.hasPrefix("tcp://"), let colon = asked.lastIndex(of: ":") else { return asked }
        let port = asked[asked.index(after: colon)...]
        guard port == "*" || port == "0" else { return asked }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return asked }
        let chosen: UInt16 = withUnsafePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        var host = String(asked[asked.index(asked.startIndex, offsetBy: 6)..<colon])
        if host == "*" { host = "0.0.0.0" }
        return "tcp://\(host):\(chosen)"
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
