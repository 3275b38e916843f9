import Foundation
import Testing
import ZeroMQ

@Suite("Messages")
struct MessageTests {
    @Test("multipart messages keep their frames, including empty ones", arguments: Transport.allCases)
    func multipartRoundTrip(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let a = try context.socket(.pair)
        let b = try context.socket(.pair)
        try b.setLinger(.zero)
        try link(a, b, endpoints)

        let frames: [[UInt8]] = [Array("first".utf8), [], Array("third".utf8)]
        try b.sendMultipart(frames)
        let received = try #require(try a.receiveMultipart(timeout: patience))
        #expect(received.map(\.bytes) == frames)
        #expect(received.map(\.more) == [true, true, false])
    }

    @Test("a 1 MiB message arrives intact", arguments: Transport.allCases)
    func largeMessage(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let pull = try context.socket(.pull)
        let push = try context.socket(.push)
        try push.setLinger(.zero)
        try link(pull, push, endpoints)

        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        try push.send(payload)
        let message = try #require(try pull.receive(timeout: patience))
        #expect(message.count == payload.count)
        #expect(message.bytes == payload)
        #expect(message.data == Data(payload))
    }

    @Test("zero-length frames are delivered")
    func zeroLengthFrame() throws {
        let context = try Context()
        let a = try context.socket(.pair)
        let b = try context.socket(.pair)
        try link(a, b, Endpoints(.inproc))

        try b.send([UInt8]())
        try b.send(UnsafeRawBufferPointer(start: nil, count: 0))
        for _ in 0..<2 {
            let message = try #require(try a.receive(timeout: patience))
            #expect(message.count == 0)
            #expect(message.bytes.isEmpty)
            #expect(!message.more)
        }
    }

    @Test("String, Data, [UInt8] and raw buffers all send the same bytes")
    func sendVariants() throws {
        let context = try Context()
        let a = try context.socket(.pair)
        let b = try context.socket(.pair)
        try link(a, b, Endpoints(.inproc))

        let bytes = Array("héllo".utf8)
        try b.send("héllo")
        try b.send(Data(bytes))
        try b.send(bytes)
        try bytes.withUnsafeBytes { _ = try b.send($0) }
        for _ in 0..<4 {
            let message = try #require(try a.receive(timeout: patience))
            #expect(message.bytes == bytes)
            #expect(message.string == "héllo")
        }
    }

    @Test("closure receive hands over the bytes and the more flag")
    func closureReceive() throws {
        let context = try Context()
        let a = try context.socket(.pair)
        let b = try context.socket(.pair)
        try link(a, b, Endpoints(.inproc))

        try b.sendMultipart([Array("head".utf8), Array("tail".utf8)])
        let head = try a.receive(timeout: patience) { bytes, more in (Array(bytes), more) }
        #expect(head?.0 == Array("head".utf8))
        #expect(head?.1 == true)
        #expect(try a.hasMore)
        let tail = try a.receive { bytes, more in (String(decoding: bytes, as: UTF8.self), more) }
        #expect(tail?.0 == "tail")
        #expect(tail?.1 == false)
        #expect(try a.receive(dontWait: true) { bytes, _ in bytes.count } == nil)
    }

    @Test("receive(into:) refills one buffer: each frame replaces the last; an empty receive empties it")
    func receiveIntoBuffer() throws {
        let context = try Context()
        let a = try context.socket(.pair)
        let b = try context.socket(.pair)
        try link(a, b, Endpoints(.inproc))
        try a.setReceiveTimeout(patience)
        let buffer = ReceiveBuffer()
        #expect(buffer.bytes.isEmpty)

        try b.sendMultipart([Array("first frame".utf8), Array("2nd".utf8)])
        #expect(try a.receive(into: buffer))
        #expect(Array(buffer.bytes) == Array("first frame".utf8) && buffer.more)
        #expect(try a.receive(into: buffer))
        #expect(Array(buffer.bytes) == Array("2nd".utf8) && !buffer.more)
        // A large frame after a small one, then nothing: libzmq releases the old frame first.
        let big = [UInt8](repeating: 0xA5, count: 100_000)
        try b.send(big)
        #expect(try a.receive(into: buffer))
        #expect(buffer.bytes.count == big.count && Array(buffer.bytes) == big)
        #expect(try a.receive(into: buffer, dontWait: true) == false)
        #expect(buffer.bytes.isEmpty)
        // release() lets a frame go at once; the buffer takes the next one as before.
        try b.send(big)
        #expect(try a.receive(into: buffer))
        #expect(buffer.bytes.count == big.count)
        buffer.release()
        #expect(buffer.bytes.isEmpty && !buffer.more)
        buffer.release()   // releasing an empty buffer is harmless
        try b.send(Array("after".utf8))
        #expect(try a.receive(into: buffer))
        #expect(Array(buffer.bytes) == Array("after".utf8))
    }

    @Test("Message copies share one frame and stay valid after the socket is gone")
    func messageOutlivesSocket() throws {
        var kept: Message?
        do {
            let context = try Context()
            let a = try context.socket(.pair)
            let b = try context.socket(.pair)
            try link(a, b, Endpoints(.inproc))
            try b.send("survivor")
            kept = try a.receive(timeout: patience)
        }
        let copy = try #require(kept)
        kept = nil
        #expect(copy.string == "survivor")
    }
}

@Suite("Waiting")
struct WaitingTests {
    @Test("receive(timeout:) returns nil when nothing arrives")
    func receiveTimeout() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind(Endpoints(.inproc).next())

        let clock = ContinuousClock()
        let start = clock.now
        #expect(try pull.receive(timeout: .milliseconds(100)) == nil)
        #expect(clock.now - start >= .milliseconds(90))
        #expect(try pull.receiveMultipart(timeout: .milliseconds(10)) == nil)
        #expect(try pull.receive(timeout: .zero) == nil)
        #expect(try pull.receive(timeout: .milliseconds(10)) { bytes, _ in bytes.count } == nil)
    }

    @Test("RCVTIMEO makes a blocking receive return nil")
    func receiveTimeoutOption() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind(Endpoints(.inproc).next())
        try pull.setReceiveTimeout(.milliseconds(50))
        #expect(try pull.receiveTimeout == .milliseconds(50))

        #expect(try pull.receive() == nil)
        #expect(try pull.receive { bytes, _ in bytes.count } == nil)
        #expect(try pull.receiveMultipart() == nil)
    }

    @Test("dontWait returns nil on an empty socket")
    func dontWait() throws {
        let context = try Context()
        let pull = try context.socket(.pull)
        try pull.bind(Endpoints(.inproc).next())
        #expect(try pull.receive(dontWait: true) == nil)
        #expect(try pull.receiveMultipart(dontWait: true) == nil)
    }

    @Test("send with dontWait returns false when no peer can take the message")
    func sendDontWait() throws {
        let context = try Context()
        let push = try context.socket(.push)
        try push.setLinger(.zero)
        try push.bind(Endpoints(.inproc).next())
        #expect(try push.send("nobody listens", dontWait: true) == false)
        #expect(try push.sendMultipart([[1], [2]], dontWait: true) == false)
    }
}
