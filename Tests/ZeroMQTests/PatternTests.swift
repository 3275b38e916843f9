import Testing
import ZeroMQ

@Suite("Messaging patterns")
struct PatternTests {
    @Test("PUB/SUB delivers only subscribed prefixes", arguments: Transport.allCases)
    func pubSubFiltersByPrefix(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let publisher = try context.socket(.pub)
        let subscriber = try context.socket(.sub)
        try publisher.setLinger(.zero)
        try subscriber.subscribe("A")
        try link(publisher, subscriber, endpoints)

        #expect(try publishUntilReceived("A-sync", from: publisher, to: subscriber) == "A-sync")

        try publisher.send("B-not-subscribed")
        try publisher.send("A-last")
        var received: [String] = []
        while let message = try receiveString(subscriber), message != "A-last" {
            received.append(message)
        }
        #expect(received.allSatisfy { $0 == "A-sync" }, "got \(received)")

        // After unsubscribing, nothing with the prefix arrives any more.
        try subscriber.subscribe("C")
        #expect(try publishUntilReceived("C-sync", from: publisher, to: subscriber) == "C-sync")
        try subscriber.unsubscribe("A")
        try subscriber.unsubscribe("C")
        try subscriber.subscribe("D")
        #expect(try publishUntilReceived("D-sync", from: publisher, to: subscriber) != nil)
        try publisher.send("A-after-unsubscribe")
        try publisher.send("D-last")
        var late: [String] = []
        while let message = try receiveString(subscriber), message != "D-last" { late.append(message) }
        #expect(!late.contains("A-after-unsubscribe"))
    }

    @Test("PUSH/PULL delivers all messages in order", arguments: Transport.allCases)
    func pushPull(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let pull = try context.socket(.pull)
        let push = try context.socket(.push)
        try push.setLinger(.zero)
        try link(pull, push, endpoints)

        for i in 0..<100 { try push.send("message \(i)") }
        for i in 0..<100 { #expect(try receiveString(pull) == "message \(i)") }
    }

    @Test("ROUTER sees the DEALER's routing id and routes the reply back", arguments: Transport.allCases)
    func routerDealer(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let router = try context.socket(.router)
        let dealer = try context.socket(.dealer)
        let other = try context.socket(.dealer)
        try router.setLinger(.zero)
        try dealer.setLinger(.zero)
        try other.setLinger(.zero)
        try dealer.setRoutingID(Array("dealer-1".utf8))
        try other.setRoutingID(Array("dealer-2".utf8))
        #expect(try dealer.routingID == Array("dealer-1".utf8))
        try router.setRouterMandatory(true)
        let endpoint = try link(router, dealer, endpoints)
        try other.connect(endpoint)

        try dealer.send("hello")
        let request = try #require(try receiveStrings(router))
        #expect(request == ["dealer-1", "hello"])

        try router.sendMultipart([Array("dealer-1".utf8), Array("reply".utf8)])
        #expect(try receiveString(dealer) == "reply")
        #expect(try other.receive(dontWait: true) == nil)

        #expect(throws: ZMQError.self) {
            try router.sendMultipart([Array("nobody".utf8), Array("lost".utf8)])
        }
    }

    @Test("XPUB sees subscriptions (duplicates too when verbose) and publishes to XSUB", arguments: Transport.allCases)
    func xpubXsub(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let xpub = try context.socket(.xpub)
        let xsub = try context.socket(.xsub)
        try xpub.setLinger(.zero)
        try xsub.setLinger(.zero)
        try xpub.setXPubVerbose(true)
        try link(xpub, xsub, endpoints)

        let subscription: [UInt8] = [1] + Array("topic".utf8)
        try xsub.send(subscription)
        try xsub.send(subscription)
        #expect(try xpub.receive(timeout: patience)?.bytes == subscription)
        #expect(try xpub.receive(timeout: patience)?.bytes == subscription, "verbose XPUB passes duplicates")

        try xpub.send("topic data")
        try xpub.send("other data")
        try xpub.send("topic end")
        #expect(try receiveString(xsub) == "topic data")
        #expect(try receiveString(xsub) == "topic end")

        // XSUB counts subscriptions and forwards the unsubscription once the last one is gone.
        try xsub.send([0] + Array("topic".utf8))
        try xsub.send([0] + Array("topic".utf8))
        #expect(try xpub.receive(timeout: patience)?.bytes == [0] + Array("topic".utf8))
    }

    @Test("REQ/REP round trips requests and replies", arguments: Transport.allCases)
    func reqRep(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let rep = try context.socket(.rep)
        let req = try context.socket(.req)
        try req.setLinger(.zero)
        try link(rep, req, endpoints)

        for i in 0..<5 {
            try req.send("ping \(i)")
            #expect(try receiveString(rep) == "ping \(i)")
            try rep.send("pong \(i)")
            #expect(try receiveString(req) == "pong \(i)")
        }
    }
}
