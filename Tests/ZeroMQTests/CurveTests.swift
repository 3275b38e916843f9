import Testing
import ZeroMQ

@Suite("CURVE", .enabled(if: Context.has("curve")))
struct CurveTests {
    @Test("generated keys are 40 Z85 characters and differ")
    func keyPair() throws {
        let a = try CurveKeyPair.generate()
        let b = try CurveKeyPair.generate()
        #expect(a.publicKey.utf8.count == 40)
        #expect(a.secretKey.utf8.count == 40)
        #expect(a != b)
    }

    @Test("a CURVE client with the server's key delivers; one with the wrong key does not")
    func encryptedPushPull() throws {
        let endpoints = Endpoints(.tcp)
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let impostorKeys = try CurveKeyPair.generate()

        let context = try Context()
        let server = try context.socket(.pull)
        try server.setCurveServer(true)
        try server.setCurveSecretKey(serverKeys.secretKey)
        let serverMonitor = try server.monitor([.handshakeSucceeded, .handshakeFailed])
        try server.bind(endpoints.next())
        let endpoint = try server.lastEndpoint

        let good = try context.socket(.push)
        try good.setLinger(.zero)
        try good.setCurveServerKey(serverKeys.publicKey)
        try good.setCurvePublicKey(clientKeys.publicKey)
        try good.setCurveSecretKey(clientKeys.secretKey)
        try good.connect(endpoint)
        try good.send("encrypted hello")
        #expect(try receiveString(server) == "encrypted hello")
        #expect(try waitForEvent(.handshakeSucceeded, on: serverMonitor) != nil)
        good.close()

        let bad = try context.socket(.push)
        try bad.setLinger(.zero)
        try bad.setCurveServerKey(impostorKeys.publicKey)
        try bad.setCurvePublicKey(clientKeys.publicKey)
        try bad.setCurveSecretKey(clientKeys.secretKey)
        try bad.connect(endpoint)
        try bad.send("should not arrive")
        #expect(try waitForEvent(.handshakeFailed, on: serverMonitor) != nil)
        #expect(try server.receive(timeout: .milliseconds(300)) == nil)
    }

    @Test("a malformed key is rejected")
    func malformedKey() throws {
        let context = try Context()
        let socket = try context.socket(.push)
        let error = try #require(throws: ZMQError.self) { try socket.setCurveServerKey("too short") }
        #expect(error.code == .invalidArgument)
        #expect(error.operation.contains("ZMQ_CURVE_SERVERKEY"))
    }
}
