import Testing
import ZeroMQ

@Suite("Options")
struct OptionTests {
    @Test("CONFLATE keeps only the latest message")
    func conflate() throws {
        let context = try Context()
        let push = try context.socket(.push)
        let pull = try context.socket(.pull)
        try push.setLinger(.zero)
        try pull.setConflate(true)
        // inproc pipes are created at connect time with the connecting
        // socket's options, and writes land in the pipe synchronously.
        try link(push, pull, Endpoints(.inproc))

        for i in 1...10 { try push.send("update \(i)") }
        #expect(try receiveString(pull) == "update 10")
        #expect(try pull.receive(dontWait: true) == nil)
    }

    @Test("options set are read back")
    func readBack() throws {
        let context = try Context()
        let socket = try context.socket(.dealer)
        try socket.setSendHighWaterMark(123)
        try socket.setReceiveHighWaterMark(456)
        #expect(try socket.sendHighWaterMark == 123)
        #expect(try socket.receiveHighWaterMark == 456)

        try socket.setLinger(nil)
        #expect(try socket.linger == nil)
        try socket.setLinger(.milliseconds(250))
        #expect(try socket.linger == .milliseconds(250))
        try socket.setLinger(.microseconds(1))
        #expect(try socket.linger == .milliseconds(1), "sub-millisecond durations round up")

        try socket.setSendTimeout(.seconds(2))
        #expect(try socket.sendTimeout == .seconds(2))
        try socket.setReceiveTimeout(nil)
        #expect(try socket.receiveTimeout == nil)

        try socket.setRoutingID([9, 8, 7])
        #expect(try socket.routingID == [9, 8, 7])
        #expect(try socket.fileDescriptor >= 0)
        #expect(try socket.hasMore == false)
        #expect(socket.type == .dealer)

        // Options without getters: they must at least be accepted.
        try socket.setSendBufferSize(65536)
        try socket.setReceiveBufferSize(65536)
        try socket.setImmediate(true)
        try socket.setReconnectInterval(.milliseconds(50))
    }

    @Test("options the socket type does not support throw")
    func wrongSocketType() throws {
        let context = try Context()
        let push = try context.socket(.push)
        #expect(throws: ZMQError.self) { try push.subscribe("x") }
    }

    @Test("version and capabilities")
    func versionAndCapabilities() {
        #expect(Context.version.major == 4)
        #expect(Context.has("ipc"))
        #expect(!Context.has("no-such-capability"))
    }
}
