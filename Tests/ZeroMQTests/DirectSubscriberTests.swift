import Foundation
import Testing
@testable import ZeroMQ

/// The ZMTP 3.0 subscriber that reads on its caller's thread, against libzmq's PUB.
@Suite("direct subscriber")
struct DirectSubscriberTests {
    /// Sends `probe` until the subscriber has one (the PUB learns a subscription
    /// after the handshake, and drops what it sends before), then returns.
    static func subscribed(_ pub: borrowing Socket, _ sub: DirectSubscriber, probe: [UInt8]) throws {
        let deadline = DirectSubscriber.monotonicNanos() + 10_000_000_000
        while DirectSubscriber.monotonicNanos() < deadline {
            try pub.send(probe)
            if let frame = sub.receive(timeoutNanos: 20_000_000), Array(frame) == probe {
                // Take the probes still on their way.
                while let f = sub.receive(timeoutNanos: 50_000_000), Array(f) == probe {}
                return
            }
        }
        Issue.record("the subscriber never received a probe: connects \(sub.connects), disconnects \(sub.disconnects), last error \(sub.lastError ?? "none")")
    }

    static func frame(_ prefix: String, size: Int, fill: UInt8) -> [UInt8] {
        Array(prefix.utf8) + [UInt8](repeating: fill, count: size - prefix.utf8.count)
    }

    /// Sends a frame of each size under prefix "A", each after one under "B" (not
    /// subscribed), and checks that exactly the "A" frames arrive, whole and in order.
    static func sendAndCheck(_ pub: borrowing Socket, _ sub: DirectSubscriber, sizes: [Int]) throws {
        for (i, size) in sizes.enumerated() {
            try pub.send(Self.frame("B", size: 50, fill: 9))
            try pub.send(Self.frame("A", size: size, fill: UInt8(i)))
        }
        for (i, size) in sizes.enumerated() {
            let got = try #require(sub.receive(timeoutNanos: 5_000_000_000), "frame \(i) of \(size) bytes")
            #expect(Array(got) == Self.frame("A", size: size, fill: UInt8(i)), "frame \(i) of \(size) bytes")
        }
        #expect(sub.receive(timeoutNanos: 100_000_000) == nil)
    }

    /// A PUB that is a CURVE server with `server`'s secret key, bound on the loopback.
    static func curvePublisher(_ context: Context, _ server: CurveKeyPair) throws -> Socket {
        let pub = try context.socket(.pub)
        try pub.setLinger(.zero)
        try pub.setCurveServer(true)
        try pub.setCurveSecretKey(server.secretKey)
        return pub
    }

    @Test("frames of every size arrive whole and in order, filtered by prefix", arguments: [Transport.tcp, .ipc])
    func framesInOrder(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let pub = try context.socket(.pub)
        try pub.setLinger(.zero)
        try pub.bind(endpoints.next())
        let sub = try DirectSubscriber(endpoint: try pub.lastEndpoint, prefixes: [Array("A".utf8), Array("P".utf8)],
                                       maxMessageSize: 4 << 20)
        try Self.subscribed(pub, sub, probe: Array("P".utf8))
        #expect(sub.connects == 1 && sub.isConnected)

        // Short (one-byte size) and long (eight-byte size) frames, one larger than the buffer.
        try Self.sendAndCheck(pub, sub, sizes: [1, 2, 255, 256, 300, 9_000, 70_000, 1 << 20, 3, 272])
    }

    @Test("no wait: nil at once when nothing is buffered; a backlog comes out frame by frame")
    func backlog() throws {
        let context = try Context()
        let pub = try context.socket(.pub)
        try pub.setLinger(.zero)
        try pub.bind("tcp://127.0.0.1:*")
        let sub = try DirectSubscriber(endpoint: try pub.lastEndpoint, prefixes: [[]], maxMessageSize: 1 << 16)
        try Self.subscribed(pub, sub, probe: [0xEE])
        let before = DirectSubscriber.monotonicNanos()
        #expect(sub.receive(timeoutNanos: 0) == nil)
        #expect(DirectSubscriber.monotonicNanos() - before < 1_000_000_000)
        // Below the PUB's high-water mark (1 000), so none is dropped before it is sent.
        for i in 0..<900 { try pub.send(Self.frame("x", size: 272, fill: UInt8(i % 251))) }
        var n = 0
        let deadline = DirectSubscriber.monotonicNanos() + 10_000_000_000
        while n < 900, DirectSubscriber.monotonicNanos() < deadline {
            guard let f = sub.receive(timeoutNanos: 1_000_000_000) else { continue }
            #expect(f.count == 272 && f[1] == UInt8(n % 251))
            n += 1
        }
        #expect(n == 900)
    }

    @Test("a frame above the limit ends the connection, is counted, and the next connection goes on")
    func oversize() throws {
        let context = try Context()
        let pub = try context.socket(.pub)
        try pub.setLinger(.zero)
        try pub.bind("tcp://127.0.0.1:*")
        let sub = try DirectSubscriber(endpoint: try pub.lastEndpoint, prefixes: [[]], maxMessageSize: 1_000)
        sub.reconnectInterval = 20_000_000
        try Self.subscribed(pub, sub, probe: [0xEE])
        try pub.send([UInt8](repeating: 1, count: 5_000))
        _ = sub.receive(timeoutNanos: 500_000_000)
        #expect(sub.oversizeDrops == 1 && sub.disconnects == 1)
        #expect(sub.lastError?.contains("5000 bytes") == true)
        try Self.subscribed(pub, sub, probe: [0xEF])
        #expect(sub.connects == 2)
        try pub.send([UInt8](repeating: 2, count: 999))
        #expect(sub.receive(timeoutNanos: 5_000_000_000)?.count == 999)
    }

    @Test("it connects once the publisher binds, and again after the publisher is gone and back")
    func reconnects() throws {
        let endpoints = Endpoints(.ipc)
        let endpoint = endpoints.next()
        let context = try Context()
        let sub = try DirectSubscriber(endpoint: endpoint, prefixes: [[]], maxMessageSize: 1 << 16)
        sub.reconnectInterval = 20_000_000
        #expect(sub.receive(timeoutNanos: 100_000_000) == nil && !sub.isConnected)
        do {
            let pub = try context.socket(.pub)
            try pub.setLinger(.zero)
            try pub.bind(endpoint)
            try Self.subscribed(pub, sub, probe: [1])
            pub.close()
        }
        // The end of the connection shows on the next read.
        #expect(sub.receive(timeoutNanos: 300_000_000) == nil)
        #expect(sub.disconnects == 1)
        let pub = try context.socket(.pub)
        try pub.setLinger(.zero)
        try pub.bind(endpoint)
        try Self.subscribed(pub, sub, probe: [2])
        #expect(sub.connects == 2)
    }

    @Test("a CURVE publisher refuses the handshake: counted, nothing received", .enabled(if: Context.has("curve")))
    func curvePeer() throws {
        let context = try Context()
        let pub = try Self.curvePublisher(context, try CurveKeyPair.generate())
        try pub.bind("tcp://127.0.0.1:*")
        let sub = try DirectSubscriber(endpoint: try pub.lastEndpoint, prefixes: [[]], maxMessageSize: 1 << 16)
        sub.reconnectInterval = 20_000_000
        let deadline = DirectSubscriber.monotonicNanos() + 5_000_000_000
        while sub.handshakeFailures == 0, DirectSubscriber.monotonicNanos() < deadline {
            try pub.send([7])
            #expect(sub.receive(timeoutNanos: 20_000_000) == nil)
        }
        #expect(sub.handshakeFailures >= 1 && sub.connects == 0)
        #expect(sub.lastError?.contains("CURVE") == true)
    }

    @Test("a CurveZMQ client with the publisher's key: every frame arrives opened, of every size", .enabled(if: Context.has("curve")))
    func curveClient() throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        let pub = try Self.curvePublisher(context, server)
        let monitor = try pub.monitor([.handshakeSucceeded, .handshakeFailed])
        try pub.bind("tcp://127.0.0.1:*")
        let sub = try DirectSubscriber(endpoint: try pub.lastEndpoint, prefixes: [Array("A".utf8), Array("P".utf8)], maxMessageSize: 4 << 20,
                                       curve: .init(serverKey: server.publicKey, publicKey: client.publicKey, secretKey: client.secretKey))
        try Self.subscribed(pub, sub, probe: Array("P".utf8))
        #expect(sub.connects == 1 && sub.handshakeFailures == 0, "\(sub.lastError ?? "")")
        #expect(try waitForEvent(.handshakeSucceeded, on: monitor) != nil)
        try Self.sendAndCheck(pub, sub, sizes: [1, 255, 300, 9_000, 70_000, 1 << 20, 272])
    }

    @Test("a CurveZMQ client with a wrong server key: refused at WELCOME, nothing received", .enabled(if: Context.has("curve")))
    func curveWrongServerKey() throws {
        let context = try Context()
        let client = try CurveKeyPair.generate()
        let pub = try Self.curvePublisher(context, try CurveKeyPair.generate())
        try pub.bind("tcp://127.0.0.1:*")
        let sub = try DirectSubscriber(endpoint: try pub.lastEndpoint, prefixes: [[]], maxMessageSize: 1 << 16,
                                       curve: .init(serverKey: try CurveKeyPair.generate().publicKey, publicKey: client.publicKey,
                                                    secretKey: client.secretKey))
        sub.reconnectInterval = 20_000_000
        let deadline = DirectSubscriber.monotonicNanos() + 5_000_000_000
        while sub.handshakeFailures == 0, DirectSubscriber.monotonicNanos() < deadline {
            try pub.send([7])
            #expect(sub.receive(timeoutNanos: 20_000_000) == nil)
        }
        #expect(sub.handshakeFailures >= 1 && sub.connects == 0, "\(sub.lastError ?? "")")
    }

    @Test("a peer's command names are shown escaped, and a name without bytes is described by its size")
    func commandNames() {
        func name(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { DirectSubscriber.commandName($0) } }
        #expect(name([5] + Array("READY".utf8)) == "READY")
        #expect(name([0, 1, 2]) == "3 bytes")
        #expect(name([9, 1]) == "2 bytes")
        #expect(name([5] + Array("ERROR".utf8) + [6] + Array("no\n\"x\\".utf8)) == #"ERROR "no\x0a\x22x\x5c""#)
        #expect(name([3, 0x1B, 0x5B, 0x41]) == #"\x1b[A"#)
    }

    @Test("endpoints of other forms are refused", arguments: ["inproc://x", "tcp://127.0.0.1", "tcp://:5", "tcp://h:0", "ipc://", "udp://h:1"])
    func badEndpoints(endpoint: String) {
        #expect(throws: ZMQError.self) { try DirectSubscriber(endpoint: endpoint, prefixes: [[]], maxMessageSize: 10) }
    }
}
