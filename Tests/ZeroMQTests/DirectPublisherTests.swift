import ClusterCore
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import ZeroMQ

/// The ZMTP 3.0 publisher that writes on its caller's thread, against
/// libzmq's SUB and the direct subscriber.
@Suite("direct publisher")
struct DirectPublisherTests {
    static func now() -> UInt64 { DirectSubscriber.monotonicNanos() }

    /// Serves the publisher and sends `probe` until `received` returns it
    /// (a subscription arrives after the handshake; what is sent before is
    /// not for that subscriber), then takes the probes still on their way.
    static func subscribed(_ pub: DirectPublisher, probe: [UInt8], _ received: (UInt64) throws -> [UInt8]?) throws {
        let deadline = now() + 10_000_000_000
        while now() < deadline {
            pub.service()
            probe.withUnsafeBytes { _ = pub.send($0) }
            if try received(20_000_000) == probe {
                while true {
                    pub.service()
                    guard try received(50_000_000) == probe else { return }
                }
            }
        }
        Issue.record("no probe arrived: accepted \(pub.accepted), refused \(pub.handshakeFailures), last error \(pub.lastError ?? "none")")
    }

    /// A publisher on the loopback and a direct subscriber to every frame, past the first probe.
    static func subscribedPair(highWaterMark: Int) throws -> (DirectPublisher, DirectDirect) {
        let pub = try DirectPublisher(endpoint: "tcp://127.0.0.1:*", highWaterMark: highWaterMark)
        let sub = try DirectDirect(pub: pub, prefixes: [[]])
        try subscribed(pub, probe: [0xEE]) { sub.sub.receive(timeoutNanos: $0).map(Array.init) }
        return (pub, sub)
    }

    static func frame(_ prefix: String, size: Int, fill: UInt8) -> [UInt8] {
        Array(prefix.utf8) + [UInt8](repeating: fill, count: size - prefix.utf8.count)
    }

    static let sizes = [1, 2, 255, 256, 300, 9_000, 70_000, 1 << 20, 3, 272]

    @Test("a libzmq SUB gets every frame it subscribed to, whole and in order, and no other", arguments: [Transport.tcp, .ipc])
    func libzmqSubscriber(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let pub = try DirectPublisher(endpoint: endpoints.next(), highWaterMark: 1_000)
        let context = try Context()
        let sub = try context.socket(.sub)
        try sub.setLinger(.zero)
        try sub.subscribe(Array("A".utf8))
        try sub.subscribe(Array("P".utf8))
        try sub.connect(pub.endpoint)
        try Self.subscribed(pub, probe: Array("P".utf8)) { try sub.receive(timeout: .nanoseconds(Int64($0)))?.bytes }
        #expect(pub.subscribers == 1 && pub.accepted == 1)
        for (i, size) in Self.sizes.enumerated() {
            Self.frame("B", size: 50, fill: 9).withUnsafeBytes { _ = pub.send($0) }
            Self.frame("A", size: size, fill: UInt8(i)).withUnsafeBytes { _ = pub.send($0) }
        }
        for (i, size) in Self.sizes.enumerated() {
            var got: [UInt8]?
            let deadline = Self.now() + 5_000_000_000
            while got == nil, Self.now() < deadline {
                pub.service()   // writes what the connection could not take at once
                got = try sub.receive(timeout: .milliseconds(10))?.bytes
            }
            #expect(got == Self.frame("A", size: size, fill: UInt8(i)), "frame \(i) of \(size) bytes")
        }
        pub.service()
        #expect(try sub.receive(timeout: .milliseconds(100)) == nil)
        #expect(pub.dropped == 0)
    }

    @Test("the direct subscriber gets every frame it subscribed to, and no other")
    func directSubscriber() throws {
        let endpoints = Endpoints(.ipc)
        let pub = try DirectPublisher(endpoint: endpoints.next(), highWaterMark: 1_000)
        let sub = try DirectDirect(pub: pub, prefixes: [Array("A".utf8), Array("P".utf8)])
        try Self.subscribed(pub, probe: Array("P".utf8)) { sub.sub.receive(timeoutNanos: $0).map(Array.init) }
        for (i, size) in Self.sizes.enumerated() {
            Self.frame("B", size: 50, fill: 9).withUnsafeBytes { _ = pub.send($0) }
            Self.frame("A", size: size, fill: UInt8(i)).withUnsafeBytes { _ = pub.send($0) }
        }
        for (i, size) in Self.sizes.enumerated() {
            #expect(sub.next(pub) == Self.frame("A", size: size, fill: UInt8(i)), "frame \(i) of \(size) bytes")
        }
        #expect(sub.next(pub, timeoutNanos: 100_000_000) == nil)
    }

    @Test("a subscriber that does not read gets its queue filled to the high-water mark, and no more: the rest is counted as dropped")
    func highWaterMark() throws {
        let (pub, sub) = try Self.subscribedPair(highWaterMark: 4)
        // Far more than the kernel's buffers on both sides hold, sent while the subscriber does not read.
        let count = 400
        for i in 0..<count {
            var f = Self.frame("x", size: 64 * 1024, fill: 0)
            withUnsafeBytes(of: UInt32(i).littleEndian) { f.replaceSubrange(1..<5, with: $0) }
            f.withUnsafeBytes { _ = pub.send($0) }
        }
        #expect(pub.dropped > 0)
        var received = 0
        var last = -1
        var ordered = true
        while let f = sub.next(pub, timeoutNanos: 500_000_000) {
            let n = Int(f[1..<5].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
            ordered = ordered && n > last && f.count == 64 * 1024
            last = n
            received += 1
        }
        // Every frame either arrived, whole and in order, or was counted as dropped.
        #expect(received + Int(pub.dropped) == count)
        #expect(ordered)
        #expect(pub.subscribers == 1 && pub.disconnects == 0)
    }

    @Test("drain: a subscriber that does not read has its connection closed and its queue counted as dropped")
    func drainTimesOut() throws {
        let (pub, sub) = try Self.subscribedPair(highWaterMark: 1_000)
        for i in 0..<300 { Self.frame("x", size: 64 * 1024, fill: UInt8(i % 251)).withUnsafeBytes { _ = pub.send($0) } }
        let queued = pub.queuedFrames
        #expect(queued > 0 && pub.dropped == 0)
        #expect(!pub.drain(timeoutNanos: 50_000_000))
        #expect(pub.dropped == UInt64(queued) && pub.queuedFrames == 0 && pub.subscribers == 0 && pub.disconnects == 1)
    }

    @Test("drain writes what a subscriber's queue holds while it reads, within the time given")
    func drain() throws {
        let (pub, sub) = try Self.subscribedPair(highWaterMark: 1_000)
        let count = 300
        for i in 0..<count { Self.frame("y", size: 64 * 1024, fill: UInt8(i % 251)).withUnsafeBytes { _ = pub.send($0) } }
        #expect(pub.queuedFrames > 0)
        let before = pub.dropped
        // The subscriber reads on another thread (it alone uses it) while the publisher drains.
        let received = Tally()
        let reading = Thread {
            while let f = sub.sub.receive(timeoutNanos: 1_000_000_000) {
                if f.first == UInt8(ascii: "y") { received.count.withLock { $0 += 1 } }
            }
        }
        reading.start()
        #expect(pub.drain(timeoutNanos: 10_000_000_000))
        #expect(pub.queuedFrames == 0 && pub.dropped == before)
        let deadline = Self.now() + 10_000_000_000
        while received.count.withLock({ $0 }) < count, Self.now() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(received.count.withLock { $0 } == count)
    }

    @Test("a peer that is not a subscriber is refused and counted; one that leaves is counted; sending goes on")
    func refusedAndGone() throws {
        let pub = try DirectPublisher(endpoint: "tcp://127.0.0.1:*", highWaterMark: 10)
        // A greeting with another mechanism, and one with NULL whose READY says DEALER.
        var greeting = [UInt8](repeating: 0, count: 64)
        greeting[0] = 0xFF
        greeting[9] = 0x7F
        greeting[10] = 3
        greeting.replaceSubrange(12..<17, with: Array("PLAIN".utf8))
        let deadline = Self.now() + 5_000_000_000
        func refusal(_ n: UInt64) -> String? {
            while pub.handshakeFailures < n, Self.now() < deadline {
                pub.service()
                Thread.sleep(forTimeInterval: 0.01)
            }
            return pub.handshakeFailures == n ? pub.lastError : nil
        }
        let plain = try RawClient(pub.endpoint, sending: greeting)
        #expect(refusal(1)?.contains("PLAIN, not NULL") == true)
        greeting.replaceSubrange(12..<17, with: Array("NULL".utf8) + [0])
        let dealer = try RawClient(pub.endpoint, sending: greeting + DirectSubscriber.command(
            [5] + Array("READY".utf8) + [11] + Array("Socket-Type".utf8) + [0, 0, 0, 6] + Array("DEALER".utf8)))
        #expect(refusal(2)?.contains("not a subscriber (DEALER)") == true)
        #expect(pub.subscribers == 0)
        _ = (plain, dealer)

        var sub: DirectDirect? = try DirectDirect(pub: pub, prefixes: [[]])
        try Self.subscribed(pub, probe: [1]) { sub!.sub.receive(timeoutNanos: $0).map(Array.init) }
        let before = pub.disconnects
        sub = nil
        while pub.disconnects == before, Self.now() < deadline + 5_000_000_000 {
            pub.service()
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(pub.disconnects == before + 1 && pub.subscribers == 0)
        #expect([UInt8](repeating: 3, count: 100).withUnsafeBytes { pub.send($0) } == 0)
    }

    @Test("a command with an empty name is ignored, not a crash")
    func emptyCommandName() throws {
        let (pub, sub) = try Self.subscribedPair(highWaterMark: 10)
        _ = sub
        let client = try RawClient(pub.endpoint, sending: Self.nullGreeting + DirectSubscriber.command([5] + Array("READY".utf8) + Self.subMetadata)
                                   + DirectSubscriber.command([0]) + DirectSubscriber.command([0, 1, 2]) + DirectSubscriber.message([1]))
        let deadline = Self.now() + 5_000_000_000
        while pub.subscribers < 2, Self.now() < deadline {
            pub.service()
            Thread.sleep(forTimeInterval: 0.005)
        }
        #expect(pub.subscribers == 2 && pub.handshakeFailures == 0 && pub.disconnects == 0)
        _ = client
    }

    static var nullGreeting: [UInt8] {
        var g = [UInt8](repeating: 0, count: 64)
        g[0] = 0xFF
        g[9] = 0x7F
        g[10] = 3
        g.replaceSubrange(12..<16, with: Array("NULL".utf8))
        return g
    }

    static let subMetadata: [UInt8] = [11] + Array("Socket-Type".utf8) + [0, 0, 0, 3] + Array("SUB".utf8)

    /// Peers that send what they like: raw bytes, or a valid handshake and
    /// then frames of every kind (subscriptions, commands with any name
    /// length, oversized and long-header frames, junk). None may crash or
    /// wedge the publisher: each connection ends once its peer closes, and
    /// the publisher goes on. Seeded, so a failure replays.
    @Test("what a peer sends cannot crash or wedge it: 300 seeded random peers, raw and after a valid handshake")
    func randomPeers() throws {
        let pub = try DirectPublisher(endpoint: "tcp://127.0.0.1:*", highWaterMark: 8, maxMessageSize: 64)
        var rng = SeededRandom(seed: 0xC1A55E)
        let names = ["SUBSCRIBE", "CANCEL", "PING", "READY", "", "X"]
        func junk(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let peers = 300
        for round in 0..<peers {
            var bytes: [UInt8] = []
            if round % 3 == 0 {
                bytes = junk(Int.random(in: 0...200, using: &rng))
                if Bool.random(using: &rng) { bytes = Array(Self.nullGreeting.prefix(Int.random(in: 1...64, using: &rng))) + bytes }
            } else {
                bytes = Self.nullGreeting + DirectSubscriber.command([5] + Array("READY".utf8) + Self.subMetadata)
                for _ in 0..<Int.random(in: 0...12, using: &rng) {
                    switch Int.random(in: 0...4, using: &rng) {
                    case 0: bytes += DirectSubscriber.message([UInt8.random(in: 0...2, using: &rng)] + junk(Int.random(in: 0...8, using: &rng)))
                    case 1:
                        let name = Array(names.randomElement(using: &rng)!.utf8)
                        let length = Bool.random(using: &rng) ? UInt8(name.count) : UInt8.random(in: 0...255, using: &rng)
                        bytes += DirectSubscriber.command([length] + name + junk(Int.random(in: 0...6, using: &rng)))
                    case 2: bytes += junk(Int.random(in: 0...30, using: &rng))
                    case 3: bytes += [0x02] + junk(8) + junk(Int.random(in: 0...16, using: &rng))
                    default: bytes += DirectSubscriber.message(junk(Int.random(in: 60...120, using: &rng)))
                    }
                }
            }
            let ended = pub.disconnects
            do {
                let client = try RawClient(pub.endpoint, sending: bytes)
                for i in 0..<4 {
                    pub.service()
                    [UInt8(i)].withUnsafeBytes { _ = pub.send($0) }
                }
                _ = client
            }
            let deadline = Self.now() + 5_000_000_000
            while pub.disconnects == ended, Self.now() < deadline {
                pub.service()
                Thread.sleep(forTimeInterval: 0.001)
            }
            #expect(pub.disconnects == ended + 1, "peer \(round): its connection did not end after it closed: \(bytes)")
        }
        #expect(pub.accepted == UInt64(peers) && pub.subscribers == 0 && pub.queuedFrames == 0)
        #expect(pub.handshakeFailures > 0)
    }

    @Test("a wildcard port is resolved; endpoints of other forms, and a port in use, are refused with the reason")
    func endpoints() throws {
        let pub = try DirectPublisher(endpoint: "tcp://127.0.0.1:*", highWaterMark: 10)
        #expect(pub.endpoint.hasPrefix("tcp://127.0.0.1:") && !pub.endpoint.hasSuffix(":*"))
        let taken = pub.endpoint
        for bad in ["udp://h:1", "tcp://127.0.0.1", "tcp://127.0.0.1:x", "ipc://", taken] {
            #expect(throws: DirectPublisher.Failure.self, "\(bad)") { _ = try DirectPublisher(endpoint: bad, highWaterMark: 1) }
        }
        do {
            _ = try DirectPublisher(endpoint: taken, highWaterMark: 1)
        } catch {
            #expect("\(error)".contains(taken) && "\(error)".contains("in use"))
        }
    }
}

/// A count another thread adds to.
final class Tally: Sendable {
    let count = Mutex(0)
}

/// A direct subscriber of a direct publisher, read while the publisher is
/// served; by one thread at a time.
final class DirectDirect: @unchecked Sendable {
    let sub: DirectSubscriber

    init(pub: DirectPublisher, prefixes: [[UInt8]]) throws {
        sub = try DirectSubscriber(endpoint: pub.endpoint, prefixes: prefixes, maxMessageSize: 4 << 20)
    }

    /// The next frame, serving `pub` meanwhile so that what it queued is written.
    func next(_ pub: DirectPublisher, timeoutNanos: UInt64 = 5_000_000_000) -> [UInt8]? {
        let deadline = DirectSubscriber.monotonicNanos() + timeoutNanos
        repeat {
            pub.service()
            if let f = sub.receive(timeoutNanos: 5_000_000) { return Array(f) }
        } while DirectSubscriber.monotonicNanos() < deadline
        return nil
    }
}

/// A TCP connection that sends some bytes and then only holds the connection.
final class RawClient {
    let fd: Int32

    init(_ endpoint: String, sending bytes: [UInt8]) throws {
        let port = UInt16(endpoint.split(separator: ":").last!)!
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(rc == 0, "connect to \(endpoint)")
        try #require(bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count)
    }

    deinit { close(fd) }
}
