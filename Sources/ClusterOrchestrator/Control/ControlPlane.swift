import ClusterCore
import SwiftProtobuf
import ZeroMQ

/// The orchestrator's side of the control plane: a ROUTER the nodes'
/// DEALERs (`ControlClient`) connect to. Each message is one frame holding a
/// `ControlMessage`, after the ROUTER's identity frame.
///
/// It decodes what arrives into ``ControlEvent``s, sends typed messages
/// (START, STOP, TimeRequest, AddDelay, Welcome), and keeps which identity
/// is which node: a node's latest identity stays known after it exits, as a
/// message may still be in flight from it.
///
/// With CURVE (``init(bind:curve:)``) the ROUTER admits only the run's node
/// keys (its ZAP handler, ``security``), and a message counts only from the
/// node whose key sent it: a HELLO under another node's name, or any
/// message from an identity registered by another key, is ignored and
/// recorded as a refusal.
final class ControlPlane {
    private let router: Socket
    /// The endpoint bound, with the port the system chose.
    let endpoint: String
    private var names: [[UInt8]: String] = [:]
    private var identities: [String: [UInt8]] = [:]
    /// The ZAP handler of a CURVE control plane; nil when plain.
    let security: CurveAuthenticator?
    /// A CURVE control plane's admitted keys, by node.
    private let keyOf: [String: String]
    /// The fault agent's identity, once one said AgentHello.
    private var agent: [UInt8]?

    /// Binds the ROUTER (no linger, no receive limit); with `curve`, as a CURVE
    /// server with that key pair, admitting the nodes' keys (public key → node).
    /// - Throws: `ZMQError` when the endpoint cannot be bound.
    init(bind: String, curve: (keys: CurveKeyPair, admitted: [String: String])? = nil) throws {
        let context = try Context()
        security = try curve.map { try CurveAuthenticator(context: context, allowed: $0.admitted) }
        keyOf = Dictionary(curve?.admitted.map { ($0.value, $0.key) } ?? [], uniquingKeysWith: { a, _ in a })
        router = try context.socket(.router)
        try router.setLinger(.zero)
        try router.setReceiveHighWaterMark(0)
        if let curve, let security {
            try router.setCurveServer(true)
            try router.setCurveSecretKey(curve.keys.secretKey)
            try security.watch(router, as: "control", server: true)
        }
        try router.bind(bind)
        endpoint = try router.lastEndpoint
    }

    /// Adds the ROUTER to a poller.
    /// - Returns: its index there.
    func add(to poller: inout Poller) -> Int { poller.add(router) }

    // MARK: - Receiving

    /// The next message waiting, decoded; nil when none is.
    func receive() -> ControlEvent? {
        guard let frames = try? router.receiveMultipart(dontWait: true) else { return nil }
        guard frames.count >= 2 else { return .ignored }
        let message = frames[frames.count - 1]
        let event = decode(identity: frames[0].bytes, bytes: message.bytes)
        // A fault agent acts on the engine's containers: it is taken only from this host's loopback,
        // where the launcher starts it (in the orchestrator's network namespace), never from the stack's network.
        if case .agentHello = event, !Self.isLoopback(message.metadata("Peer-Address") ?? "") { return .ignored }
        guard let security else { return event }
        // CURVE: the ZAP handler named the sender's key; the message must be that node's.
        let user = message.metadata("User-Id") ?? ""
        let claimed: String
        switch event {
        case .hello(let h, _): claimed = h.node
        case .node(let name, _): claimed = name
        default: return event
        }
        guard claimed != user else { return event }
        security.record(.keyRefused, socket: "control", address: message.metadata("Peer-Address") ?? "",
                        publicKey: keyOf[user] ?? "", reason: "a message as \(claimed) with the key of \(user.isEmpty ? "no node" : user)")
        return .ignored
    }

    /// Whether a peer address (ZeroMQ's `Peer-Address`) is a loopback one.
    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address == "::ffff:127.0.0.1"
    }

    /// Decodes one message from the DEALER with `identity`.
    func decode(identity: [UInt8], bytes: [UInt8]) -> ControlEvent {
        guard let m = try? Clustersim_V1_ControlMessage(serializedBytes: bytes), let body = m.body else {
            return .malformed(byteCount: bytes.count)
        }
        if case .hello(let h) = body {
            return h.claimGroup.isEmpty ? .hello(h, identity: identity) : .claim(h, identity: identity)
        }
        if case .agentHello(let h) = body { return .agentHello(h, identity: identity) }
        if case .faultReply(let r) = body { return identity == agent ? .faultReply(r) : .ignored }
        guard let name = names[identity] else { return .ignored }
        switch body {
        case .ready: return .node(name, .ready)
        case .stats(let s): return .node(name, .stats(s))
        case .timeReply(let t): return .node(name, .timeReply(t))
        case .final(let f): return .node(name, .final(f))
        case .bye(let b): return .node(name, .bye(b))
        default: return .ignored
        }
    }

    // MARK: - Identities

    /// Takes `identity` as node `name`'s, in place of any earlier one.
    func register(_ identity: [UInt8], as name: String) {
        if let old = identities[name] { names.removeValue(forKey: old) }
        identities[name] = identity
        names[identity] = name
    }

    /// Whether `name` ever registered.
    func isKnown(_ name: String) -> Bool { identities[name] != nil }

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

    /// Answers a claim.
    func welcome(_ w: Clustersim_V1_Welcome, to identity: [UInt8]) {
        send(.welcome(w), toIdentity: identity)
    }

    private func send(_ body: Clustersim_V1_ControlMessage.OneOf_Body, to node: String) {
        guard let identity = identities[node] else { return }
        send(body, toIdentity: identity)
    }

    private func send(_ body: Clustersim_V1_ControlMessage.OneOf_Body, toIdentity identity: [UInt8]) {
        var m = Clustersim_V1_ControlMessage()
        m.body = body
        guard let bytes: [UInt8] = try? m.serializedBytes() else { return }
        _ = try? router.sendMultipart([identity, bytes], dontWait: true)
    }
}
