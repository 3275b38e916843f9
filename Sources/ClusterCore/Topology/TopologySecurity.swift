/// How the cluster's sockets are secured (`docs/security.md`).
public enum SecurityMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// No authentication, no encryption (JSON and command lines: `none`).
    case plain = "none"
    /// CURVE on every socket: a key pair per node, only the run's keys admitted.
    case curve
}

/// The topology's `security` object: `{"mode": "curve"}`.
public struct SecuritySpec: Sendable, Hashable, Codable {
    /// Required: `none` or `curve`.
    public var mode: SecurityMode

    public init(mode: SecurityMode) {
        self.mode = mode
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode
    }

    public init(from decoder: any Decoder) throws {
        self = try TopologyBuilder.decode(from: decoder) { $0.security($1, path: $2) }
    }
}

extension Topology {
    /// The security mode: the `security` object's, `none` without one.
    public var securityMode: SecurityMode { security?.mode ?? .plain }
}

extension TopologyBuilder {
    func security(_ node: JSONNode, path: String) -> SecuritySpec? {
        guard let f = fields(node, path, SecuritySpec.CodingKeys.self) else { return nil }
        let modes = SecurityMode.allCases.map(\.rawValue).joined(separator: ", ")
        return f.required(.mode, expected: "one of \(modes)", enumeration).map(SecuritySpec.init(mode:))
    }
}
