import ClusterCore

extension ComposeGenerator {
    /// Refuses a CURVE topology: its keys would have to reach each container
    /// as a secret, which compose files do not do yet (docs/security.md,
    /// "Containers"). A file without them would run every socket plain
    /// while the topology asks for CURVE.
    func checkSecurity() throws {
        guard topology.securityMode == .plain else {
            throw ComposeError(.securityNotSupported, "security.mode \(topology.securityMode.rawValue): compose and swarm files "
                               + "do not carry CURVE keys yet (docs/security.md, \"Containers\"); run it with the local, netns or "
                               + "external launcher, or set security.mode none")
        }
    }
}

extension ErrorCode<ComposeError> {
    /// The topology asks for a security mode compose files cannot carry.
    public static let securityNotSupported = Self("security-not-supported")
}
