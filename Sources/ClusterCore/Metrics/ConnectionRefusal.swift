/// A kind of connection a node's CURVE sockets did not let through, and how
/// often: what `metrics.json` (`refusals`) and the report's `security` list.
public struct ConnectionRefusal: Sendable, Hashable, Codable {
    /// In the report: where it happened, a node's name or `orchestrator`
    /// (the control plane); absent in a node's own metrics.
    public var node: String?
    /// `key-refused` (a client's key is not of the run), `handshake-failed`
    /// (before any key: a peer that does not speak CURVE, or expects another
    /// server key) or `refused-by-server` (a server refused this node's key).
    public var outcome: String
    /// Where: the socket, e.g. `publish`, `snapshots`, `query`, `relay`, `control`.
    public var socket: String
    /// The peer's IP address, or the server's endpoint for `refused-by-server`; empty when unknown.
    public var address: String
    /// The public key the peer offered (Z85; public keys are not secret); empty when none was.
    public var key: String
    public var reason: String
    public var count: UInt64

    public init(outcome: String, socket: String, address: String, key: String, reason: String, count: UInt64) {
        self.outcome = outcome
        self.socket = socket
        self.address = address
        self.key = key
        self.reason = reason
        self.count = count
    }
}

extension Counter {
    // CURVE (every node, and the orchestrator's control plane): see ConnectionRefusal.
    /// Clients whose key the node's ZAP handler admitted.
    public static let curveAdmitted = Counter("curve_admitted")
    /// Clients whose key it refused.
    public static let curveRefused = Counter("curve_refused")
    /// Handshakes that failed before a key was offered.
    public static let handshakeFailed = Counter("handshake_failed")
    /// Connections of this node's that a server refused.
    public static let refusedByServer = Counter("refused_by_server")
}
