import CZeroMQ
import Foundation
import Synchronization

/// A ZAP handler (ZeroMQ RFC 27) for the CURVE servers of one context, and a
/// watch on the handshakes of its sockets, on a thread of its own.
///
/// It admits a client whose long-term public key is one of `allowed`,
/// answering `200` with the key's name as the user id (every message from
/// that client then carries it as its `User-Id` property, see
/// ``Message/metadata(_:)``), and refuses any other key with `400`. The
/// handshakes that fail before a key is offered (a peer that does not speak
/// CURVE, a client that expects another server key) are seen on the sockets'
/// monitors, and so is a server's refusal of this process's own key. Each is
/// counted and recorded: by outcome, socket, peer address and key, with a
/// count per distinct record and at most ``maxRecords`` records.
///
/// One per context, made before any of the context's CURVE servers binds:
/// it binds `inproc://zeromq.zap.01`, and libzmq lets every client in while
/// no handler is bound there. ``watch(_:as:server:)`` and ``stop()`` are
/// called from the thread that made it (they use its end of a PAIR socket).
public final class CurveAuthenticator {
    /// Where libzmq sends a context's ZAP requests.
    public static let zapEndpoint = "inproc://zeromq.zap.01"
    /// Distinct records kept; past them, refusals are only counted.
    public static let maxRecords = 64

    /// What became of a connection that was not let through.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// A client offered a key that is not admitted: refused (ZAP 400).
        case keyRefused = "key-refused"
        /// A handshake failed before any key was offered: the peer does not
        /// speak CURVE, or expects another server key.
        case handshakeFailed = "handshake-failed"
        /// A server refused this process's key.
        case refusedByServer = "refused-by-server"
    }

    /// One kind of refusal, and how often it happened.
    public struct Record: Sendable, Hashable {
        public var outcome: Outcome
        /// The socket's label (its ZAP domain for a server), e.g. `publish`.
        public var socket: String
        /// The peer's IP address (a ZAP request's), or the server's endpoint
        /// (a refusal of this process's key); empty when unknown.
        public var address: String
        /// The public key offered, in Z85; empty when none was.
        public var publicKey: String
        /// Why, in words.
        public var reason: String
        public var count: UInt64

        public init(outcome: Outcome, socket: String, address: String, publicKey: String, reason: String, count: UInt64) {
            self.outcome = outcome
            self.socket = socket
            self.address = address
            self.publicKey = publicKey
            self.reason = reason
            self.count = count
        }
    }

    /// How many connections each outcome had, and the clients admitted.
    public struct Counts: Sendable, Hashable {
        public var admitted: UInt64 = 0
        public var keyRefused: UInt64 = 0
        public var handshakeFailed: UInt64 = 0
        public var refusedByServer: UInt64 = 0
        /// Refusals beyond ``maxRecords`` distinct records (counted above, not recorded).
        public var unrecorded: UInt64 = 0

        public init() {}
    }

    private let shared: Shared
    private let commands: Socket
    private let done = DispatchSemaphore(value: 0)
    private var stopped = false

    /// Binds the ZAP endpoint in `context` and starts the handler's thread.
    /// - Parameters:
    ///   - context: The context whose CURVE servers it answers for.
    ///   - allowed: The admitted public keys (Z85), each with the name it is given as user id.
    ///   - onFirst: Called on the handler's thread when a distinct record is first made (to log it).
    /// - Throws: ``ZMQError``, e.g. ``ZMQError/Code/addressInUse`` when the context already has a handler.
    public init(context: Context, allowed: [String: String], onFirst: (@Sendable (Record) -> Void)? = nil) throws {
        shared = Shared(allowed: allowed, onFirst: onFirst)
        let zap = try context.socket(.rep)
        try zap.setLinger(.zero)
        try zap.bind(Self.zapEndpoint)
        let commandEndpoint = "inproc://clustersim.zap.commands.\(commandSequence.add(1, ordering: .relaxed).newValue)"
        commands = try context.socket(.pair)
        try commands.setLinger(.zero)
        try commands.bind(commandEndpoint)
        let peer = try context.socket(.pair)
        try peer.setLinger(.zero)
        try peer.connect(commandEndpoint)
        let loop = Loop(context: context, zap: zap, commands: peer, shared: shared)
        let done = self.done
        let thread = Thread {
            loop.run()
            done.signal()
        }
        thread.name = "zap-handler"
        thread.start()
    }

    deinit { stop() }

    /// Watches a socket's handshakes; a server socket also gets its ZAP domain.
    ///
    /// Call before the socket binds or connects: the watch is in place when this returns.
    /// libzmq allows one monitor per socket: a ``ConnectionWatch`` of the same
    /// socket gets its events through `forwarding`.
    /// - Parameters:
    ///   - socket: The socket, a CURVE server or client.
    ///   - label: What the records call it, e.g. `publish`; a server's ZAP domain.
    ///   - server: Whether it is a CURVE server (its refusals are of peers) or a client (of itself).
    ///   - forwarding: Where the connection events a ``ConnectionWatch`` reads are handed over.
    /// - Throws: ``ZMQError`` when the monitor cannot be started or the handler does not answer within 5 s.
    public func watch(_ socket: borrowing Socket, as label: String, server: Bool, forwarding inbox: ConnectionWatch.Inbox? = nil) throws {
        if server { try socket.setZAPDomain(label) }
        var events: MonitorEvents = server
            ? [.handshakeFailedProtocol, .handshakeFailedNoDetail, .monitorStopped]
            : [.handshakeFailedAuth, .handshakeFailedProtocol, .monitorStopped]
        if inbox != nil { events.formUnion(ConnectionWatch.events(connecting: !server)) }
        let endpoint = try socket.startMonitor(events)
        if let inbox { shared.inboxes.withLock { $0[endpoint] = inbox } }
        try commands.sendMultipart([Array("watch".utf8), Array(endpoint.utf8), Array(label.utf8), [server ? 1 : 0]])
        guard try commands.receive(timeout: .seconds(5)) != nil else {
            throw ZMQError(code: .again, operation: "watch \(label): the ZAP handler's thread did not answer")
        }
    }

    /// The counts so far.
    public var counts: Counts { shared.state.withLock { $0.counts } }

    /// Every record so far, in the order first seen.
    public var records: [Record] { shared.state.withLock { $0.records } }

    /// The records first seen since the last call, as they were then.
    public func takeNew() -> [Record] {
        shared.state.withLock { state in
            defer { state.reported = state.records.count }
            return Array(state.records[state.reported...])
        }
    }

    /// Records a refusal decided above the handshake (by the owner of a socket,
    /// e.g. a message whose `User-Id` is not the sender it claims to be).
    public func record(_ outcome: Outcome, socket: String, address: String, publicKey: String, reason: String) {
        shared.refused(outcome, socket: socket, address: address, publicKey: publicKey, reason: reason)
    }

    /// Ends the handler's thread and closes its sockets; waits for it at most 5 s. Idempotent.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? commands.send(Array("stop".utf8), dontWait: true)
        _ = done.wait(timeout: .now() + 5)
    }

    // MARK: - The handler's thread

    /// What the thread and its owner share.
    final class Shared: Sendable {
        struct State {
            var counts = Counts()
            var records: [Record] = []
            var index: [Record: Int] = [:]
            var reported = 0
        }

        let allowed: [String: String]
        let onFirst: (@Sendable (Record) -> Void)?
        let state = Mutex(State())
        /// Where each watched monitor's connection events go, by its endpoint.
        let inboxes = Mutex<[String: ConnectionWatch.Inbox]>([:])

        init(allowed: [String: String], onFirst: (@Sendable (Record) -> Void)?) {
            self.allowed = allowed
            self.onFirst = onFirst
        }

        func admitted() {
            state.withLock { $0.counts.admitted += 1 }
        }

        /// Counts one refusal, in its record (a new one when first seen and there is room).
        func refused(_ outcome: Outcome, socket: String, address: String, publicKey: String, reason: String) {
            let key = Record(outcome: outcome, socket: socket, address: address, publicKey: publicKey, reason: reason, count: 0)
            let first: Record? = state.withLock { s in
                switch outcome {
                case .keyRefused: s.counts.keyRefused += 1
                case .handshakeFailed: s.counts.handshakeFailed += 1
                case .refusedByServer: s.counts.refusedByServer += 1
                }
                if let i = s.index[key] {
                    s.records[i].count += 1
                    return nil
                }
                guard s.records.count < CurveAuthenticator.maxRecords else {
                    s.counts.unrecorded += 1
                    return nil
                }
                var record = key
                record.count = 1
                s.index[key] = s.records.count
                s.records.append(record)
                return record
            }
            if let first { onFirst?(first) }
        }
    }

    /// The thread's sockets: the ZAP endpoint, its end of the command PAIR, and a PAIR per watched monitor.
    /// Made on the owner's thread and used only by the handler's from then on (a migration).
    final class Loop: @unchecked Sendable {
        final class Watched {
            let pair: Socket
            let label: String
            let server: Bool
            let inbox: ConnectionWatch.Inbox?
            init(pair: consuming Socket, label: String, server: Bool, inbox: ConnectionWatch.Inbox?) {
                self.pair = pair
                self.label = label
                self.server = server
                self.inbox = inbox
            }
        }

        let context: Context
        let zap: Socket
        let commands: Socket
        let shared: Shared
        var watched: [Watched] = []

        init(context: Context, zap: consuming Socket, commands: consuming Socket, shared: Shared) {
            self.context = context
            self.zap = zap
            self.commands = commands
            self.shared = shared
        }

        func run() {
            while true {
                var poller = Poller()
                let zapIndex = poller.add(zap)
                let commandIndex = poller.add(commands)
                let first = poller.count
                for w in watched { poller.add(w.pair) }
                guard (try? poller.poll(timeout: nil)) != nil else { return }
                // The monitors polled first: a command may add one the poll did not cover.
                var ended: [Int] = []
                for (i, w) in watched.enumerated() where poller.events(at: first + i).contains(.readable) {
                    if !readEvents(w) { ended.append(i) }
                }
                for i in ended.reversed() { watched.remove(at: i) }
                if poller.events(at: zapIndex).contains(.readable) { answerZAP() }
                if poller.events(at: commandIndex).contains(.readable), !command() { return }
            }
        }

        /// A command from the owner: watch a monitor (answered once connected), or stop.
        /// - Returns: false for stop.
        private func command() -> Bool {
            guard let frames = try? commands.receiveMultipart(dontWait: true) else { return true }
            guard frames.count == 4, frames[0].string == "watch" else { return false }
            if let pair = try? context.socket(.pair) {
                try? pair.setLinger(.zero)
                try? pair.setReceiveHighWaterMark(0)
                if (try? pair.connect(frames[1].string)) != nil {
                    let inbox = shared.inboxes.withLock { $0.removeValue(forKey: frames[1].string) }
                    watched.append(Watched(pair: pair, label: frames[2].string, server: frames[3].bytes == [1], inbox: inbox))
                }
            }
            _ = try? commands.send(Array("ok".utf8), dontWait: true)
            return true
        }

        /// Answers one ZAP request: 200 for an admitted CURVE key, 400 for anything else.
        private func answerZAP() {
            guard let frames = try? zap.receiveMultipart(dontWait: true) else { return }
            guard let request = ZAPRequest(frames.map(\.bytes)) else {
                // Not a ZAP request libzmq would send: answer so the REP socket can go on.
                _ = try? zap.sendMultipart(ZAPRequest.reply(requestID: [], status: "500", text: "malformed request", userID: ""))
                return
            }
            let key = request.curveKey ?? ""
            if let name = shared.allowed[key] {
                shared.admitted()
                _ = try? zap.sendMultipart(ZAPRequest.reply(requestID: request.requestID, status: "200", text: "OK", userID: name))
            } else {
                let reason = request.mechanism == "CURVE" ? "key not admitted" : "mechanism \(request.mechanism) not admitted"
                shared.refused(.keyRefused, socket: request.domain, address: request.address, publicKey: key, reason: reason)
                _ = try? zap.sendMultipart(ZAPRequest.reply(requestID: request.requestID, status: "400", text: reason, userID: ""))
            }
        }

        /// Reads a monitor's events. - Returns: false once the monitor stopped (the socket was closed).
        private func readEvents(_ w: Watched) -> Bool {
            while let event = try? MonitorEvent.read(from: w.pair, timeout: .zero) {
                switch event.event {
                case .monitorStopped:
                    return false
                case .disconnected, .connectRetried, .connected:
                    w.inbox?.post(event)
                case .handshakeFailedAuth:
                    shared.refused(.refusedByServer, socket: w.label, address: event.endpoint, publicKey: "",
                                   reason: "the server refused this key (ZAP status \(event.value))")
                default:
                    shared.refused(w.server ? .handshakeFailed : .refusedByServer, socket: w.label,
                                   address: w.server ? "" : event.endpoint, publicKey: "",
                                   reason: CurveAuthenticator.describe(event))
                }
            }
            return true
        }
    }

    /// A failed handshake in words.
    static func describe(_ event: MonitorEvent) -> String {
        switch (event.event, Int32(bitPattern: event.value)) {
        case (.handshakeFailedProtocol, ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH):
            "the peer does not speak CURVE (security mechanism mismatch)"
        case (.handshakeFailedProtocol, ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC):
            "cryptographic error: the client expects another server key"
        case (.handshakeFailedProtocol, let code):
            "protocol error 0x\(String(UInt32(bitPattern: code), radix: 16))"
        case (_, let errno):
            "the handshake broke off (\(String(cString: zmq_strerror(errno)))): a peer without CURVE, "
                + "or with another server key, hangs up"
        }
    }
}

/// A ZAP request as libzmq sends it (RFC 27), and the reply's frames.
struct ZAPRequest {
    let requestID: [UInt8]
    let domain: String
    let address: String
    let mechanism: String
    /// The credentials: for CURVE, the client's 32-byte public key.
    let credentials: [[UInt8]]

    /// Reads the frames: version `1.0`, request id, domain, address, identity, mechanism, credentials.
    init?(_ frames: [[UInt8]]) {
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else { return nil }
        requestID = frames[1]
        domain = String(decoding: frames[2], as: UTF8.self)
        address = String(decoding: frames[3], as: UTF8.self)
        mechanism = String(decoding: frames[5], as: UTF8.self)
        credentials = Array(frames.dropFirst(6))
    }

    /// The client's public key in Z85, for a CURVE request.
    var curveKey: String? {
        guard mechanism == "CURVE", let key = credentials.first else { return nil }
        return CurveKeyPair.z85(key)
    }

    /// A reply: version, request id, status code and text, user id, no metadata.
    static func reply(requestID: [UInt8], status: String, text: String, userID: String) -> [[UInt8]] {
        [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
    }
}

/// Numbers the handlers' command endpoints in this process.
private let commandSequence = Atomic<Int>(0)
