import ClusterCore

/// Applies partition, loss and bandwidth faults under the netns launcher:
/// iptables rules in the target's namespace against its peers (never the
/// bridge, where the control plane is), or a tbf qdisc on its veth. The
/// commands that undo what was applied are the heal, due after `for`.
/// Outside the netns launcher they are skipped.
struct NetworkFaults {
    /// The namespaces; nil outside the netns launcher.
    let network: NetnsNetwork?
    /// The hosts each host exchanges data with, by label: a fault cuts a host off from these.
    let hostPeers: [String: [String]]

    /// Applies `f` (or, for a heal, runs its undo commands), `now` nanoseconds into the measured phase.
    /// - Returns: one result per target without a namespace, and one per namespace hit.
    func apply(_ f: PlannedFault, now: UInt64, nodes: NodeTable) -> [FaultResult] {
        guard let network else {
            return f.targets.map { FaultResult($0, .skipped, "\(f.action.rawValue) needs the netns launcher (--launcher netns)") }
        }
        if let heal = f.heal {
            let failures = heal.map { SystemCommand.run($0) }.compactMap(\.failure).map(\.message)
            return f.targets.map { FaultResult($0, failures.isEmpty ? .applied : .failed,
                                               failures.isEmpty ? f.detail : failures.joined(separator: "; ")) }
        }
        // Nodes share their group's namespace: one set of rules per namespace hit.
        var results: [FaultResult] = []
        var byHost: [(host: NetnsNetwork.Host, names: [String])] = []
        for t in f.targets {
            guard let h = nodes[t]?.plan.host else {
                results.append(FaultResult(t, .skipped, "not a node in a namespace"))
                continue
            }
            if let i = byHost.firstIndex(where: { $0.host.label == h.label }) { byHost[i].names.append(t) } else { byHost.append((h, [t])) }
        }
        for (host, names) in byHost {
            results.append(apply(f, to: host, names: names, now: now, nodes: nodes, network: network))
        }
        return results
    }

    /// Applies `f` to one namespace, whose nodes `names` it targets.
    private func apply(_ f: PlannedFault, to host: NetnsNetwork.Host, names: [String], now: UInt64, nodes: NodeTable,
                       network: NetnsNetwork) -> FaultResult {
        // A whole group is named as such; single nodes by name.
        let inGroup = nodes.nodes.filter { $0.group == host.label }.count
        let target = names.count > 1 && names.count == inGroup ? host.label : names.joined(separator: ",")
        let peers = (hostPeers[host.label] ?? []).compactMap(network.host)
        guard f.action == .bandwidth || !peers.isEmpty else {
            return FaultResult(target, .skipped, "namespace \(host.namespace) has no peer to cut off")
        }
        guard let cmds = NetnsNetwork.commands(for: f.action, host: host, peers: peers, loss: f.spec?.loss,
                                               bandwidth: f.spec?.bandwidth, isWriter: host.label == Topology.writerName) else {
            return FaultResult(target, .failed, "no \(f.action.rawValue) parameters")
        }
        var undo: [[String]] = []
        for (apply, heal) in zip(cmds.apply, cmds.heal) {
            guard let failure = SystemCommand.run(apply).failure else {
                undo.insert(heal, at: 0)
                continue
            }
            for c in undo { _ = SystemCommand.run(c) }
            return FaultResult(target, .failed, "`\(apply.joined(separator: " "))`: \(failure)")
        }
        let between = f.action == .bandwidth ? "" : " against \(peers.map(\.label).joined(separator: ", "))"
        let detail = ([f.detail].filter { !$0.isEmpty } + ["namespace \(host.namespace) (\(host.address))\(between)"]).joined(separator: "; ")
        let heal = f.duration.map { d in
            var h = PlannedFault(atNanos: now + d, action: f.action, targets: [target], duration: nil,
                                 detail: "end of \(f.action.rawValue)", source: f.source)
            h.heal = undo
            return h
        }
        return FaultResult(target, .applied, detail, followUp: heal)
    }
}
