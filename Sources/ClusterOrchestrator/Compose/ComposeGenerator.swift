import ClusterCore
import Foundation

/// Turns a topology into a compose file (version 3.8, also valid for
/// `docker stack deploy`): one service per node group. A cli or log group
/// of several nodes is one service with `deploy.replicas`; each replica
/// claims an unclaimed node name of its group from the orchestrator
/// (`--claim-name`) and then registers under it. The writer, query readers
/// and relays, which others connect to by host name, get a service per node,
/// named after the node.
///
/// The orchestrator runs in the `external` launcher mode and binds the
/// control plane on port 5600; the writer binds 5555 (PUB) and 5556
/// (snapshots); relays bind their XPUB on 5560; query readers bind their
/// service on 5700. Endpoints use service names (`tcp://writer:5555`).
/// Readers of a compose file, whose containers all run on one engine, measure
/// on the monotonic clock they share with the writer (containers are not in
/// time namespaces); readers of a swarm file (``forSwarm``), which may run on
/// other hosts, on the wall clock, corrected by the orchestrator's clock
/// offset estimates.
public struct ComposeGenerator: Sendable {
    public static let pubPort = 5555
    public static let snapshotPort = 5556
    public static let controlPort = 5600
    public static let relayPort = 5560
    public static let servicePort = 5700
    public static let orchestratorService = "orchestrator"
    public static let defaultImage = "clustersim:latest"
    public static var controlConnect: String { "tcp://\(orchestratorService):\(controlPort)" }
    /// Every container's resolver options (glibc reads RES_OPTIONS; compose's `dns_opt` has no
    /// swarm equivalent). The engine's resolver never answers a name it cannot resolve, so a
    /// lookup lasts the resolver's timeout: here 1 s, once, instead of 5 s twice for each address
    /// family. libzmq resolves in its I/O thread, and a reader reconnecting to the writer after it
    /// ended (STOP goes to the writer first) held its own final dump there past the orchestrator's wait.
    public static let resolverEnvironment: [(key: String, value: String)] = [("RES_OPTIONS", "timeout:1 attempts:1")]
    /// Where a node's files go inside its container: the `runs` volume.
    public static func nodeDirectory(_ name: String) -> String { "/runs/nodes/\(name)" }

    public var topology: Topology
    /// The topology file as the compose file mounts it: a path relative to the
    /// compose file's directory (`./topologies/x.json`) or absolute.
    public var topologySource: String
    /// Given: use this image and do not build. Nil: build `clustersim:latest` from ``buildContext``.
    public var image: String?
    /// The build context (the repository root) relative to the compose file's directory, or absolute.
    public var buildContext: String
    /// The command line that produced the file, for its header.
    public var invocation: String?
    /// More arguments for the orchestrator's `run` (a launcher's `--duration`, `--seed`).
    public var orchestratorArguments: [String]
    /// For `docker stack deploy`: files become swarm configs instead of bind mounts, so
    /// the file deploys unchanged on a swarm of several hosts. Needs ``image``.
    public var forSwarm: Bool
    /// Under CURVE, the directory of the stack's keys relative to the compose file's
    /// directory, or absolute; nil: `./<topology>.keys`.
    public var keysDirectory: String?

    public init(topology: Topology, topologySource: String, image: String? = nil, buildContext: String = ".",
                invocation: String? = nil, orchestratorArguments: [String] = [], forSwarm: Bool = false,
                keysDirectory: String? = nil) {
        self.forSwarm = forSwarm
        self.keysDirectory = keysDirectory
        self.topology = topology
        self.topologySource = topologySource
        self.image = image
        self.buildContext = buildContext
        self.invocation = invocation
        self.orchestratorArguments = orchestratorArguments
    }

    /// The config holding the topology file, and the one holding the writer's event script.
    public static let topologyConfig = "topology"
    public static let writerEventsConfig = "writer-events"

    /// The name of the events file written beside the compose file when the writer has a script.
    public var writerEventsFileName: String { "\(topology.name).writer-events.json" }

    /// The compose file, with the notes on what a compose run leaves out.
    /// Under CURVE every service mounts its key pair and the peers file as secrets; the
    /// caller writes the keys (``ComposeFile/writeKeys(in:)``).
    /// - Throws: `ComposeError` when a node or load generator would take a service name already taken.
    public func generate() throws -> ComposeFile {
        precondition(!forSwarm || image != nil, "a swarm builds nothing: give the image")
        try checkNames()
        try checkNice()
        let warnings = notes()
        var extra: [String: Data] = [:]
        if let events = topology.writer.events {
            let list = events.map { ["at": $0.at.description, "event": $0.event] }
            extra[writerEventsFileName] = try JSONSerialization.data(withJSONObject: list, options: [.sortedKeys])
        }
        let mapper = NodeCommands(
            topology: topology,
            writerPub: ("tcp://*:\(Self.pubPort)", "tcp://\(Topology.writerName):\(Self.pubPort)"),
            writerSnapshots: ("tcp://*:\(Self.snapshotPort)", "tcp://\(Topology.writerName):\(Self.snapshotPort)"),
            nodeDirectory: { Self.nodeDirectory($0) },
            serviceBind: { _ in "tcp://*:\(Self.servicePort)" },
            relayEndpoint: { ("tcp://*:\(Self.relayPort)", "tcp://\($0.name):\(Self.relayPort)") },
            writerScript: topology.writer.events == nil ? nil : Self.eventsTarget)

        let topologyTarget = "/topologies/" + (topologySource as NSString).lastPathComponent
        var configs = [(name: Self.topologyConfig, file: topologySource)]
        if topology.writer.events != nil { configs.append((Self.writerEventsConfig, "./" + writerEventsFileName)) }
        var services = [ComposeService(
            name: Self.orchestratorService, role: "orchestrator", entrypoint: ["/usr/local/bin/orchestrator"],
            command: ["run", "--launcher", "external", "--control-bind", "tcp://*:\(Self.controlPort)",
                      topologyTarget, "--out", "/runs"] + orchestratorArguments,
            dependsOn: [], configs: [(Self.topologyConfig, topologyTarget)], mountsRuns: true)]
        var replicatedDone = Set<String>()
        for spec in topology.nodes {
            if let g = spec.reader, replicates(g) {
                // One service for the whole group: its replicas claim their names from the orchestrator.
                guard replicatedDone.insert(g.groupName).inserted else { continue }
                services.append(replicatedService(g, first: spec, mapper: mapper))
                continue
            }
            services.append(nodeService(spec, mapper: mapper))
        }
        for g in topology.readers where g.role == .query {
            guard let load = g.load else { continue }
            let members = topology.nodes.filter { $0.group == g.groupName && $0.role != .writer }.map(\.name)
            let targets = members.map { "tcp://\($0):\(Self.servicePort)" }
            let name = NodeCommands.queryLoadName(g)
            var command = mapper.queryLoadCommand(for: g, load: load, targets: targets)
            if curve { command = mapper.securedLoad(command, targetNodes: members, files: Self.curveFiles(name)) }
            services.append(ComposeService(
                name: name, role: "query-load", entrypoint: nil, command: command.arguments,
                dependsOn: [Self.orchestratorService], configs: [], mountsRuns: false))
        }
        // Under CURVE each service holds a key pair: a node's own, a replicated group's, the orchestrator's.
        let holders = services.dropFirst().map(\.name)
        if curve { services = services.map { secured($0, holder: $0.name) } }
        return ComposeFile(
            topologyName: topology.name, services: services, image: image ?? Self.defaultImage,
            buildContext: image == nil ? buildContext : nil, header: header(notes: warnings), warnings: warnings, extraFiles: extra,
            configs: configs, forSwarm: forSwarm, secrets: curve ? secrets(holders: holders) : [],
            keysDirectory: curve ? keyDirectory : nil, keyHolders: curve ? holders : [])
    }

    /// Where the writer's event script is mounted in its container.
    static let eventsTarget = "/config/writer-events.json"

    /// Refuses node and load generator names that would take another service's.
    func checkNames() throws {
        var taken = Set(topology.nodes.map(\.name))
        for reserved in [Self.orchestratorService] where taken.contains(reserved) {
            throw ComposeError(.nameTaken, "node \"\(reserved)\": the name is taken by the orchestrator's service; rename the group")
        }
        taken.insert(Self.orchestratorService)
        for g in topology.readers where g.role == .query && g.load != nil {
            let name = NodeCommands.queryLoadName(g)
            if taken.contains(name) {
                throw ComposeError(.nameTaken, "query group \"\(g.groupName)\": its load generator would be named \"\(name)\", which another service has; rename a group")
            }
            taken.insert(name)
        }
    }

    /// Refuses nice values below 0: the image's user is not root, and a
    /// container's capabilities are not its (`cap_add: [SYS_NICE]` would not
    /// help), so such a node would exit at start.
    func checkNice() throws {
        let asked = [("writer.nice", topology.writer.nice)]
            + topology.readers.enumerated().map { ("readers[\($0.offset)].nice (group \"\($0.element.groupName)\")", $0.element.nice) }
        if let (key, nice) = asked.first(where: { ($0.1 ?? 0) < 0 }) {
            throw ComposeError(.niceNotAllowed, "\(key) is \(nice ?? 0): in a container the nodes run as uid \(Self.imageUser), which may raise its nice value but not lower it; give the readers a positive nice or \"scheduling\": \"batch\" instead (docs/topology.md, \"Nice values and scheduling\")")
        }
    }

    /// What a compose run of the topology leaves out or changes.
    func notes() -> [String] {
        var warnings: [String] = []
        if topology.writer.transport == .ipc {
            warnings.append("writer.transport is ipc: containers share no filesystem, so the compose file uses tcp")
        }
        for g in topology.readers where g.startAt != nil {
            warnings.append("reader group \"\(g.groupName)\": startAt is ignored, every container starts at once")
        }
        if !topology.faults.isEmpty || topology.chaos != nil {
            warnings.append("faults and chaos apply to the containers when `orchestrator run --launcher compose` (or swarm) runs this topology; under a plain `docker compose up` they are recorded as skipped")
        }
        return warnings
    }

    /// The clock readers measure latency on: one host's monotonic clock under
    /// compose, the wall clock (with the offset correction) on a swarm.
    var readerClock: LatencyClock { forSwarm ? .wall : .monotonic }

    /// The service of one writer, relay or reader node.
    func nodeService(_ spec: NodeSpec, mapper: NodeCommands) -> ComposeService {
        var node = mapper.command(for: spec)
        if curve { node = mapper.secured(node, for: spec, files: Self.curveFiles(spec.name)) }
        var configs: [(String, String)] = []
        var mountsRuns = false
        switch spec.role {
        case .writer:
            mountsRuns = topology.writer.persist
            if topology.writer.events != nil { configs.append((Self.writerEventsConfig, Self.eventsTarget)) }
        case .reader(.relay):
            break
        case .reader(let role):
            if case .reader(var c) = node { c.clock = readerClock; node = .reader(c) }
            mountsRuns = role == .log
        case .queryLoad, .cpuHog:
            preconditionFailure("a topology's nodes are the writer and readers; \(spec.name) is \(spec.role)")
        }
        // Only the orchestrator comes first: it times the launch from its own start, and the nodes
        // retry their upstreams until they answer, so they start together rather than in waves.
        return ComposeService(name: spec.name, role: spec.role.name, entrypoint: nil, command: node.arguments,
                              dependsOn: [Self.orchestratorService], configs: configs, mountsRuns: mountsRuns)
    }

    /// The file's header comment: what it is, how it was made, how to run it, and the notes.
    func header(notes: [String]) -> [String] {
        var header = [
            "ClusterSim: topology \"\(topology.name)\", \(topology.nodes.count) nodes: a service per node, cli and log groups as one service with replicas.",
            "Generated by `\(invocation ?? "orchestrator compose")`; edit the topology and generate again.",
            "Run: docker compose up (or docker-compose --compatibility up); the report lands in the \"runs\" volume.",
            "Or let the orchestrator run it, apply the faults and copy the report out: orchestrator run --launcher compose (or swarm) TOPOLOGY.",
        ]
        if forSwarm {
            header.append("For docker stack deploy (the topology is a config, nothing is built or mounted from the host); compose v1 ignores configs.")
        } else if image != nil {
            header.append("Also for docker stack deploy on one host: the image is given, nothing is built (the topology is a bind mount; --swarm makes it a config).")
        }
        for w in notes { header.append("Note: " + w) }
        return header
    }

    /// Whether a reader group becomes one service with `replicas`: cli and log
    /// groups of more than one node, whose nodes nobody connects to by name and
    /// that differ only by name and seed (a `via` relay group of one relay, so
    /// every replica subscribes to the same upstream). Query readers (their
    /// load generator addresses each one), relays and the writer keep a
    /// service per node, so each has a stable host name.
    public func replicates(_ g: ReaderGroup) -> Bool {
        guard g.count > 1, g.role == .cli || g.role == .log else { return false }
        guard let via = g.via else { return true }
        return topology.nodes.filter { $0.group == via && $0.reader?.role == .relay }.count == 1
    }

    /// The service of a replicated group: its first node's command, claiming
    /// the name (and with it the seed) from the orchestrator.
    func replicatedService(_ g: ReaderGroup, first spec: NodeSpec, mapper: NodeCommands) -> ComposeService {
        var node = mapper.command(for: spec, claimingName: true)
        if curve { node = mapper.secured(node, for: spec, files: Self.curveFiles(g.groupName)) }
        if case .reader(var c) = node { c.clock = readerClock; node = .reader(c) }
        return ComposeService(name: g.groupName, role: g.role.rawValue, entrypoint: nil, command: node.arguments,
                              dependsOn: [Self.orchestratorService], configs: [], mountsRuns: g.role == .log, replicas: g.count)
    }

    /// Compose reads `$NAME` and `${NAME}` in values as variables; `$$` is a literal `$`.
    public static func escapeInterpolation(_ s: String) -> String {
        s.replacingOccurrences(of: "$", with: "$$")
    }

    /// `path` relative to `directory` when it lies beneath it (`./topologies/x.json`),
    /// otherwise absolute. Both are made absolute from the working directory first.
    public static func relativePath(_ path: String, from directory: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String {
            let full = p.hasPrefix("/") ? p : (cwd as NSString).appendingPathComponent(p)
            return (full as NSString).standardizingPath
        }
        let p = absolute(path), d = absolute(directory)
        if p == d { return "." }
        let prefix = d.hasSuffix("/") ? d : d + "/"
        return p.hasPrefix(prefix) ? "./" + p.dropFirst(prefix.count) : p
    }
}
