import Foundation
import Testing
import ZeroMQ

/// The transports every messaging-pattern test runs over.
enum Transport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inproc, ipc, tcp

    var testDescription: String { rawValue }
}

/// Bound for every wait in the tests; generous so a loaded machine does not fail them.
let patience: Duration = .seconds(5)

/// Unique endpoints for one test: inproc names with a UUID, ipc paths in a
/// private temporary directory (removed in deinit), tcp on an ephemeral port.
final class Endpoints {
    let transport: Transport
    private let directory: String
    private var serial = 0

    init(_ transport: Transport) {
        self.transport = transport
        directory = "/tmp/zmqtest-\(UUID().uuidString.lowercased())"
        if transport == .ipc {
            try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    deinit {
        if transport == .ipc { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// A fresh endpoint to bind; read the real address back with `lastEndpoint`.
    func next() -> String {
        serial += 1
        switch transport {
        case .inproc: return "inproc://zmqtest-\(UUID().uuidString)-\(serial)"
        case .ipc: return "ipc://\(directory)/\(serial).ipc"
        case .tcp: return "tcp://127.0.0.1:*"
        }
    }
}

/// Binds `server` to a fresh endpoint, connects `client` to it, and returns the endpoint.
@discardableResult
func link(_ server: borrowing Socket, _ client: borrowing Socket, _ endpoints: Endpoints) throws -> String {
    try server.bind(endpoints.next())
    let endpoint = try server.lastEndpoint
    try client.connect(endpoint)
    return endpoint
}

/// Receives one frame as a string, waiting at most `patience`.
func receiveString(_ socket: borrowing Socket, timeout: Duration = patience) throws -> String? {
    try socket.receive(timeout: timeout)?.string
}

/// Receives one multipart message as strings, waiting at most `patience`.
func receiveStrings(_ socket: borrowing Socket, timeout: Duration = patience) throws -> [String]? {
    try socket.receiveMultipart(timeout: timeout)?.map(\.string)
}

/// Publishes `message` repeatedly until `subscriber` gets something (the slow
/// joiner problem: a SUB misses what is published before its subscription
/// reaches the PUB). Returns the first string received, or nil after `patience`.
func publishUntilReceived(_ message: String, from publisher: borrowing Socket, to subscriber: borrowing Socket) throws -> String? {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: patience)
    while clock.now < deadline {
        try publisher.send(message)
        if let received = try subscriber.receive(timeout: .milliseconds(20)) { return received.string }
    }
    return nil
}

/// Reads monitor events until one in `wanted` arrives; nil after `patience`.
func waitForEvent(_ wanted: MonitorEvents, on monitor: borrowing Socket) throws -> MonitorEvent? {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: patience)
    while true {
        let remaining = clock.now.duration(to: deadline)
        if remaining <= .zero { return nil }
        guard let event = try MonitorEvent.read(from: monitor, timeout: remaining) else { return nil }
        if !event.event.isDisjoint(with: wanted) { return event }
    }
}
