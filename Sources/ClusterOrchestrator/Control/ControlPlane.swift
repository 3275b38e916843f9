import ClusterCore
import SwiftProtobuf
import ZeroMQ

/// The orchestrator's side of the control plane: a ROUTER the nodes'
/// DEALERs (`ControlClient`) connect to. Each message is one frame holding a
/// `ControlMessage`, after the ROUTER's identity frame.
///
/// It decodes what arrives into ``ControlEvent``s, sends typed messages
/// (START, STOP, TimeRequest, AddDelay, Welcome), and keeps which peer holds
/// which node name (``Registration``): one peer per name, one name per peer.
/// A node's registration stays after it exits, as a message may still be in
/// flight from it, until a new incarnation registers the name. What may be
/// registered and said is ``ControlAdmission``'s to decide.
///
/// The ROUTER is bounded: a message above `maxMessageBytes` makes libzmq
/// drop its peer's connection; at most 100 messages wait per peer;
/// `ZMQ_ROUTER_MANDATORY` lets a send tell a gone peer (``isConnected(_:)``).
///
/// With CURVE (``init(bind:curve:maxMessageBytes:)``) the ROUTER admits only
/// the run's node keys (its ZAP handler, ``security``), and a message counts
/// only from the node whose key sent it: a HELLO under another node's name,
/// or any message from a peer registered under another key, is refused
/// (`key-mismatch`) and recorded as a CURVE refusal as well.
final class ControlPlane {
    private let router: Socket
    private let watch: ConnectionWatch
    /// The endpoint bound, with the port the system chose.
    let endpoint: String
    /// The largest message taken (`ZMQ_MAXMSGSIZE`).
    let maxMessageBytes: Int
    private var names: [[UInt8]: String] = [:]
    private var registrations: [String: Registration] = [:]
    /// The ZAP handler of a CURVE control plane; nil when plain.
    let security: CurveAuthenticator?
    /// Under CURVE, the key holder of each node whose messages come with a key not its own (its group's).
    let holders: [String: String]
    /// A CURVE control plane's admitted keys, by node.
    private let keyOf: [String: String]
    /// The fault agent's identity, once one said AgentHello.
    private var agent: [UInt8]?

    /// Binds the ROUTER; with `curve`, as a CURVE server with that key pair,
    /// admitting the nodes' keys (public key → node).
    /// - Parameter maxMessageBytes: the largest message a node sends (its final dump, ``MessageLimits/control``).
    /// - Throws: `ZMQError` when the endpoint cannot be bound.
    /// `holders`: the name whose key each node's messages must come with, by
    /// node, where it is not the node's own (a replica speaks with its group's key).
    init(bind: String, curve: (keys: CurveKeyPair, admitted: [String: String], holders: [String: String])? = nil,
         maxMessageBytes: Int) throws {
        let context = try Context()
        security = try curve.map { try CurveAuthenticator(context: context, allowed: $0.admitted) }
        keyOf = Dictionary(curve?.admitted.map { ($0.value, $0.key) } ?? [], uniquingKeysWith: { a, _ in a })
        holders = curve?.holders ?? [:]
        router = try context.socket(.router)
        try router.setLinger(.zero)
        try router.setReceiveHighWaterMark(100)
        try router.setMaxMessageSize(Int64(maxMessageBytes))
        try router.setRouterMandatory(true)
        if let curve, let security {
            try router.setCurveServer(true)
            try router.setCurveSecretKey(curve.keys.secretKey)
            // One monitor per socket: the CURVE handler's hands the watch its events.
            let inbox = ConnectionWatch.Inbox()
            try security.watch(router, as: "control", server: true, forwarding: inbox)
            watch = ConnectionWatch(inbox)
        } else {
            watch = try ConnectionWatch(router)
        }
        try router.bind(bind)
        endpoint = try router.lastEndpoint
        self.maxMessageBytes = maxMessageBytes
    }

    /// Adds the ROUTER to a poller.
    /// - Returns: its index there.
    func add(to poller: inout Poller) -> Int { poller.add(router) }

    /// Reads the ROUTER's connection events (call it regularly: they queue until read).
    /// - Returns: the connections to the ROUTER that ended so far: nodes that
    ///   left, and peers libzmq dropped (a message above the limit, or not ZMTP).
    @discardableResult
    func checkConnections() -> UInt64 {
        watch.check(router)
        return watch.disconnects
    }

    // MARK: - Receiving

    /// The next message waiting, decoded; nil when none is.
    func receive() -> ControlEvent? {
        guard let frames = try? router.receiveMultipart(dontWait: true) else { return nil }
        guard frames.count == 2 else {
            return .refused(.malformed, "\(frames.count) frames (\(frames.reduce(0) { $0 + $1.count }) bytes), expected one message after the identity")
        }
        let message = frames[1]
        let event = decode(identity: frames[0].bytes, bytes: message.bytes, connection: message.sourceFileDescriptor)
        // A fault agent acts on the engine's containers: it is taken only from this host's loopback,
        // where the launcher starts it (in the orchestrator's network namespace), never from the stack's network.
        if case .agentHello = event {
            let address = message.metadata("Peer-Address") ?? ""
            if !Self.isLoopback(address) {
                return .refused(.notAgent, "an AgentHello from \(String(address.prefix(64))), not this host's loopback")
            }
        }
        guard let security else { return event }
        // CURVE: the ZAP handler named the sender's key; the message must be that node's.
        let user = message.metadata("User-Id") ?? ""
        let claimed: String
        switch event {
        case .hello(let h, _, _): claimed = h.node
        case .claim(let h, _): claimed = h.claimGroup
        case .agentHello: claimed = CurvePeers.faultAgent
        case .node(let name, _): claimed = name
        default: return event
        }
        guard (holders[claimed] ?? claimed) != user else { return event }
        let why = "a message as \(claimed) with the key of \(user.isEmpty ? "no node" : user)"
        security.record(.keyRefused, socket: "control", address: message.metadata("Peer-Address") ?? "",
                        publicKey: keyOf[user] ?? "", reason: why)
        return .refused(.keyMismatch, why)
    }

    /// Whether a peer address (ZeroMQ's `Peer-Address`) is a loopback one.
    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address == "::ffff:127.0.0.1"
    }

    /// Decodes one message from the DEALER with `identity`, over the connection with descriptor `connection`.
    func decode(identity: [UInt8], bytes: [UInt8], connection: Int32? = nil) -> ControlEvent {
        guard let m = try? Clustersim_V1_ControlMessage(serializedBytes: bytes), let body = m.body else {
            return .refused(.malformed, "\(bytes.count) bytes that are not a control message")
        }
        if case .hello(let h) = body {
            return h.claimGroup.isEmpty ? .hello(h, identity: identity, connection: connection) : .claim(h, identity: identity)
        }
        if case .agentHello(let h) = body { return .agentHello(h, identity: identity) }
        if case .faultReply(let r) = body {
            return identity == agent ? .faultReply(r) : .refused(.notAgent, "a FaultReply from a peer that is not the fault agent")
        }
        let message: NodeMessage
        let claimed: String
        switch body {
        case .ready(let r): (message, claimed) = (.ready, r.node)
        case .stats(let s): (message, claimed) = (.stats(s), s.node)
        case .timeReply(let t): (message, claimed) = (.timeReply(t), "")
        case .final(let f): (message, claimed) = (.final(f), f.node)
        case .bye(let b): (message, claimed) = (.bye(b), b.node)
        default: return .refused(.wrongDirection, "\(Self.kind(body)), which only the orchestrator sends")
        }
        guard let name = names[identity] else {
            let naming = claimed.isEmpty ? "" : " naming \"\(String(claimed.prefix(64)))\""
            return .refused(.unknownPeer, "\(message.kind)\(naming) from a peer that registered no name")
        }
        return .node(name, message)
    }

    static func kind(_ body: Clustersim_V1_ControlMessage.OneOf_Body) -> String {
        switch body {
        case .hello: "HELLO"
        case .ready: "READY"
        case .start: "START"
        case .stats: "STATS"
        case .stop: "STOP"
        case .final: "FINAL"
        case .timeRequest: "TIME_REQUEST"
        case .timeReply: "TIME_REPLY"
        case .bye: "BYE"
        case .welcome: "WELCOME"
        case .addDelay: "ADD_DELAY"
        case .agentHello: "AGENT_HELLO"
        case .faultRequest: "FAULT_REQUEST"
        case .faultReply: "FAULT_REPLY"
        case .farewell: "FAREWELL"
        }
    }

    // MARK: - Registrations

    /// Registers the peer `identity` as node `name` (pid from its HELLO), in
    /// place of the earlier incarnation's peer, whose messages are no longer taken.
    func register(_ identity: [UInt8], as name: String, pid: Int32) {
        if let old = registrations[name] { names.removeValue(forKey: old.identity) }
        registrations[name] = Registration(identity: identity, pid: pid)
        names[identity] = name
    }

    /// Who holds `name`.
    func registration(of name: String) -> Registration? { registrations[name] }

    /// The name the peer `identity` holds.
    func name(of identity: [UInt8]) -> String? { names[identity] }

    /// Notes what the peer holding `name` said last.
    func noteFinal(_ name: String) { registrations[name]?.finalTaken = true }
    func noteBye(_ name: String) { registrations[name]?.saidBye = true }

    /// Whether `name` ever registered.
    func isKnown(_ name: String) -> Bool { registrations[name] != nil }

    /// Whether the peer holding `name` is still connected: a clock probe is
    /// sent to it (the node answers; its answer is an ordinary sample), and
    /// libzmq refuses it at once when the connection is gone.
    func isConnected(_ name: String) -> Bool {
        guard let r = registrations[name] else { return false }
        var t = Clustersim_V1_TimeRequest()
        t.orchestratorWallNs = SystemClock.wallNanos()
        var m = Clustersim_V1_ControlMessage()
        m.body = .timeRequest(t)
        guard let bytes: [UInt8] = try? m.serializedBytes() else { return true }
        do {
            _ = try router.sendMultipart([r.identity, bytes], dontWait: true)
            return true
        } catch let error as ZMQError where error.code == .hostUnreachable {
            return false
        } catch {
            return true   // its queue is full: connected, and slow
        }
    }

    /// Takes `identity` as the fault agent's, in place of any earlier one.
    func registerAgent(_ identity: [UInt8]) { agent = identity }

    // MARK: - Sending

    /// Sends START: when the measured phase began, and a wall-clock reader's correction.
    func start(_ node: String, startWallNs: UInt64, clockCorrectionNs: Int64?) {
        var s = Clustersim_V1_Start()
        s.startWallNs = startWallNs
        if let clockCorrectionNs {
            s.clockCorrectionNs = clockCorrectionNs
            s.hasClockCorrection_p = true
        }
        send(.start(s), to: node)
    }

    /// Sends STOP with the writer's final version, by which a reader counts its tail loss.
    func stop(_ node: String, finalEpoch: UInt64, finalVersion: UInt64) {
        var s = Clustersim_V1_Stop()
        s.reason = "run ended"
        s.finalEpoch = finalEpoch
        s.finalVersion = finalVersion
        send(.stop(s), to: node)
    }

    /// Asks a node for its wall clock.
    func timeRequest(_ node: String, sequence: UInt64, wallNow: UInt64) {
        var r = Clustersim_V1_TimeRequest()
        r.sequence = sequence
        r.orchestratorWallNs = wallNow
        send(.timeRequest(r), to: node)
    }

    /// Tells a relay to delay by `delayNs` for `forNs` (0: until the end).
    func addDelay(_ node: String, delayNs: UInt64, forNs: UInt64) {
        var d = Clustersim_V1_AddDelay()
        d.delayNs = delayNs
        d.forNs = forNs
        send(.addDelay(d), to: node)
    }

    /// Asks the fault agent to apply (or undo) a fault.
    /// - Returns: false when no agent registered.
    @discardableResult
    func faultRequest(_ r: Clustersim_V1_FaultRequest) -> Bool {
        guard let agent else { return false }
        send(.faultRequest(r), toIdentity: agent)
        return true
    }

    /// Answers a node's BYE: what it sent before has arrived, it may end.
    func farewell(_ node: String) {
        var f = Clustersim_V1_Farewell()
        f.node = node
        send(.farewell(f), to: node)
    }

    /// Answers a claim.
    func welcome(_ w: Clustersim_V1_Welcome, to identity: [UInt8]) {
        send(.welcome(w), toIdentity: identity)
    }

    private func send(_ body: Clustersim_V1_ControlMessage.OneOf_Body, to node: String) {
        guard let identity = registrations[node]?.identity else { return }
        send(body, toIdentity: identity)
    }

    private func send(_ body: Clustersim_V1_ControlMessage.OneOf_Body, toIdentity identity: [UInt8]) {
        var m = Clustersim_V1_ControlMessage()
        m.body = body
        guard let bytes: [UInt8] = try? m.serializedBytes() else { return }
        _ = try? router.sendMultipart([identity, bytes], dontWait: true)
    }
}
