import Foundation
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

@Suite("CURVE keys and the ZAP handler", .enabled(if: Context.has("curve")))
struct CurveAuthenticatorTests {
    /// Waits until `condition` holds, at most `patience`.
    func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now.advanced(by: patience)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }

    @Test("a secret key gives back its public key; Z85 of 32 bytes is 40 characters")
    func derivedPublicKey() throws {
        let pair = try CurveKeyPair.generate()
        #expect(try CurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(CurveKeyPair.isZ85Key(pair.publicKey) && !CurveKeyPair.isZ85Key("short") && !CurveKeyPair.isZ85Key(String(repeating: " ", count: 40)))
        #expect(CurveKeyPair.z85([UInt8](repeating: 0, count: 32))?.utf8.count == 40)
        #expect(CurveKeyPair.z85([1, 2, 3]) == nil)
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: "not a key") }
    }

    @Test("admitted keys deliver with their name as User-Id; a stranger's key and a plain peer are refused and recorded")
    func admitsAndRefuses() throws {
        let server = try CurveKeyPair.generate(), friend = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let context = try Context()
        let auth = try CurveAuthenticator(context: context, allowed: [friend.publicKey: "friend"])
        defer { auth.stop() }
        let pull = try context.socket(.pull)
        try pull.setLinger(.zero)
        try pull.setCurveServer(true)
        try pull.setCurveSecretKey(server.secretKey)
        try auth.watch(pull, as: "inbox", server: true)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try pull.lastEndpoint

        func client(_ keys: CurveKeyPair?) throws -> Socket {
            let push = try context.socket(.push)
            try push.setLinger(.zero)
            if let keys {
                try push.setCurveServerKey(server.publicKey)
                try push.setCurvePublicKey(keys.publicKey)
                try push.setCurveSecretKey(keys.secretKey)
            }
            try push.connect(endpoint)
            return push
        }
        let good = try client(friend)
        try good.send("from a friend")
        let message = try #require(try pull.receive(timeout: patience))
        #expect(message.string == "from a friend")
        #expect(message.metadata("User-Id") == "friend")
        let bad = try client(stranger)
        try bad.send("from a stranger", dontWait: true)
        let plain = try client(nil)
        try plain.send("in the clear", dontWait: true)
        #expect(eventually { auth.counts.keyRefused >= 1 && auth.counts.handshakeFailed >= 1 }, "\(auth.counts)")
        #expect(try pull.receive(timeout: .milliseconds(200)) == nil, "a refused client's message arrived")
        #expect(auth.counts.admitted == 1)
        let refused = try #require(auth.records.first { $0.outcome == .keyRefused })
        #expect(refused.socket == "inbox" && refused.publicKey == stranger.publicKey && refused.address == "127.0.0.1", "\(refused)")
        #expect(auth.records.contains { $0.outcome == .handshakeFailed && $0.socket == "inbox" && $0.publicKey.isEmpty })
        // New records are handed over once.
        #expect(auth.takeNew().count == auth.records.count)
        #expect(auth.takeNew().isEmpty)
    }

    @Test("a client's own refusal is recorded on its side")
    func refusedByServer() throws {
        let server = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let serverContext = try Context(), clientContext = try Context()
        let serverAuth = try CurveAuthenticator(context: serverContext, allowed: [:])
        defer { serverAuth.stop() }
        let clientAuth = try CurveAuthenticator(context: clientContext, allowed: [:])
        defer { clientAuth.stop() }
        let router = try serverContext.socket(.router)
        try router.setLinger(.zero)
        try router.setCurveServer(true)
        try router.setCurveSecretKey(server.secretKey)
        try serverAuth.watch(router, as: "service", server: true)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try clientContext.socket(.dealer)
        try dealer.setLinger(.zero)
        try dealer.setCurveServerKey(server.publicKey)
        try dealer.setCurvePublicKey(stranger.publicKey)
        try dealer.setCurveSecretKey(stranger.secretKey)
        try clientAuth.watch(dealer, as: "requests", server: false)
        try dealer.connect(try router.lastEndpoint)
        #expect(eventually { clientAuth.counts.refusedByServer >= 1 }, "\(clientAuth.counts)")
        let record = try #require(clientAuth.records.first)
        #expect(record.outcome == .refusedByServer && record.socket == "requests" && record.reason.contains("400"), "\(record)")
        #expect(serverAuth.records.first?.publicKey == stranger.publicKey)
    }

    @Test("a second handler in one context is refused; records stop at the limit and are still counted")
    func oneHandlerAndBoundedRecords() throws {
        let context = try Context()
        let auth = try CurveAuthenticator(context: context, allowed: [:])
        defer { auth.stop() }
        #expect(throws: ZMQError.self) { try CurveAuthenticator(context: context, allowed: [:]) }
        for i in 0..<(CurveAuthenticator.maxRecords + 10) {
            auth.record(.keyRefused, socket: "s", address: "10.0.0.\(i)", publicKey: "", reason: "test")
        }
        auth.record(.keyRefused, socket: "s", address: "10.0.0.0", publicKey: "", reason: "test")
        #expect(auth.records.count == CurveAuthenticator.maxRecords)
        #expect(auth.counts.keyRefused == UInt64(CurveAuthenticator.maxRecords + 11) && auth.counts.unrecorded == 10)
        #expect(auth.records[0].count == 2)
    }
}
