// The properties the `zmtp` fuzz target checks. This file is compiled twice:
// here, where ZMTPFuzzRegressionTests replays the committed corpus and every
// regression input through it, and into the fuzz package
// (Fuzz/Sources/ZMTPFuzzChecks/ZMTPFuzzChecks.swift is a link to it), whose
// libFuzzer entry point calls it with every generated input. See
// docs/architecture.md, "Fuzzing".
import CSodium
import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

@testable import ZeroMQ

/// A property of the `zmtp` target that an input broke.
public struct ZMTPFuzzViolation: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}

/// What the direct subscriber did with a connection: finished its handshake
/// (`accepted`) or refused it (`rejected`).
public enum ZMTPFuzzOutcome: String, Sendable, CaseIterable {
    case accepted
    case rejected
}

/// The `zmtp` target: a ``DirectSubscriber`` reading the publisher's side of
/// a connection made from the input, on one end of a socket pair.
///
/// The input's first byte picks the publisher (its value modulo 4):
/// - 0: raw, the rest of the input is the whole stream, to a NULL subscriber;
/// - 1: a NULL publisher (greeting, READY as PUB), then records;
/// - 2: a CURVE publisher that does the server's handshake with the
///   subscriber's own HELLO, then records, each boxed as the server would;
/// - 3: raw, to a CURVE subscriber.
///
/// A record is a kind byte, a length byte and that many payload bytes (fewer
/// at the input's end). Kind modulo 4: 0 raw bytes, written as they are;
/// 1 a message; 2 a command (skipped by the subscriber); 3 a frame that must
/// end the connection (NULL: one announced above the limit; CURVE: a box
/// under a nonce already used). Bit 2 asks for the long frame header, bit 3
/// sets MORE on a message (NULL) or makes the command a ZMTP command frame
/// outside the box (CURVE).
///
/// For every input: the subscriber ends its connection once the publisher
/// has closed (no hang), returns no frame above its limit, and keeps its
/// buffer bounded. When no raw record came before the end, the stream is
/// well-formed and the check knows exactly what must come out: every message
/// in order, byte for byte, and the counters for how the connection ended.
public enum ZMTPFuzz {
    /// The subscriber's frame limit: small, so that 8-bit lengths cross it.
    static let maxMessageSize = 200

    enum Mode: Int {
        case raw = 0, null, curve, rawCurve
    }

    /// How a well-formed stream ends, as the check predicts it.
    enum Ending: Equatable {
        /// The publisher closed after its last record.
        case closed
        /// A frame above the limit.
        case oversize
        /// A box that does not open or reuses a nonce.
        case refusedBox
    }

    /// What one run observed.
    struct Observed {
        var frames: [[UInt8]] = []
        var connects: UInt64 = 0
        var disconnects: UInt64 = 0
        var oversizeDrops: UInt64 = 0
        var handshakeFailures: UInt64 = 0
    }

    /// Runs the subscriber on `input` and checks the properties above.
    public static func check(_ input: UnsafeRawBufferPointer) throws(ZMTPFuzzViolation) -> ZMTPFuzzOutcome {
        let observed = try run(Array(input))
        return observed.connects > 0 ? .accepted : .rejected
    }

    // MARK: - Keys

    /// Fixed key pairs (from fixed seeds): the publisher's long-term and short-term, the subscriber's.
    struct Keys {
        var serverPublic = [UInt8](repeating: 0, count: 32)
        var serverSecret = [UInt8](repeating: 0, count: 32)
        var serverShortPublic = [UInt8](repeating: 0, count: 32)
        var serverShortSecret = [UInt8](repeating: 0, count: 32)
        var clientPublic = [UInt8](repeating: 0, count: 32)
        var clientSecret = [UInt8](repeating: 0, count: 32)

        init() {
            precondition(sodium_init() >= 0, "libsodium does not initialize")
            crypto_box_seed_keypair(&serverPublic, &serverSecret, [UInt8](repeating: 1, count: 32))
            crypto_box_seed_keypair(&serverShortPublic, &serverShortSecret, [UInt8](repeating: 3, count: 32))
            crypto_box_seed_keypair(&clientPublic, &clientSecret, [UInt8](repeating: 2, count: 32))
        }

        var client: DirectSubscriber.Curve {
            DirectSubscriber.Curve(serverKey: Self.z85(serverPublic), publicKey: Self.z85(clientPublic),
                                   secretKey: Self.z85(clientSecret))
        }

        static func z85(_ key: [UInt8]) -> String {
            var text = [CChar](repeating: 0, count: 41)
            _ = zmq_z85_encode(&text, key, 32)
            return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    static let fixedKeys = Keys()

    // MARK: - The publisher's stream

    static func greeting(_ mechanism: String) -> [UInt8] {
        var g = [UInt8](repeating: 0, count: 64)
        g[0] = 0xFF
        g[9] = 0x7F
        g[10] = 3
        g.replaceSubrange(12..<12 + mechanism.utf8.count, with: Array(mechanism.utf8))
        g[32] = 1  // as-server
        return g
    }

    /// A frame: flags (with the long bit set when asked or needed), its size, the body.
    static func frame(_ body: [UInt8], flags: UInt8, long: Bool) -> [UInt8] {
        if long || body.count > 255 {
            return [flags | 0x02] + (0..<8).map { UInt8(truncatingIfNeeded: UInt64(body.count) >> (56 - 8 * $0)) } + body
        }
        return [flags, UInt8(body.count)] + body
    }

    static let publisherMetadata: [UInt8] = [11] + Array("Socket-Type".utf8) + [0, 0, 0, 3] + Array("PUB".utf8)

    static func bigEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }

    /// The CURVE server's side: WELCOME and READY for the client whose HELLO is in `hello` (the command's body).
    struct CurveServer {
        let keys: Keys
        let precomputed: [UInt8]
        var nonce: UInt64 = 1

        init(keys: Keys, hello: [UInt8]) throws(ZMTPFuzzViolation) {
            self.keys = keys
            guard hello.count == 200, Array(hello.prefix(6)) == [5] + Array("HELLO".utf8) else {
                throw ZMTPFuzzViolation("the subscriber's HELLO is \(hello.count) bytes: \(hello.prefix(8))")
            }
            let clientShort = Array(hello[80..<112])
            var key = [UInt8](repeating: 0, count: 32)
            guard crypto_box_beforenm(&key, clientShort, keys.serverShortSecret) == 0 else {
                throw ZMTPFuzzViolation("no session key for the subscriber's short-term key")
            }
            self.clientShort = clientShort
            self.precomputed = key
        }

        let clientShort: [UInt8]

        /// WELCOME: S' and a cookie, boxed from the long-term key to C'.
        func welcome() -> [UInt8] {
            let longNonce = [UInt8](repeating: 7, count: 16)
            let content = keys.serverShortPublic + [UInt8](repeating: 0xC0, count: 96)
            var box = [UInt8](repeating: 0, count: content.count + 16)
            _ = crypto_box_easy(&box, content, UInt64(content.count), Array("WELCOME-".utf8) + longNonce, clientShort, keys.serverSecret)
            return frame([7] + Array("WELCOME".utf8) + longNonce + box, flags: 0x04, long: false)
        }

        /// READY with the publisher's metadata, under the next nonce.
        mutating func ready() -> [UInt8] {
            let n = take()
            return frame([5] + Array("READY".utf8) + bigEndian(n) + seal(publisherMetadata, prefix: "CurveZMQREADY---", nonce: n),
                         flags: 0x04, long: false)
        }

        /// The body of a MESSAGE command carrying `flags` and `payload`, under `nonce`.
        func message(_ payload: [UInt8], flags: UInt8, nonce n: UInt64) -> [UInt8] {
            [7] + Array("MESSAGE".utf8) + bigEndian(n) + seal([flags] + payload, prefix: "CurveZMQMESSAGES", nonce: n)
        }

        mutating func take() -> UInt64 {
            defer { nonce += 1 }
            return nonce
        }

        func seal(_ content: [UInt8], prefix: String, nonce n: UInt64) -> [UInt8] {
            var box = [UInt8](repeating: 0, count: content.count + 16)
            _ = crypto_box_easy_afternm(&box, content, UInt64(content.count), Array(prefix.utf8) + bigEndian(n), precomputed)
            return box
        }
    }

    /// The publisher's bytes after its handshake, and what a well-formed stream must give.
    struct Script {
        var bytes: [UInt8] = []
        var expected: [[UInt8]] = []
        var ending = Ending.closed
        /// No raw record before the ending: `expected` and `ending` are exact.
        var wellFormed = true
    }

    static func records(_ input: ArraySlice<UInt8>, curve: inout CurveServer?) -> Script {
        var script = Script()
        var i = input.startIndex
        var ended = false
        while i < input.endIndex {
            let kind = input[i]
            let length = i + 1 < input.endIndex ? Int(input[i + 1]) : 0
            let from = min(i + 2, input.endIndex)
            let payload = Array(input[from..<min(from + length, input.endIndex)])
            i = min(from + length, input.endIndex)
            let long = kind & 4 != 0
            let bit3 = kind & 8 != 0
            var frameBytes: [UInt8]
            var message: [UInt8]?
            var ends: Ending?
            switch (kind & 3, curve) {
            case (0, _):
                script.bytes += payload
                if !ended { script.wellFormed = false }
                continue
            case (1, nil):
                frameBytes = frame(payload, flags: bit3 ? 0x01 : 0, long: long)
                message = payload
            case (2, nil):
                frameBytes = frame(payload, flags: 0x04, long: long)
            case (_, nil):
                // Announced one byte above the limit and more, the payload as the start of its body.
                frameBytes = [0x02] + bigEndian(UInt64(maxMessageSize + 1 + payload.count)) + payload
                ends = .oversize
            case (1, var server?):
                frameBytes = frame(server.message(payload, flags: bit3 ? 0x01 : 0, nonce: server.take()), flags: 0, long: long)
                message = payload
                curve = server
            case (2, var server?):
                if bit3 {
                    frameBytes = frame(payload, flags: 0x04, long: long)
                } else {
                    frameBytes = frame(server.message(payload, flags: 0x02, nonce: server.take()), flags: 0, long: long)
                    curve = server
                }
            case (_, let server?):
                // The last nonce used again (READY's when no message came yet).
                frameBytes = frame(server.message(payload, flags: 0, nonce: server.nonce - 1), flags: 0, long: long)
                ends = .refusedBox
            }
            script.bytes += frameBytes
            if ended { continue }
            let headerLength = frameBytes[0] & 0x02 != 0 ? 9 : 2
            if ends != .oversize, frameBytes.count - headerLength > maxMessageSize { ends = .oversize }
            if let ends {
                script.ending = ends
                ended = true
            } else if let message {
                script.expected.append(message)
            }
        }
        return script
    }

    // MARK: - Running

    /// One connection: the subscriber on one end of a socket pair, the publisher's script written to the other.
    static func run(_ input: [UInt8]) throws(ZMTPFuzzViolation) -> Observed {
        let mode = Mode(rawValue: Int((input.first ?? 0) % 4))!
        let body = input.dropFirst()
        let keys = mode == .curve || mode == .rawCurve ? fixedKeys : nil
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw ZMTPFuzzViolation("socketpair: \(String(cString: strerror(errno)))")
        }
        let ours = pair[0]
        defer { close(ours) }
        let subscriber: DirectSubscriber
        do {
            subscriber = try DirectSubscriber(endpoint: "ipc:///nonexistent/zmtp-fuzz", prefixes: [[]],
                                              maxMessageSize: maxMessageSize, curve: keys?.client)
        } catch {
            close(pair[1])
            throw ZMTPFuzzViolation("no subscriber: \(error)")
        }
        defer { subscriber.close() }
        // Never again: the run ends with the connection.
        subscriber.reconnectInterval = 1 << 62
        subscriber.adopt(connectedDescriptor: pair[1])

        var inbox: [UInt8] = []
        drain(ours, into: &inbox)
        var script = Script()
        switch mode {
        case .raw, .rawCurve:
            script.bytes = Array(body)
            script.wellFormed = false
        case .null:
            var none: CurveServer?
            script = records(body, curve: &none)
            script.bytes = greeting("NULL") + frame([5] + Array("READY".utf8) + publisherMetadata, flags: 0x04, long: false) + script.bytes
        case .curve:
            guard inbox.count >= 64 + 2 + 200, inbox[64] == 0x04, inbox[65] == 200 else {
                throw ZMTPFuzzViolation("the subscriber sent \(inbox.count) bytes, not a greeting and a HELLO")
            }
            var server: CurveServer? = try CurveServer(keys: keys!, hello: Array(inbox[66..<266]))
            let handshake = greeting("CURVE") + server!.welcome() + server!.ready()
            script = records(body, curve: &server)
            script.bytes = handshake + script.bytes
        }

        var observed = Observed()
        var written = 0
        var shut = false
        var ended = false
        // Bounded: each round writes what the socket takes and reads all the subscriber returns.
        for _ in 0..<10_000 {
            if written < script.bytes.count {
                let n = script.bytes[written...].withUnsafeBytes { send(ours, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if n > 0 {
                    written += n
                } else if n < 0, errno != EAGAIN, errno != EINTR {
                    written = script.bytes.count  // the subscriber closed its end
                }
            }
            if written == script.bytes.count, !shut {
                shutdown(ours, Int32(SHUT_WR))
                shut = true
            }
            drain(ours, into: &inbox)
            while let frame = subscriber.receive(timeoutNanos: 0) {
                guard frame.count <= maxMessageSize else {
                    throw ZMTPFuzzViolation("a frame of \(frame.count) bytes came out, above the limit of \(maxMessageSize)")
                }
                observed.frames.append(Array(frame))
                guard observed.frames.count <= input.count + 1 else {
                    throw ZMTPFuzzViolation("\(observed.frames.count) frames out of \(input.count) input bytes")
                }
            }
            guard subscriber.bufferCapacity <= 256 << 10 else {
                throw ZMTPFuzzViolation("the subscriber's buffer grew to \(subscriber.bufferCapacity) bytes on a \(input.count)-byte input")
            }
            if subscriber.fileDescriptor < 0 {
                ended = true
                break
            }
        }
        observed.connects = subscriber.connects
        observed.disconnects = subscriber.disconnects
        observed.oversizeDrops = subscriber.oversizeDrops
        observed.handshakeFailures = subscriber.handshakeFailures
        guard ended else {
            throw ZMTPFuzzViolation("the connection is still open after the publisher closed it (\(observed.frames.count) frames out, stage \(subscriber.stage))")
        }
        guard observed.connects + observed.handshakeFailures <= 1, observed.disconnects <= 1,
              observed.oversizeDrops <= observed.disconnects else {
            throw ZMTPFuzzViolation("one connection counted as \(observed)")
        }
        guard observed.connects == 1 || observed.frames.isEmpty else {
            throw ZMTPFuzzViolation("\(observed.frames.count) frames out of a connection whose handshake did not finish")
        }
        if script.wellFormed {
            try expect(observed, script)
        }
        return observed
    }

    /// A well-formed stream's exact outcome.
    static func expect(_ observed: Observed, _ script: Script) throws(ZMTPFuzzViolation) {
        guard observed.connects == 1, observed.handshakeFailures == 0 else {
            throw ZMTPFuzzViolation("a well-formed handshake was refused: \(observed)")
        }
        guard observed.frames == script.expected else {
            let shown = observed.frames.map(\.count)
            throw ZMTPFuzzViolation("messages of \(shown) bytes came out, \(script.expected.map(\.count)) were sent")
        }
        let oversize: UInt64 = script.ending == .oversize ? 1 : 0
        guard observed.disconnects == 1, observed.oversizeDrops == oversize else {
            throw ZMTPFuzzViolation("the stream ended as \(script.ending), counted as \(observed)")
        }
    }

    static func drain(_ fd: Int32, into inbox: inout [UInt8]) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else { return }
            inbox += chunk[0..<n]
        }
    }
}
