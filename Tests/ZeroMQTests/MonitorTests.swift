import Testing
import ZeroMQ

@Suite("Monitor")
struct MonitorTests {
    @Test("monitor reports accepted, connected and disconnected", arguments: [Transport.ipc, .tcp])
    func events(transport: Transport) throws {
        let endpoints = Endpoints(transport)
        let context = try Context()
        let server = try context.socket(.pull)
        let serverMonitor = try server.monitor([.listening, .accepted, .disconnected])
        try server.bind(endpoints.next())
        let endpoint = try server.lastEndpoint
        let listening = try #require(try waitForEvent(.listening, on: serverMonitor))
        #expect(listening.endpoint == endpoint)

        let client = try context.socket(.push)
        try client.setLinger(.zero)
        let clientMonitor = try client.monitor(.all)
        try client.connect(endpoint)

        let connected = try #require(try waitForEvent(.connected, on: clientMonitor))
        #expect(connected.event == .connected)
        #expect(connected.endpoint == endpoint)
        let accepted = try #require(try waitForEvent(.accepted, on: serverMonitor))
        #expect(accepted.event == .accepted)

        client.close()
        let disconnected = try #require(try waitForEvent(.disconnected, on: serverMonitor))
        #expect(disconnected.event == .disconnected)
    }
}
