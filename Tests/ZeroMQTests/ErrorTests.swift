import Testing
import ZeroMQ

@Suite("Errors")
struct ErrorTests {
    @Test("binding a malformed endpoint throws the right code and names the endpoint", arguments: [
        ("tcp://nohost:abc", ZMQError.Code.invalidArgument),
        ("bogus://x", ZMQError.Code.protocolNotSupported),
    ])
    func badBind(endpoint: String, code: ZMQError.Code) throws {
        let context = try Context()
        let socket = try context.socket(.pull)
        let error = try #require(throws: ZMQError.self) { try socket.bind(endpoint) }
        #expect(error.code == code)
        #expect(error.operation == "bind \(endpoint)")
        #expect(error.description == "bind \(endpoint): \(code.description)")
    }

    @Test("connecting to a malformed endpoint throws invalidArgument")
    func badConnect() throws {
        let context = try Context()
        let socket = try context.socket(.push)
        let error = try #require(throws: ZMQError.self) { try socket.connect("tcp://nohost:x") }
        #expect(error.code == .invalidArgument)
        #expect(error.description == "connect tcp://nohost:x: Invalid argument")
    }

    @Test("binding an address in use throws addressInUse")
    func addressInUse() throws {
        let context = try Context()
        let first = try context.socket(.pull)
        let second = try context.socket(.pull)
        try first.bind("tcp://127.0.0.1:*")
        let endpoint = try first.lastEndpoint

        let error = try #require(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error.code == .addressInUse)
        #expect(error.description.contains(endpoint))
        #expect(error.description.contains("Address already in use"))
    }

    @Test("error codes match in catch clauses")
    func catchPatterns() throws {
        let context = try Context()
        let req = try context.socket(.req)
        do {
            _ = try req.receive(dontWait: true)
            Issue.record("REQ receive before send should fail")
        } catch ZMQError.Code.wrongState {
            // expected: EFSM
        }

        let push = try context.socket(.push)
        try push.setLinger(.zero)
        try push.setSendTimeout(.zero)
        try push.bind("inproc://\(#function)-\(Int.random(in: 0..<Int.max))")
        do {
            try push.send("no peer")
            Issue.record("send without peers and SNDTIMEO 0 should fail")
        } catch .again {
            // expected: EAGAIN
        }

        #expect(!(ZMQError.Code.again ~= ZMQError(code: .terminated, operation: "x")))
        #expect(ZMQError.Code.terminated ~= ZMQError(code: .terminated, operation: "x") as any Error)
    }

    @Test("unbinding an endpoint that is not bound throws")
    func unbindUnknown() throws {
        let context = try Context()
        let socket = try context.socket(.pull)
        #expect(throws: ZMQError.self) { try socket.unbind("tcp://127.0.0.1:1") }
        #expect(throws: ZMQError.self) { try socket.disconnect("tcp://127.0.0.1:1") }
    }

    @Test("a message above MAXMSGSIZE is not delivered", arguments: [Transport.ipc, .tcp])
    func maxMessageSize(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let pull = try context.socket(.pull)
        let push = try context.socket(.push)
        try push.setLinger(.zero)
        try pull.setMaxMessageSize(100)
        #expect(try pull.maxMessageSize == 100)
        try link(pull, push, endpoints)

        try push.send([UInt8](repeating: 7, count: 100))
        #expect(try pull.receive(timeout: patience)?.count == 100)

        try push.send([UInt8](repeating: 7, count: 1000))
        #expect(try pull.receive(timeout: .milliseconds(300)) == nil)
    }
}
