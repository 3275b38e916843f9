import ClusterCore

/// The names handed to replicas that claimed one (`claim_group`), by the
/// claiming DEALER's identity.
///
/// Compose starts a group's replicas as identical containers; each asks for
/// a name and gets the first node of the group that nobody registered or
/// claimed, and the same one again should it repeat its HELLO, or should its
/// container be started again (a restart fault): a new process, so a new
/// DEALER, but the same host name.
struct NameClaims: Sendable {
    private var byIdentity: [[UInt8]: String] = [:]
    private var byHost: [String: String] = [:]

    /// What a claim was answered.
    enum Answer: Sendable, Equatable {
        /// A node of the group; `new` unless the claimer had it already.
        case granted(String, new: Bool)
        case refused(String)
    }

    /// Answers a claim on `group` from `identity`.
    /// - Parameters:
    ///   - allowed: claims are taken (the external launcher); otherwise every claim is refused.
    ///   - nodes: the run's nodes (a group's members are its nodes but the load generator).
    ///   - isRegistered: whether a node registered under its own name.
    ///   - host: the host name the claim came from (empty: unknown).
    mutating func answer(group: String, identity: [UInt8], host: String = "", allowed: Bool, nodes: NodeTable,
                         isRegistered: (String) -> Bool) -> Answer {
        if let name = byIdentity[identity] { return .granted(name, new: false) }
        // The same host again, for a node that ran and has ended: its container was started again.
        // (Replicas started by hand share one host name; a node still running keeps its name.)
        if !host.isEmpty, let name = byHost[host], let node = nodes[name], node.group == group,
           !node.isAlive, !node.history.pids.isEmpty {
            byIdentity[identity] = name
            return .granted(name, new: false)
        }
        guard allowed else {
            return .refused("names are claimed only under the external launcher; this run launches its own nodes")
        }
        let members = nodes.nodes.filter { $0.group == group && $0.role != .queryLoad }.map(\.name)
        guard !members.isEmpty else {
            return .refused("the topology has no group \"\(group.prefix(64))\" (groups: \(nodes.groups.joined(separator: ", ")))")
        }
        let taken = Set(byIdentity.values)
        guard let name = members.first(where: { !taken.contains($0) && !isRegistered($0) }) else {
            return .refused("every node of group \"\(group)\" (\(members.count)) is taken; start at most \(members.count) replicas")
        }
        byIdentity[identity] = name
        if !host.isEmpty { byHost[host] = name }
        return .granted(name, new: true)
    }
}
