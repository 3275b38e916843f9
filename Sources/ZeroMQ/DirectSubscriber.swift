import CSodium
import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A subscriber that speaks ZMTP 3.0 (RFC 23, NULL mechanism) itself, on the
/// caller's thread: no libzmq socket, no I/O thread.
///
/// A libzmq SUB socket reads the connection in its context's I/O thread and
/// hands every message to the caller's thread through a pipe: two threads
/// woken per message. This reads the TCP (or IPC) connection directly into
/// one buffer and parses every frame a read brought, so a wake-up costs one
/// thread, and a reader that fell behind takes its backlog in few reads.
/// It talks to any ZMTP 3.x PUB or XPUB peer (libzmq's, here the writer's or
/// a relay's): it announces version 3.0, so subscriptions are sent as
/// messages (`0x01` + prefix), which every 3.x publisher accepts, after the
/// peer's READY.
///
/// With ``Curve`` keys it is a CurveZMQ client (RFC 26, as libzmq's CURVE
/// client: HELLO, WELCOME, INITIATE with the vouch, READY, then MESSAGE
/// boxes, libsodium's `crypto_box`), the handshake in the same reads, each
/// frame opened into a second buffer; a peer's nonce must grow, as libzmq
/// requires. What it does not do: a mechanism other than the one it was
/// made for (a peer that wants another fails the handshake, counted in
/// ``handshakeFailures``), multi-part
/// messages as one (each part is a frame of its own), heartbeats (the
/// writers here send none). A frame longer than `maxMessageSize` ends the
/// connection, as libzmq's `ZMQ_MAXMSGSIZE` does, and is counted in
/// ``oversizeDrops``; a connection that ends for any reason is made again
/// after ``reconnectInterval``.
///
/// Not thread-safe: one thread uses it.
public final class DirectSubscriber {
    /// Where it connects: `tcp://host:port` or `ipc://path`.
    public let endpoint: String
    /// The frames larger than this end the connection.
    public let maxMessageSize: Int
    /// How long after a connection ends (or fails) the next attempt is made.
    public var reconnectInterval: UInt64 = 100_000_000
    /// Connections made that completed the handshake.
    public private(set) var connects: UInt64 = 0
    /// Connections that ended (the peer closed, an error, an oversized frame).
    public private(set) var disconnects: UInt64 = 0
    /// Connections ended by a frame larger than `maxMessageSize`.
    public private(set) var oversizeDrops: UInt64 = 0
    /// Handshakes refused: a peer that is not ZMTP 3, or not NULL, or not a publisher.
    public private(set) var handshakeFailures: UInt64 = 0
    /// What ended the last connection, for a log line; nil while none has ended.
    public private(set) var lastError: String?

    private let target: Target
    private var curve: CurveState?
    /// Opened CURVE messages, when ``curve`` is set.
    private var plain: UnsafeMutableRawPointer
    private var plainCapacity = 0
    private let subscriptions: [[UInt8]]
    private let receiveBufferBytes: Int32?
    private var fd: Int32 = -1
    private(set) var stage = Stage.idle
    private var nextAttempt: UInt64 = 0
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// The receive buffer's size in bytes (256 KiB; it grows to hold a large frame whole).
    var bufferCapacity: Int { capacity }
    private var start = 0
    private var end = 0
    private var closed = false
    /// The last read took less than it could: the connection is most likely
    /// drained, so the next read waits in poll() first rather than trying a
    /// read that would fail with EAGAIN (one system call less per wake-up).
    private var drained = false

    enum Stage { case idle, connecting, greeting, welcome, ready, streaming }

    /// The keys of a CurveZMQ client, in Z85 (40 characters each).
    public struct Curve: Sendable, Hashable {
        /// The publisher's long-term public key.
        public let serverKey: String
        /// This subscriber's long-term key pair.
        public let publicKey: String
        public let secretKey: String

        public init(serverKey: String, publicKey: String, secretKey: String) {
            self.serverKey = serverKey
            self.publicKey = publicKey
            self.secretKey = secretKey
        }
    }

    /// A CurveZMQ client's keys and, per connection, its short-term keys and nonces.
    struct CurveState {
        let server: [UInt8]
        let publicKey: [UInt8]
        let secretKey: [UInt8]
        var shortPublic = [UInt8](repeating: 0, count: 32)
        var shortSecret = [UInt8](repeating: 0, count: 32)
        var serverShort = [UInt8](repeating: 0, count: 32)
        var precomputed = [UInt8](repeating: 0, count: 32)
        var nonce: UInt64 = 1
        var peerNonce: UInt64 = 0
    }

    enum Target {
        case tcp(host: String, port: String)
        case ipc(path: String)
    }

    /// A subscriber for `endpoint`, subscribed to `prefixes`; it connects on its first receive.
    /// - Parameters:
    ///   - endpoint: `tcp://host:port` (a name, an IPv4 address or `[IPv6]`) or `ipc://path`.
    ///   - prefixes: The subscriptions; an empty prefix takes every message.
    ///   - maxMessageSize: The largest frame accepted.
    ///   - receiveBufferBytes: `SO_RCVBUF` for the connection; nil leaves the kernel's.
    /// - Throws: ``ZMQError`` with `EINVAL` for an endpoint of another transport or form.
    public init(endpoint: String, prefixes: [[UInt8]], maxMessageSize: Int, receiveBufferBytes: Int32? = nil,
                curve: Curve? = nil) throws(ZMQError) {
        guard let target = Self.parse(endpoint) else {
            throw ZMQError(code: .init(rawValue: EINVAL), operation: "direct subscriber endpoint \(endpoint) (tcp://host:port or ipc://path)")
        }
        self.endpoint = endpoint
        self.target = target
        self.subscriptions = prefixes
        self.maxMessageSize = maxMessageSize
        self.receiveBufferBytes = receiveBufferBytes
        if let curve {
            guard let server = Self.z85Decode(curve.serverKey), let pub = Self.z85Decode(curve.publicKey),
                  let secret = Self.z85Decode(curve.secretKey), sodium_init() >= 0 else {
                throw ZMQError(code: .init(rawValue: EINVAL), operation: "direct subscriber CURVE keys (40 Z85 characters each)")
            }
            self.curve = CurveState(server: server, publicKey: pub, secretKey: secret)
        } else {
            self.curve = nil
        }
        plain = .allocate(byteCount: 1, alignment: 16)
        capacity = 256 << 10
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        buffer.deallocate()
        plain.deallocate()
    }

    static func z85Decode(_ key: String) -> [UInt8]? {
        guard CurveKeyPair.isZ85Key(key) else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&out, key) == nil ? nil : out
    }

    static func parse(_ endpoint: String) -> Target? {
        if endpoint.hasPrefix("ipc://") {
            let path = String(endpoint.dropFirst(6))
            return path.isEmpty || path.utf8.count >= 108 ? nil : .ipc(path: path)
        }
        guard endpoint.hasPrefix("tcp://") else { return nil }
        let rest = endpoint.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        var host = String(rest[..<colon])
        let port = String(rest[rest.index(after: colon)...])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let p = Int(port), (1...65_535).contains(p) else { return nil }
        return .tcp(host: host, port: port)
    }

    /// The connection's descriptor while there is one (for a poll beside other sockets), else -1.
    /// Poll it only when ``hasBufferedFrame`` is false: frames already read are not on it.
    public var fileDescriptor: Int32 { fd }

    /// Whether the handshake is done and the connection is open.
    public var isConnected: Bool { stage == .streaming }

    /// Whether a whole frame is already in the buffer (a receive returns it without a system call).
    public var hasBufferedFrame: Bool { stage == .streaming && frameLength() != nil }

    /// Ends the connection and stops connecting: receives return nil after.
    public func close() {
        drop(reason: "closed", count: false)
        closed = true
    }

    /// The next frame's bytes, valid until the next call: at once when one is
    /// buffered; else reading (and connecting when due) for up to `timeoutNanos`
    /// (0: no wait).
    /// - Parameters:
    ///   - timeoutNanos: The longest wait.
    ///   - now: The monotonic clock's reading now.
    /// - Returns: A frame, or nil when none came in time.
    public func receive(timeoutNanos: UInt64, now: UInt64 = DirectSubscriber.monotonicNanos()) -> UnsafeRawBufferPointer? {
        let deadline = now &+ timeoutNanos
        var t = now
        while !closed {
            if stage == .streaming, let frame = nextFrame() { return frame }
            if stage == .idle {
                if t < nextAttempt {
                    // Not connected: wait for the next attempt, or give up at the deadline.
                    let until = min(deadline, nextAttempt)
                    guard until > t else { return nil }
                    Self.sleep(nanos: until - t)
                    t = Self.monotonicNanos()
                    continue
                }
                connect(now: t)
                continue
            }
            if stage == .connecting {
                guard wait(for: Int16(POLLOUT), until: deadline, now: t) else { return nil }
                finishConnect()
                t = Self.monotonicNanos()
                continue
            }
            // greeting, ready or streaming: read what has come.
            if drained {
                guard wait(for: Int16(POLLIN), until: deadline, now: t) else { return nil }
                drained = false
            }
            switch read() {
            case .data:
                handshake()
            case .wouldBlock:
                guard wait(for: Int16(POLLIN), until: deadline, now: t) else { return nil }
            case .ended:
                break
            }
            t = Self.monotonicNanos()
        }
        return nil
    }

    // MARK: - Connecting

    private func connect(now: UInt64) {
        nextAttempt = now &+ reconnectInterval
        switch target {
        case .ipc(let path):
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { return fail("socket: \(errnoText())") }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                let bytes = Array(path.utf8)
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            begin(s, rc: rc)
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var result: UnsafeMutablePointer<addrinfo>?
            let gai = getaddrinfo(host, port, &hints, &result)
            guard gai == 0, let info = result else { return fail("cannot resolve \(host): \(String(cString: gai_strerror(gai)))") }
            defer { freeaddrinfo(result) }
            let s = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { return fail("socket: \(errnoText())") }
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if var size = receiveBufferBytes {
                setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            begin(s, rc: Glibc.connect(s, info.pointee.ai_addr, info.pointee.ai_addrlen))
        }
    }

    /// Takes `descriptor`, a stream already connected to a publisher (one end
    /// of a `socketpair`, for the fuzz target and its regression tests), as
    /// if it had just connected: the greeting is sent, the handshake follows.
    func adopt(connectedDescriptor descriptor: Int32) {
        if fd >= 0 { Glibc.close(fd) }
        begin(descriptor, rc: 0)
    }

    private func begin(_ s: Int32, rc: Int32) {
        fd = s
        start = 0
        end = 0
        drained = false
        if rc == 0 {
            sendGreeting()
        } else if errno == EINPROGRESS || errno == EAGAIN {
            stage = .connecting
        } else {
            drop(reason: "connect: \(errnoText())", count: false)
        }
    }

    private func finishConnect() {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        guard err == 0 else { return drop(reason: "connect: \(String(cString: strerror(err)))", count: false) }
        sendGreeting()
    }

    /// The greeting (64 bytes: signature, version 3.0, NULL, client) and READY
    /// as SUB, then the subscriptions: all small enough for a fresh socket's buffer.
    private func sendGreeting() {
        var out = [UInt8](repeating: 0, count: 64)
        out[0] = 0xFF
        out[9] = 0x7F
        out[10] = 3
        out[11] = 0
        if curve != nil {
            out.replaceSubrange(12..<17, with: Array("CURVE".utf8))
            guard let hello = curveHello() else { return drop(reason: "CURVE: cannot make a HELLO", count: false) }
            out += Self.command(hello)
        } else {
            out.replaceSubrange(12..<16, with: Array("NULL".utf8))
            out += Self.command([5] + Array("READY".utf8) + Self.metadata)
        }
        guard write(out, what: "greeting") else { return }
        stage = .greeting
    }

    /// The properties a SUB announces: `Socket-Type` `SUB`.
    static let metadata: [UInt8] = [11] + Array("Socket-Type".utf8) + [0, 0, 0, 3] + Array("SUB".utf8)

    static func command(_ body: [UInt8]) -> [UInt8] {
        (body.count > 255 ? [0x06] + bigEndian(UInt64(body.count)) : [0x04, UInt8(body.count)]) + body
    }

    static func message(_ body: [UInt8]) -> [UInt8] {
        (body.count > 255 ? [0x02] + bigEndian(UInt64(body.count)) : [0x00, UInt8(body.count)]) + body
    }

    // MARK: - CurveZMQ (RFC 26; the layouts of libzmq's curve_client_tools)

    /// HELLO: a new short-term key pair, and Box[64 zero bytes](C'->S).
    private func curveHello() -> [UInt8]? {
        guard var c = curve else { return nil }
        crypto_box_keypair(&c.shortPublic, &c.shortSecret)
        c.nonce = 1
        c.peerNonce = 0
        let nonce = Array("CurveZMQHELLO---".utf8) + Self.bigEndian(c.nonce)
        var box = [UInt8](repeating: 0, count: 80)
        let zeros = [UInt8](repeating: 0, count: 64)
        guard crypto_box_easy(&box, zeros, 64, nonce, c.server, c.shortSecret) == 0 else { return nil }
        c.nonce += 1
        curve = c
        return [5] + Array("HELLO".utf8) + [1, 0] + [UInt8](repeating: 0, count: 72) + c.shortPublic + Array(nonce[16...]) + box
    }

    /// WELCOME (S' and the cookie, from the server's long-term key) → INITIATE (the cookie, and our long-term key vouched for).
    private func curveWelcome(_ body: UnsafeRawBufferPointer) -> Bool {
        guard var c = curve, body.count == 168, Array(body[0..<8]) == [7] + Array("WELCOME".utf8) else {
            refuse("CURVE: expected WELCOME, got \(Self.commandName(body))")
            return false
        }
        let nonce = Array("WELCOME-".utf8) + Array(body[8..<24])
        var opened = [UInt8](repeating: 0, count: 128)
        guard crypto_box_open_easy(&opened, Array(body[24..<168]), 144, nonce, c.server, c.shortSecret) == 0 else {
            refuse("CURVE: the WELCOME does not open with the server key given (a wrong server key?)")
            return false
        }
        c.serverShort = Array(opened[0..<32])
        let cookie = Array(opened[32..<128])
        guard crypto_box_beforenm(&c.precomputed, c.serverShort, c.shortSecret) == 0 else { return false }
        // The vouch: Box[C' + S](C->S'), with a random long nonce.
        var vouchNonce = Array("VOUCH---".utf8) + [UInt8](repeating: 0, count: 16)
        vouchNonce.withUnsafeMutableBytes { randombytes_buf($0.baseAddress! + 8, 16) }
        var vouch = [UInt8](repeating: 0, count: 80)
        guard crypto_box_easy(&vouch, c.shortPublic + c.server, 64, vouchNonce, c.serverShort, c.secretKey) == 0 else { return false }
        let content = c.publicKey + Array(vouchNonce[8...]) + vouch + Self.metadata
        let initiateNonce = Array("CurveZMQINITIATE".utf8) + Self.bigEndian(c.nonce)
        var box = [UInt8](repeating: 0, count: content.count + 16)
        guard crypto_box_easy_afternm(&box, content, UInt64(content.count), initiateNonce, c.precomputed) == 0 else { return false }
        c.nonce += 1
        curve = c
        return write(Self.command([8] + Array("INITIATE".utf8) + cookie + Array(initiateNonce[16...]) + box), what: "INITIATE")
    }

    /// READY: its metadata, opened with the session key; nil when it does not open.
    private func curveReady(_ body: UnsafeRawBufferPointer) -> [UInt8]? {
        guard var c = curve, body.count >= 30, Array(body[0..<6]) == [5] + Array("READY".utf8) else { return nil }
        let nonce = Array("CurveZMQREADY---".utf8) + Array(body[6..<14])
        let n = Self.loadBigEndian(body, at: 6)
        var opened = [UInt8](repeating: 0, count: body.count - 14 - 16)
        guard crypto_box_open_easy_afternm(&opened, Array(body[14...]), UInt64(body.count - 14), nonce, c.precomputed) == 0 else { return nil }
        c.peerNonce = n
        curve = c
        return opened
    }

    /// A message to the publisher as a MESSAGE box (flags byte 0, then `bytes`).
    private func curveMessage(_ bytes: [UInt8]) -> [UInt8]? {
        guard var c = curve else { return nil }
        let nonce = Array("CurveZMQMESSAGEC".utf8) + Self.bigEndian(c.nonce)
        let content = [UInt8(0)] + bytes
        var box = [UInt8](repeating: 0, count: content.count + 16)
        guard crypto_box_easy_afternm(&box, content, UInt64(content.count), nonce, c.precomputed) == 0 else { return nil }
        c.nonce += 1
        curve = c
        return Self.message([7] + Array("MESSAGE".utf8) + Array(nonce[16...]) + box)
    }

    /// Opens a MESSAGE box from the publisher into ``plain``: the flags byte and the message.
    @inline(__always)
    private func open(_ body: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard body.count >= 33, body.loadUnaligned(as: UInt64.self) == Self.messageTag else { return nil }
        let n = Self.loadBigEndian(body, at: 8)
        guard n > curve!.peerNonce else { return nil }
        let length = body.count - 16 - 16
        if plainCapacity < length {
            plain.deallocate()
            plainCapacity = max(length, 2 * plainCapacity, 4096)
            plain = .allocate(byteCount: plainCapacity, alignment: 16)
        }
        var nonce: (UInt64, UInt64, UInt64) = (Self.messageNoncePrefix.0, Self.messageNoncePrefix.1, 0)
        withUnsafeMutableBytes(of: &nonce) { $0.baseAddress!.advanced(by: 16).copyMemory(from: body.baseAddress! + 8, byteCount: 8) }
        let ok = withUnsafeBytes(of: &nonce) { nonceBytes in
            curve!.precomputed.withUnsafeBufferPointer { key in
                crypto_box_open_easy_afternm(plain.assumingMemoryBound(to: UInt8.self),
                                             (body.baseAddress! + 16).assumingMemoryBound(to: UInt8.self),
                                             UInt64(body.count - 16), nonceBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             key.baseAddress!) == 0
            }
        }
        guard ok else { return nil }
        curve!.peerNonce = n
        return UnsafeRawBufferPointer(start: plain, count: length)
    }

    /// `"\x07MESSAGE"` as the little-endian word a frame's first eight bytes load as.
    static let messageTag: UInt64 = ([7] + Array("MESSAGE".utf8)).withUnsafeBytes { $0.load(as: UInt64.self) }
    /// `"CurveZMQMESSAGES"` as two words (the publisher's MESSAGE nonces).
    static let messageNoncePrefix: (UInt64, UInt64) = Array("CurveZMQMESSAGES".utf8).withUnsafeBytes {
        ($0.load(as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt64.self))
    }

    static func loadBigEndian(_ raw: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(raw[offset + $1]) }
    }

    /// A command's name (and an ERROR's reason) for a log line: the peer's
    /// bytes, so anything but printable ASCII is escaped, and a body too short
    /// for its name (or a name of no bytes) is described by its size.
    static func commandName(_ body: UnsafeRawBufferPointer) -> String {
        guard let first = body.first, case let n = Int(first), n > 0, body.count > n else { return "\(body.count) bytes" }
        let name = printable(body[1...n])
        if name == "ERROR", body.count > n + 1 {
            let len = Int(body[n + 1])
            return "ERROR \"\(printable(body[(n + 2)...].prefix(len)))\""
        }
        return name
    }

    /// `bytes` as text with every byte outside printable ASCII (and the backslash and quote) as `\xHH`.
    static func printable(_ bytes: Slice<UnsafeRawBufferPointer>) -> String {
        var out = ""
        for b in bytes {
            if b >= 0x20, b < 0x7F, b != UInt8(ascii: "\\"), b != UInt8(ascii: "\"") {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        return out
    }

    /// The subscriptions, once the peer's READY came: libzmq takes a message
    /// that comes before its handshake is done for a protocol error.
    private func subscribe() -> Bool {
        var out: [UInt8] = []
        for prefix in subscriptions {
            if curve != nil {
                guard let m = curveMessage([1] + prefix) else { return false }
                out += m
            } else {
                out += Self.message([1] + prefix)
            }
        }
        return write(out, what: "subscriptions")
    }

    private func write(_ bytes: [UInt8], what: String) -> Bool {
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else {
            drop(reason: "send \(what): \(sent < 0 ? errnoText() : "short write")", count: false)
            return false
        }
        return true
    }

    /// Moves through the peer's greeting and READY once they are buffered.
    private func handshake() {
        if stage == .greeting {
            guard end - start >= 64 else { return }
            let g = UnsafeRawBufferPointer(start: buffer + start, count: 64)
            let mechanism = Self.printable(g[12..<32].prefix { $0 != 0 })
            guard g[0] == 0xFF, g[9] & 1 == 1, g[10] >= 3 else { return refuse("peer is not ZMTP 3 (greeting \(Array(g.prefix(12))))") }
            let expected = curve == nil ? "NULL" : "CURVE"
            guard mechanism == expected else { return refuse("peer's mechanism is \(mechanism), not \(expected)") }
            start += 64
            stage = curve == nil ? .ready : .welcome
        }
        if stage == .welcome {
            guard let (header, size) = frameLength() else { return }
            let body = UnsafeRawBufferPointer(start: buffer + start + header, count: size)
            guard curveWelcome(body) else { return }
            start += header + size
            stage = .ready
        }
        if stage == .ready {
            guard let (header, size) = frameLength() else { return }
            let flags = buffer.load(fromByteOffset: start, as: UInt8.self)
            let body = UnsafeRawBufferPointer(start: buffer + start + header, count: size)
            guard flags & 0x04 != 0, size >= 6, body[0] == 5, Array(body[1..<6]) == Array("READY".utf8) else {
                return refuse("peer's answer is \(Self.commandName(body)), not READY")
            }
            let properties: [UInt8]
            if curve != nil {
                guard let opened = curveReady(body) else { return refuse("CURVE: the READY does not open") }
                properties = opened
            } else {
                properties = Array(body[6...])
            }
            guard let type = properties.withUnsafeBytes({ Self.property("Socket-Type", in: $0[...]) }), type == "PUB" || type == "XPUB" else {
                return refuse("peer is not a publisher")
            }
            start += header + size
            guard subscribe() else { return }
            stage = .streaming
            connects += 1
        }
    }

    static func property(_ name: String, in raw: Slice<UnsafeRawBufferPointer>) -> String? {
        var i = raw.startIndex
        while i < raw.endIndex {
            let n = Int(raw[i]); i += 1
            guard i + n + 4 <= raw.endIndex else { return nil }
            let key = String(decoding: raw[i..<i + n], as: UTF8.self); i += n
            let v = raw[i..<i + 4].reduce(0) { $0 << 8 | Int($1) }; i += 4
            guard i + v <= raw.endIndex else { return nil }
            if key.lowercased() == name.lowercased() { return String(decoding: raw[i..<i + v], as: UTF8.self) }
            i += v
        }
        return nil
    }

    // MARK: - Frames

    /// The header length and the body size the frame at `start` announces,
    /// once its header is buffered (the body may not be yet).
    @inline(__always)
    private func header() -> (length: Int, size: Int)? {
        let available = end - start
        guard available >= 2 else { return nil }
        let p = buffer + start
        if p.load(as: UInt8.self) & 0x02 == 0 { return (2, Int(p.load(fromByteOffset: 1, as: UInt8.self))) }
        guard available >= 9 else { return nil }
        var v: UInt64 = 0
        for i in 1...8 { v = v << 8 | UInt64(p.load(fromByteOffset: i, as: UInt8.self)) }
        return (9, v > UInt64(Int.max / 2) ? Int.max / 2 : Int(v))
    }

    /// The header length and body size of the frame at `start`, if all of it is buffered.
    @inline(__always)
    private func frameLength() -> (Int, Int)? {
        guard let (length, size) = header(), end - start - length >= size else { return nil }
        return (length, size)
    }

    /// The next message frame when one is buffered; commands are skipped. A
    /// frame announced above the limit ends the connection.
    @inline(__always)
    private func nextFrame() -> UnsafeRawBufferPointer? {
        while let (length, size) = header() {
            if size > maxMessageSize {
                oversizeDrops += 1
                drop(reason: "a frame of \(size) bytes, above the limit of \(maxMessageSize)", count: true)
                return nil
            }
            guard end - start - length >= size else { return nil }
            let flags = buffer.load(fromByteOffset: start, as: UInt8.self)
            let body = UnsafeRawBufferPointer(start: buffer + start + length, count: size)
            start += length + size
            if flags & 0x04 != 0 { continue }
            if curve == nil { return body }
            guard let opened = open(body) else {
                drop(reason: "CURVE: a message that does not open, or an old nonce", count: true)
                return nil
            }
            // The flags byte: a command inside the box (0x02) is not a frame of the stream.
            if opened[0] & 0x02 != 0 { continue }
            return UnsafeRawBufferPointer(rebasing: opened[1...])
        }
        return nil
    }

    enum ReadResult { case data, wouldBlock, ended }

    /// One read into the buffer's free space, made room for first.
    private func read() -> ReadResult {
        makeRoom()
        let room = capacity - end
        let n = Glibc.read(fd, buffer + end, room)
        if n > 0 {
            end += n
            drained = n < room
            return .data
        }
        if n < 0, errno == EAGAIN || errno == EINTR { return .wouldBlock }
        if stage != .streaming {
            // libzmq ends a handshake it refuses, e.g. a CURVE server's to a NULL client, without a word.
            refuse("the peer ended the connection during the handshake (a publisher with CURVE refuses NULL)")
            return .ended
        }
        drop(reason: n == 0 ? "the peer closed the connection" : "read: \(errnoText())", count: true)
        return .ended
    }

    /// Keeps at least 64 KB free, or the whole of a large pending frame.
    private func makeRoom() {
        if start == end { start = 0; end = 0 }
        let needed = max(64 << 10, (header().map { $0.length + min($0.size, maxMessageSize) } ?? 0))
        if capacity - end >= needed { return }
        if start > 0 {
            buffer.copyMemory(from: buffer + start, byteCount: end - start)
            end -= start
            start = 0
        }
        if capacity - end < needed {
            let grown = max(capacity * 2, end + needed)
            let b = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
            b.copyMemory(from: buffer, byteCount: end)
            buffer.deallocate()
            buffer = b
            capacity = grown
        }
    }

    // MARK: - Ending

    private func refuse(_ reason: String) {
        handshakeFailures += 1
        drop(reason: reason, count: false)
    }

    private func fail(_ reason: String) {
        lastError = reason
    }

    private func drop(reason: String, count: Bool) {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        if count || stage == .streaming { disconnects += 1 }
        stage = .idle
        start = 0
        end = 0
        lastError = reason
        nextAttempt = Self.monotonicNanos() &+ reconnectInterval
    }

    // MARK: - Waiting

    private func wait(for events: Int16, until deadline: UInt64, now: UInt64) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        // Past the deadline, still a look without waiting: a receive without a wait finishes a connect too.
        let ms = deadline > now ? Int32(clamping: (deadline - now + 999_999) / 1_000_000) : 0
        let rc = poll(&p, 1, ms)
        return rc > 0 || (rc < 0 && errno == EINTR)
    }

    private static func sleep(nanos: UInt64) {
        var ts = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
        var left = timespec()
        while nanosleep(&ts, &left) == -1 && errno == EINTR { ts = left }
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    public static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private static func bigEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }

    private func errnoText() -> String { String(cString: strerror(errno)) }
}
