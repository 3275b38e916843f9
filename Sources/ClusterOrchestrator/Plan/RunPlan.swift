import ClusterCore
import ClusterProcess

/// What a run starts with, decided before the first launch: every node with
/// its command (the writer's endpoints and the relays' and query services'
/// chosen now, so they stay the same across restarts), the query groups' load
/// generators, the fault plan, and under the netns launcher each namespace's
/// peers.
struct RunPlan {
    var nodes: NodeTable
    var faults: [PlannedFault]
    /// Netns launcher: the hosts each host exchanges data with, by label (a fault's peers).
    var hostPeers: [String: [String]] = [:]
    /// Readers pinned to CPUs (cpuPinning "spread"), and the CPUs.
    var pinned = 0
    var cpus: [Int] = []
    /// The endpoints the writer, relays and query readers bind (for outside tools to attach).
    let endpoints: Endpoints

    /// Plans a run of `topology`.
    /// - Parameters:
    ///   - network: the namespaces under the netns launcher: endpoints take their addresses.
    ///   - ipcDirectory: where ipc endpoints go (`writer.transport: ipc`).
    ///   - ownsProcesses: the launcher starts the processes; otherwise others do, every node at
    ///     once (no `startAt`), and nothing is pinned.
    ///   - keys: under CURVE, the run's keys: every node is started with its files.
    init(topology: Topology, network: NetnsNetwork?, ipcDirectory: String, directory: RunDirectory, ownsProcesses: Bool,
         keys: RunKeys? = nil) {
        let endpoints = Endpoints(topology: topology, network: network, ipcDirectory: ipcDirectory)
        self.endpoints = endpoints
        let script = topology.writer.events.map { directory.writeEventScript($0) }
        let (relays, services, base) = (endpoints.relays, endpoints.services, directory.path + "/nodes/")
        // The same mapping `orchestrator compose` uses, with local endpoints.
        let mapping = NodeCommands(
            topology: topology,
            writerPub: (endpoints.writerPub, endpoints.writerPub),
            writerSnapshots: (endpoints.writerSnapshots, endpoints.writerSnapshots),
            nodeDirectory: { base + $0 },
            serviceBind: { services[$0.name] ?? "tcp://127.0.0.1:*" },
            relayEndpoint: { spec in let ep = relays[spec.name] ?? ""; return (ep, ep) },
            writerScript: script)
        // cpuPinning "spread": readers in node order round the CPUs this process may use.
        cpus = topology.cpuPinning == .spread && ownsProcesses ? CPUAffinity.allowed() : []
        nodes = NodeTable()
        faults = []
        for spec in topology.nodes {
            nodes.append(node(spec, mapping: mapping, network: network, startsAtOnce: !ownsProcesses,
                              curve: keys?.files(for: spec.name, group: spec.group)))
        }
        // One load generator per query group with `load`, aimed at the group's service endpoints.
        for group in topology.readers where group.role == .query {
            guard let load = group.load else { continue }
            let members = topology.nodes.filter { $0.group == group.groupName && services[$0.name] != nil }
            let name = NodeCommands.queryLoadName(group)
            var command = mapping.queryLoadCommand(for: group, load: load, targets: members.compactMap { services[$0.name] })
            if let keys { command = mapping.securedLoad(command, targetNodes: members.map(\.name), files: keys.files(for: name, group: name)) }
            var plan = NodePlan(command: command)
            plan.startAt = ownsProcesses ? group.startAt : nil
            plan.host = network?.host(group.groupName)
            nodes.append(ManagedNode(name: name, group: name, role: .queryLoad, plan: plan))
        }
        faults = FaultPlanner.plan(topology)
        markFaulted(network: network)
        for i in nodes.indices {
            let n = nodes[position: i]
            nodes[position: i].plan.fastReader = ReportBuilder.isFastReader(topology.node(named: n.name), role: n.role,
                                                                             faulted: n.plan.faulted, in: topology)
        }
    }

    /// A writer, reader or relay node, pinned and placed.
    private mutating func node(_ spec: NodeSpec, mapping: NodeCommands, network: NetnsNetwork?, startsAtOnce: Bool,
                               curve: CurveFiles?) -> ManagedNode {
        var command = mapping.command(for: spec)
        if let curve { command = mapping.secured(command, for: spec, files: curve) }
        var plan = NodePlan(command: command, startAt: startsAtOnce ? nil : spec.reader?.startAt)
        if !cpus.isEmpty, case .reader(var c) = command {
            c.cpu = cpus[pinned % cpus.count]
            plan.cpu = c.cpu
            command = .reader(c)
            pinned += 1
        }
        if let network {
            let label = NetnsNetwork.hostLabel(spec)
            plan.host = network.host(label)
            // Namespaces stand for separate hosts: readers measure on the wall clock, corrected with START.
            if case .reader(var c) = command { c.clock = .wall; command = .reader(c) }
            // Its peers: for the writer every host; for a reader or relay its upstream and the writer.
            var peers = Set(hostPeers[label] ?? [])
            peers.formUnion(spec.reader == nil ? network.hosts.map(\.label) : [Topology.writerName])
            if let relay = mapping.upstreamRelay(for: spec) { peers.insert(NetnsNetwork.hostLabel(relay)) }
            peers.remove(label)
            hostPeers[label] = peers.sorted()
        }
        plan.command = command
        return ManagedNode(name: spec.name, group: spec.group, role: spec.role, plan: plan)
    }

    /// Marks the nodes a fault is aimed at; a network fault acts on a whole
    /// namespace, so every node in it is affected.
    private mutating func markFaulted(network: NetnsNetwork?) {
        for f in faults {
            for t in f.targets { nodes.modify(t) { $0.plan.faulted = true } }
            guard network != nil, f.action.needsNetworkNamespaces else { continue }
            let hit = Set(f.targets.compactMap { nodes[$0]?.plan.host?.label })
            for i in nodes.indices where nodes[position: i].plan.host.map({ hit.contains($0.label) }) == true {
                nodes[position: i].plan.faulted = true
            }
        }
    }
}

/// The endpoints a run binds that must stay the same across restarts.
struct Endpoints: Sendable {
    var writerPub: String
    var writerSnapshots: String
    /// A relay's XPUB, by node.
    var relays: [String: String] = [:]
    /// A query reader's service, by node.
    var services: [String: String] = [:]

    /// Loopback ports (or ipc files), or with the netns launcher the address of each node's namespace.
    init(topology: Topology, network: NetnsNetwork?, ipcDirectory: String) {
        let tcp = topology.writer.transport == .tcp
        func address(_ spec: NodeSpec) -> String { network?.host(NetnsNetwork.hostLabel(spec))?.address ?? "127.0.0.1" }
        let writer = network?.host(Topology.writerName)?.address ?? "127.0.0.1"
        if tcp {
            writerPub = "tcp://\(writer):\(PortAllocator.next())"
            writerSnapshots = "tcp://\(writer):\(PortAllocator.next())"
        } else {
            (writerPub, writerSnapshots) = ("ipc://\(ipcDirectory)/writer.pub", "ipc://\(ipcDirectory)/writer.snap")
        }
        for spec in topology.nodes {
            switch spec.reader?.role {
            case .relay?:
                relays[spec.name] = tcp ? "tcp://\(address(spec)):\(PortAllocator.next())" : "ipc://\(ipcDirectory)/\(spec.name).pub"
            case .query?:
                services[spec.name] = "tcp://\(address(spec)):\(PortAllocator.next())"
            default:
                break
            }
        }
    }
}

extension Endpoints {
    /// As the run's files record them, with the control plane's.
    func record(control: String) -> RunEndpoints {
        RunEndpoints(control: control, writer: .init(pub: writerPub, snapshots: writerSnapshots), relays: relays, queryServices: services)
    }
}
