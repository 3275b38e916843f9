import Foundation
import Testing
import ZeroMQ

/// ConnectionWatch: a frame above ZMQ_MAXMSGSIZE drops a connection; the
/// connecting side counts it and connects again, the bound side counts it.
@Suite("Connection watch")
struct ConnectionWatchTests {
    /// Checks the watch until `done` holds (every 100 ms, bounded by `patience`).
    func checkUntil(_ watch: ConnectionWatch, _ socket: borrowing Socket, _ done: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            watch.check(socket)
            if done() { return true }
            usleep(100_000)
        }
        return false
    }

    @Test("connecting side: an oversized frame from the publisher is counted once, and the subscriber receives again",
          arguments: [Transport.ipc, .tcp])
    func connecting(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let pub = try context.socket(.pub)
        try pub.setLinger(.zero)
        try pub.bind(endpoints.next())
        let endpoint = try pub.lastEndpoint
        let sub = try context.socket(.sub)
        try sub.setLinger(.zero)
        try sub.setMaxMessageSize(1_000)
        try sub.subscribe("")
        try sub.connect(endpoint)
        let watch = try ConnectionWatch(sub, connecting: [endpoint])
        func delivered() throws -> Bool {
            let deadline = ContinuousClock.now + patience
            while ContinuousClock.now < deadline {
                _ = try pub.send("ping", dontWait: true)
                if try sub.receive(timeout: .milliseconds(50)) != nil { return true }
            }
            return false
        }
        #expect(try delivered())
        _ = try pub.send([UInt8](repeating: 7, count: 2_000))
        #expect(checkUntil(watch, sub) { watch.dropped == 1 }, "dropped \(watch.dropped), disconnects \(watch.disconnects)")
        while try sub.receive(dontWait: true) != nil {}
        #expect(try delivered(), "nothing arrives after the reconnect")
        watch.check(sub)
        #expect(watch.dropped == 1 && watch.disconnects == 1)
    }

    @Test("connecting side: a peer that goes away is an ordinary disconnect, retried, not a drop")
    func ordinaryClose() throws {
        let endpoints = Endpoints(.tcp)
        let context = try Context()
        let server = try context.socket(.router)
        try server.setLinger(.zero)
        try server.bind(endpoints.next())
        let endpoint = try server.lastEndpoint
        let client = try context.socket(.dealer)
        try client.setLinger(.zero)
        try client.connect(endpoint)
        let watch = try ConnectionWatch(client, connecting: [endpoint])
        _ = try client.send("hello")
        #expect(try server.receiveMultipart(timeout: patience) != nil)
        server.close()
        #expect(checkUntil(watch, client) { watch.disconnects == 1 })
        for _ in 0..<3 { watch.check(client); usleep(100_000) }
        #expect(watch.dropped == 0, "libzmq retries an ordinary close itself")
    }

    @Test("bound side: a client's oversized request ends its connection, counted")
    func bound() throws {
        let endpoints = Endpoints(.tcp)
        let context = try Context()
        let server = try context.socket(.router)
        try server.setLinger(.zero)
        try server.setMaxMessageSize(1_000)
        try server.bind(endpoints.next())
        let watch = try ConnectionWatch(server)
        let client = try context.socket(.dealer)
        try client.setLinger(.zero)
        try client.connect(try server.lastEndpoint)
        _ = try client.send([UInt8](repeating: 1, count: 2_000))
        #expect(checkUntil(watch, server) { watch.disconnects == 1 })
        _ = try client.send("small")
        #expect(try server.receiveMultipart(timeout: patience)?.last?.string == "small")
        #expect(watch.dropped == 0)
    }
}
