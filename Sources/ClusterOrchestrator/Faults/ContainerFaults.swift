import ClusterCore
#if canImport(Glibc)
import Glibc
#endif

/// Applies faults to the nodes' containers through the fault agent, when one
/// is connected (`orchestrator run --launcher compose|swarm` starts it): kill,
/// terminate, pause, resume and restart through the engine, partition and
/// loss as iptables rules and bandwidth as a tbf qdisc in the container's
/// network namespace. A node's container is the host name its HELLO gave.
///
/// What happens to the node follows the local launcher's rules: a kill is an
/// expected end (the report says `killed`), a pause is resumed before STOP,
/// a restart counts. A network fault cuts a node off from its peers (a
/// reader's upstream and the writer; the writer's subscribers), never from
/// the orchestrator, and its heal undoes exactly what the agent applied.
/// `delay` still goes over the control plane and `cpu-hog` needs the local
/// launcher (``ProcessFaults``).
struct ContainerFaults: Sendable {
    private var nextID: UInt64 = 1

    /// Whether the agent applies `f` (delay and cpu-hog are not its).
    static func handles(_ f: PlannedFault) -> Bool {
        switch f.action {
        case .kill, .terminate, .pause, .resume, .restart, .partition, .loss, .bandwidth: true
        case .delay, .cpuHog: false
        }
    }

    /// Applies `f`, `now` nanoseconds into the measured phase: one result per target.
    mutating func apply(_ f: PlannedFault, now: UInt64, loop: RunLoop) -> [FaultResult] {
        f.targets.map { apply(f, to: $0, now: now, loop: loop) }
    }

    private mutating func apply(_ f: PlannedFault, to target: String, now: UInt64, loop: RunLoop) -> FaultResult {
        let cluster = loop.cluster
        if let heals = f.healsRequest {
            var r = request(f.action, container: cluster.nodes[target]?.host ?? "")
            r.action = "heal"
            r.heals = heals
            guard let reply = loop.askAgent(r) else { return FaultResult(target, .failed, "the fault agent did not answer") }
            return FaultResult(target, reply.applied ? .applied : .failed, reply.applied ? f.detail : reply.detail)
        }
        guard let node = cluster.nodes[target] else { return FaultResult(target, .skipped, "no such node") }
        guard let container = node.host, node.lifecycle.hasRegistered else {
            return FaultResult(target, .skipped, "not registered: its container is not known")
        }
        switch f.action {
        case .kill, .terminate:
            guard node.isAlive else { return FaultResult(target, .skipped, "not running") }
            cluster.nodes.modify(target) { $0.expectExit() }
            let reply = loop.askAgent(request(f.action, container: container))
            if reply?.applied == true { cluster.nodes.modify(target) { $0.setPaused(false) } }
            if let reply, reply.applied, reply.ended {
                // The container's process is gone, without a BYE: its end, as the local launcher reaps one.
                let status: ExitStatus = reply.exitCode > 128 ? .signaled(reply.exitCode - 128) : .exited(reply.exitCode)
                cluster.endedOutside(target, status: status)
            }
            return result(target, reply, detail: f.detail)
        case .pause:
            guard node.isAlive else { return FaultResult(target, .skipped, "not running") }
            let reply = loop.askAgent(request(.pause, container: container))
            guard reply?.applied == true else { return result(target, reply, detail: f.detail) }
            cluster.nodes.modify(target) { $0.setPaused(true) }
            let resume = f.duration.map {
                PlannedFault(atNanos: now + $0, action: .resume, targets: [target], duration: nil, detail: "end of pause", source: f.source)
            }
            return FaultResult(target, .applied, join(f.detail, reply?.detail), followUp: resume)
        case .resume:
            guard node.isPaused else { return FaultResult(target, .skipped, "not paused") }
            let reply = loop.askAgent(request(.resume, container: container))
            if reply?.applied == true { cluster.nodes.modify(target) { $0.setPaused(false) } }
            return result(target, reply, detail: f.detail)
        case .restart:
            // A running node is stopped and started again by the engine (`docker restart`): it
            // says BYE, then HELLO under the same name; a stopped one is started again.
            cluster.nodes.modify(target) { node in
                if node.isAlive { node.expectExit() } else { node.awaited("restarted by the fault agent; no HELLO since") }
                node.setPaused(false)
            }
            let reply = loop.askAgent(request(.restart, container: container))
            if reply?.applied == true { cluster.nodes.modify(target) { $0.history.restarts += 1 } }
            return result(target, reply, detail: f.detail)
        case .partition, .loss, .bandwidth:
            var r = request(f.action, container: container)
            let peers = loop.containerPeers(of: target)
            r.peers = peers.compactMap { cluster.nodes[$0]?.host }
            r.loss = f.spec?.loss ?? 0
            r.bandwidth = f.spec?.bandwidth ?? ""
            r.limitSent = target == Topology.writerName
            guard f.action == .bandwidth || !r.peers.isEmpty else {
                return FaultResult(target, .skipped, "no peer to cut off is registered")
            }
            let reply = loop.askAgent(r)
            guard let reply, reply.applied else { return result(target, reply, detail: f.detail) }
            let between = f.action == .bandwidth ? "" : " against \(peers.joined(separator: ", "))"
            let heal = f.duration.map { d in
                var h = PlannedFault(atNanos: now + d, action: f.action, targets: [target], duration: nil,
                                     detail: "end of \(f.action.rawValue)", source: f.source)
                h.healsRequest = r.id
                return h
            }
            return FaultResult(target, .applied, join(f.detail, reply.detail + between), followUp: heal)
        case .delay, .cpuHog:
            preconditionFailure("\(f.action) is not the fault agent's (ContainerFaults.handles)")
        }
    }

    /// A request with a fresh id.
    private mutating func request(_ action: FaultAction, container: String) -> Clustersim_V1_FaultRequest {
        var r = Clustersim_V1_FaultRequest()
        r.id = nextID
        nextID += 1
        r.action = action.rawValue
        r.container = container
        return r
    }

    private func result(_ target: String, _ reply: Clustersim_V1_FaultReply?, detail: String) -> FaultResult {
        guard let reply else { return FaultResult(target, .failed, "the fault agent did not answer") }
        return FaultResult(target, reply.applied ? .applied : .failed, reply.applied ? join(detail, reply.detail) : reply.detail)
    }

    private func join(_ a: String, _ b: String?) -> String {
        [a, b ?? ""].filter { !$0.isEmpty }.joined(separator: "; ")
    }
}

extension RunLoop {
    /// The nodes a node exchanges data with, which a network fault cuts it off
    /// from: for the writer every reader and relay; for a reader or relay the
    /// writer (its snapshots) and the relay it subscribes through.
    func containerPeers(of name: String) -> [String] {
        guard let spec = topology.nodes.first(where: { $0.name == name }) else { return [] }
        guard spec.reader != nil else { return topology.nodes.filter { $0.reader != nil }.map(\.name) }
        let relays = NodeCommands(topology: topology, writerPub: ("", ""), writerSnapshots: ("", ""), nodeDirectory: { $0 },
                                  serviceBind: { _ in "" }, relayEndpoint: { _ in ("", "") })
        return [Topology.writerName] + [relays.upstreamRelay(for: spec)?.name].compactMap { $0 }
    }
}
