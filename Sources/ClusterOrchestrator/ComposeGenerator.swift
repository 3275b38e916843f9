import ClusterCore
import ClusterNode
import Foundation

// MARK: - YAML

/// A YAML value, as much of YAML as a compose file needs.
///
/// Emitted by hand (no YAML dependency): every string scalar is written
/// double-quoted with escapes, so no value can turn into a number, a boolean
/// (`yes`, `no`, `on`), a null, a comment, an anchor or a nested structure.
public indirect enum YAMLValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([YAMLValue])
    case map([YAMLEntry])
    /// A reference to an anchored value: `*name`.
    case alias(String)
}

/// One key of a YAML mapping.
public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var value: YAMLValue
    /// Puts `&anchor` on the value so that `.alias(anchor)` can refer to it.
    public var anchor: String?

    public init(_ key: String, _ value: YAMLValue, anchor: String? = nil) {
        self.key = key
        self.value = value
        self.anchor = anchor
    }
}

/// The YAML emitter.
public enum YAML {
    /// `s` as a double-quoted YAML scalar that reads back as exactly `s`
    /// under YAML 1.1 and 1.2 parsers.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            default:
                let v = scalar.value
                // C0 and C1 controls, DEL, NEL, the line and paragraph separators and the BOM: escaped.
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 || v == 0xFEFF {
                    out += "\\u" + String(format: "%04X", v)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Words YAML 1.1 reads as booleans or null when plain.
    static let specialWords: Set<String> = ["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"]

    /// A mapping key: plain when it is an identifier that no parser reads as
    /// anything but a string (`services`, `log-1`), otherwise quoted.
    public static func key(_ s: String) -> String {
        if s == "<<" { return s }  // the merge key
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic),
              s.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }),
              !specialWords.contains(s.lowercased())
        else { return quoted(s) }
        return s
    }

    /// Renders a document: optional comment lines, then the top-level mapping.
    public static func render(_ entries: [YAMLEntry], header: [String] = []) -> String {
        var lines = header.map { "# " + $0.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ") }
        for (i, e) in entries.enumerated() {
            if i > 0 || !lines.isEmpty { lines.append("") }  // a blank line between top-level sections
            lines += renderMap([e], indent: 0)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func scalar(_ v: YAMLValue) -> String? {
        switch v {
        case .string(let s): quoted(s)
        case .int(let i): String(i)
        case .bool(let b): b ? "true" : "false"
        case .alias(let a): "*" + a
        case .list(let l) where l.isEmpty: "[]"
        case .map(let m) where m.isEmpty: "{}"
        case .list, .map: nil
        }
    }

    static func renderMap(_ entries: [YAMLEntry], indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = []
        for e in entries {
            let head = pad + key(e.key) + ":" + (e.anchor.map { " &" + $0 } ?? "")
            if let s = scalar(e.value) {
                lines.append(head + " " + s)
            } else if let flow = flowList(e.value, first: head.count + 1, indent: indent + 4) {
                lines.append(head + " " + flow)
            } else {
                lines.append(head)
                lines += renderBlock(e.value, indent: indent + 2)
            }
        }
        return lines
    }

    /// Column at which a flow list is wrapped.
    static let width = 100

    /// A non-empty list of scalars in flow style, `["a", "b"]`, wrapped at
    /// ``width`` onto lines indented by `indent`; nil for any other value.
    static func flowList(_ v: YAMLValue, first column: Int, indent: Int) -> String? {
        guard case .list(let items) = v, !items.isEmpty else { return nil }
        let parts = items.compactMap(scalar)
        guard parts.count == items.count else { return nil }
        var out = "["
        var col = column + 1
        for (i, p) in parts.enumerated() {
            let piece = p + (i == parts.count - 1 ? "]" : ",")
            if i > 0 {
                if col + 1 + piece.count > width {
                    out += "\n" + String(repeating: " ", count: indent)
                    col = indent
                } else {
                    out += " "
                    col += 1
                }
            }
            out += piece
            col += piece.count
        }
        return out
    }

    /// A non-empty list or map, as block lines at `indent`.
    static func renderBlock(_ v: YAMLValue, indent: Int) -> [String] {
        switch v {
        case .map(let m):
            return renderMap(m, indent: indent)
        case .list(let items):
            let pad = String(repeating: " ", count: indent)
            var lines: [String] = []
            for item in items {
                if let s = scalar(item) {
                    lines.append(pad + "- " + s)
                } else {
                    // Render the nested block two columns in, then put the dash on its first line.
                    var inner = renderBlock(item, indent: indent + 2)
                    inner[0] = pad + "- " + inner[0].dropFirst(indent + 2)
                    lines += inner
                }
            }
            return lines
        default:
            return [String(repeating: " ", count: indent) + (scalar(v) ?? "")]
        }
    }
}

// MARK: - Node arguments

/// The command line of each node of a topology, with the endpoints and paths
/// left to the caller: the one mapping both the local launcher and
/// `orchestrator compose` use.
public struct NodeArguments: Sendable {
    public var topology: Topology
    /// The writer's PUB endpoint: the one it binds (writer) or connects to (readers).
    public var writerPub: (bind: String, connect: String)
    /// The writer's snapshot service endpoint, likewise.
    public var writerSnapshots: (bind: String, connect: String)
    /// The directory of a node's files (log file, writer state).
    public var nodeDirectory: @Sendable (String) -> String
    /// The endpoint a query reader's service binds.
    public var serviceBind: @Sendable (NodeSpec) -> String
    /// The endpoint a relay's XPUB binds, and the one its subscribers connect to.
    public var relayEndpoint: @Sendable (NodeSpec) -> (bind: String, connect: String)
    /// The writer's event script file, when the topology has `writer.events`.
    public var writerScript: String?

    public init(
        topology: Topology, writerPub: (bind: String, connect: String), writerSnapshots: (bind: String, connect: String),
        nodeDirectory: @escaping @Sendable (String) -> String, serviceBind: @escaping @Sendable (NodeSpec) -> String,
        relayEndpoint: @escaping @Sendable (NodeSpec) -> (bind: String, connect: String), writerScript: String? = nil
    ) {
        self.topology = topology
        self.writerPub = writerPub
        self.writerSnapshots = writerSnapshots
        self.nodeDirectory = nodeDirectory
        self.serviceBind = serviceBind
        self.relayEndpoint = relayEndpoint
        self.writerScript = writerScript
    }

    /// The relay a node subscribes through: with `via`, one relay of that
    /// group, spread by the node's index; nil for the writer's own stream.
    public func upstreamRelay(for spec: NodeSpec) -> NodeSpec? {
        guard let via = spec.reader?.via else { return nil }
        let relays = topology.nodes.filter { $0.group == via && $0.reader?.role == .relay }
        guard !relays.isEmpty else { return nil }
        return relays[(max(spec.index, 1) - 1) % relays.count]
    }

    /// The PUB endpoint a node subscribes to: the writer's or its relay's.
    public func upstreamEndpoint(for spec: NodeSpec) -> String {
        upstreamRelay(for: spec).map { relayEndpoint($0).connect } ?? writerPub.connect
    }

    /// `cluster-node` arguments of a writer or reader node.
    /// - Parameter claimingName: for a replica of the node's group: `--claim-name GROUP`
    ///   instead of `--name`, no `--seed` (the orchestrator's answer brings it) and
    ///   `{name}` for the node in file paths (the reader puts the claimed name there).
    public func arguments(for spec: NodeSpec, claimingName: Bool = false) -> [String] {
        let w = topology.writer
        guard let g = spec.reader else {
            var a = ["writer", "--name", spec.name, "--pub", writerPub.bind, "--snapshots", writerSnapshots.bind,
                     "--rate", "\(w.rate)", "--payload-bytes", "\(w.payloadBytes)", "--seed", "\(topology.seed)",
                     "--sndhwm", "\(w.sndhwm)", "--heartbeat", "\(w.heartbeat)", "--history-limit", "\(w.historyLimit)"]
            if w.nodrop { a.append("--nodrop") }
            if w.coalesce { a.append("--coalesce") }
            if let b = w.sndbuf { a += ["--sndbuf", "\(b)"] }
            if w.persist { a += ["--state-dir", nodeDirectory(spec.name) + "/state"] }
            if w.events != nil, let writerScript { a += ["--script", writerScript] }
            return a
        }
        let upstream = upstreamEndpoint(for: spec)
        if g.role == .relay {
            let r = g.relay ?? RelaySpec()
            var a = ["relay", "--name", spec.name, "--upstream", upstream, "--bind", relayEndpoint(spec).bind,
                     "--loss", "\(r.loss)", "--seed", "\(topology.seed &+ UInt64(spec.index) &* 104_729)"]
            if r.delay.nanoseconds > 0 { a += ["--delay", "\(r.delay.nanoseconds)ns"] }
            if r.jitter.nanoseconds > 0 { a += ["--jitter", "\(r.jitter.nanoseconds)ns"] }
            return a
        }
        let name = claimingName ? "{name}" : spec.name
        var a = ["reader"] + (claimingName ? ["--claim-name", spec.group] : ["--name", spec.name])
            + ["--role", g.role.rawValue, "--pub", upstream,
               "--snapshots", writerSnapshots.connect, "--policy", g.policy.rawValue, "--rcvhwm", "\(g.rcvhwm)",
               "--lag-limit", "\(g.lagLimit)"]
        if !claimingName { a += ["--seed", "\(Self.readerSeed(topology, for: spec))"] }
        if let b = g.rcvbuf { a += ["--rcvbuf", "\(b)"] }
        if let d = g.processingDelay {
            switch d.distribution {
            case .fixed: a += ["--delay", "\(d.mean.nanoseconds)ns"]
            case .uniform: a += ["--delay", "uniform:\((d.min ?? .zero).nanoseconds)ns:\((d.max ?? d.mean).nanoseconds)ns"]
            case .exponential: a += ["--delay", "exponential:\(d.mean.nanoseconds)ns"]
            }
        }
        switch g.role {
        case .log:
            a += ["--log-file", nodeDirectory(name) + "/snapshots.jsonl", "--log-flush-every", "\(g.logFlushEvery)"]
        case .query:
            a += ["--service", serviceBind(spec), "--workers", "\(g.workers)", "--history-size", "\(g.historySize)"]
        case .cli, .relay:
            break
        }
        return a
    }

    /// The seed of a reader's processing-delay distribution: the topology's
    /// seed spread by the node's index (also handed to a replica that claims the node).
    public static func readerSeed(_ topology: Topology, for spec: NodeSpec) -> UInt64 {
        topology.seed &+ UInt64(spec.index) &* 7919
    }

    /// The load generator's name for a query group.
    public static func queryLoadName(_ group: ReaderGroup) -> String { "\(group.groupName)-load" }

    /// `cluster-node query-load` arguments for a query group with `load`.
    public func queryLoadArguments(for group: ReaderGroup, load: QueryLoad, targets: [String]) -> [String] {
        let name = Self.queryLoadName(group)
        return ["query-load", "--name", name, "--clients", "\(load.clients)", "--rate", "\(load.rate)",
                "--timeout", "\(load.timeout)", "--seed", "\(topology.seed &+ 7)"]
            + (load.mix.map { ["--mix", RequestMix(weights: $0).argument] } ?? [])
            + targets.flatMap { ["--target", $0] }
    }
}

// MARK: - Compose files

/// Why a topology cannot become a compose file.
public struct ComposeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One service of a generated compose file.
public struct ComposeService: Sendable, Equatable {
    /// The service name, also the node's host name on the compose network.
    public var name: String
    /// `orchestrator`, `writer`, `log`, `query`, `cli`, `relay`, `query-load`.
    public var role: String
    /// The entrypoint when it is not the image's (`cluster-node`).
    public var entrypoint: [String]?
    public var command: [String]
    public var dependsOn: [String]
    /// Bind mounts: (source on the host, target in the container), read-only.
    public var binds: [(source: String, target: String)]
    /// Whether the `runs` volume is mounted at /runs.
    public var mountsRuns: Bool
    /// Containers of this service: a replicated reader group's node count, else 1.
    public var replicas: Int

    public init(name: String, role: String, entrypoint: [String]?, command: [String], dependsOn: [String],
                binds: [(source: String, target: String)], mountsRuns: Bool, replicas: Int = 1) {
        self.name = name
        self.role = role
        self.entrypoint = entrypoint
        self.command = command
        self.dependsOn = dependsOn
        self.binds = binds
        self.mountsRuns = mountsRuns
        self.replicas = replicas
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.role == b.role && a.entrypoint == b.entrypoint && a.command == b.command
            && a.dependsOn == b.dependsOn && a.mountsRuns == b.mountsRuns && a.replicas == b.replicas
            && a.binds.map(\.source) == b.binds.map(\.source) && a.binds.map(\.target) == b.binds.map(\.target)
    }
}

/// A compose file generated from a topology.
public struct ComposeFile: Sendable {
    public var topologyName: String
    /// The orchestrator first, then the writer, the readers in node order, the load generators.
    public var services: [ComposeService]
    /// `image:` of every service.
    public var image: String
    /// `build.context`, or nil when the image is given and must not be built.
    public var buildContext: String?
    /// Comment lines at the top.
    public var header: [String]
    /// Things the topology asks for that containers cannot do as the local launcher does.
    public var warnings: [String]
    /// Files the compose file mounts and that must be written beside it, by name.
    public var extraFiles: [String: Data]

    public func service(named name: String) -> ComposeService? { services.first { $0.name == name } }

    /// The compose file's text.
    public var yaml: String {
        func s(_ text: String) -> YAMLValue { .string(ComposeGenerator.escapeInterpolation(text)) }
        func list(_ items: [String]) -> YAMLValue { .list(items.map(s)) }

        var common: [YAMLEntry] = [YAMLEntry("image", s(image))]
        if let buildContext { common.append(YAMLEntry("build", .map([YAMLEntry("context", s(buildContext))]))) }
        common += [
            YAMLEntry("init", .bool(true)),
            YAMLEntry("restart", s("no")),
            YAMLEntry("stop_grace_period", s("10s")),
            YAMLEntry("deploy", .map([
                YAMLEntry("replicas", .int(1)),
                YAMLEntry("restart_policy", .map([YAMLEntry("condition", s("none"))])),
            ])),
        ]
        let nodeCommon = [YAMLEntry("<<", .alias("image"))]
            + [YAMLEntry("environment", .map([YAMLEntry("CLUSTERSIM_CONTROL", s(ComposeGenerator.controlConnect))]))]

        var services: [YAMLEntry] = []
        for svc in self.services {
            var e: [YAMLEntry] = [YAMLEntry("<<", .alias(svc.role == "orchestrator" ? "image" : "node"))]
            if let ep = svc.entrypoint { e.append(YAMLEntry("entrypoint", list(ep))) }
            e.append(YAMLEntry("command", list(svc.command)))
            var volumes: [YAMLValue] = svc.binds.map {
                .map([YAMLEntry("type", s("bind")), YAMLEntry("source", s($0.source)),
                      YAMLEntry("target", s($0.target)), YAMLEntry("read_only", .bool(true))])
            }
            if svc.mountsRuns {
                volumes.append(.map([YAMLEntry("type", s("volume")), YAMLEntry("source", s("runs")),
                                     YAMLEntry("target", s("/runs"))]))
            }
            if !volumes.isEmpty { e.append(YAMLEntry("volumes", .list(volumes))) }
            if !svc.dependsOn.isEmpty { e.append(YAMLEntry("depends_on", list(svc.dependsOn))) }
            if svc.replicas != 1 {
                // Replaces the shared `deploy` (a merge is shallow), so the restart policy is repeated.
                e.append(YAMLEntry("deploy", .map([
                    YAMLEntry("replicas", .int(svc.replicas)),
                    YAMLEntry("restart_policy", .map([YAMLEntry("condition", s("none"))])),
                ])))
            }
            services.append(YAMLEntry(svc.name, .map(e)))
        }
        return YAML.render([
            YAMLEntry("version", s("3.8")),
            YAMLEntry("x-image", .map(common), anchor: "image"),
            YAMLEntry("x-node", .map(nodeCommon), anchor: "node"),
            YAMLEntry("services", .map(services)),
            YAMLEntry("volumes", .map([YAMLEntry("runs", .map([]))])),
        ], header: header)
    }
}

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
/// Readers measure with wall clocks, corrected by the orchestrator's clock
/// offset estimates, since containers do not share a monotonic clock.
public struct ComposeGenerator: Sendable {
    public static let pubPort = 5555
    public static let snapshotPort = 5556
    public static let controlPort = 5600
    public static let relayPort = 5560
    public static let servicePort = 5700
    public static let orchestratorService = "orchestrator"
    public static let defaultImage = "clustersim:latest"
    public static var controlConnect: String { "tcp://\(orchestratorService):\(controlPort)" }
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

    public init(topology: Topology, topologySource: String, image: String? = nil, buildContext: String = ".",
                invocation: String? = nil) {
        self.topology = topology
        self.topologySource = topologySource
        self.image = image
        self.buildContext = buildContext
        self.invocation = invocation
    }

    /// The name of the events file written beside the compose file when the writer has a script.
    public var writerEventsFileName: String { "\(topology.name).writer-events.json" }

    public func generate() throws -> ComposeFile {
        let nodes = topology.nodes
        var taken = Set(nodes.map(\.name))
        for reserved in [Self.orchestratorService] where taken.contains(reserved) {
            throw ComposeError("node \"\(reserved)\": the name is taken by the orchestrator's service; rename the group")
        }
        taken.insert(Self.orchestratorService)
        for g in topology.readers where g.role == .query && g.load != nil {
            let name = NodeArguments.queryLoadName(g)
            if taken.contains(name) {
                throw ComposeError("query group \"\(g.groupName)\": its load generator would be named \"\(name)\", which another service has; rename a group")
            }
            taken.insert(name)
        }

        var warnings: [String] = []
        var extra: [String: Data] = [:]
        let eventsTarget = "/config/writer-events.json"
        if let events = topology.writer.events {
            let list = events.map { ["at": $0.at.description, "event": $0.event] }
            extra[writerEventsFileName] = try JSONSerialization.data(withJSONObject: list, options: [.sortedKeys])
        }
        if topology.writer.transport == .ipc {
            warnings.append("writer.transport is ipc: containers share no filesystem, so the compose file uses tcp")
        }
        for g in topology.readers where g.startAt != nil {
            warnings.append("reader group \"\(g.groupName)\": startAt is ignored, every container starts at once")
        }
        if !topology.faults.isEmpty || topology.chaos != nil {
            warnings.append("faults and chaos are skipped: process faults need the local launcher, and under compose the engine owns the containers")
        }

        let mapper = NodeArguments(
            topology: topology,
            writerPub: ("tcp://*:\(Self.pubPort)", "tcp://\(Topology.writerName):\(Self.pubPort)"),
            writerSnapshots: ("tcp://*:\(Self.snapshotPort)", "tcp://\(Topology.writerName):\(Self.snapshotPort)"),
            nodeDirectory: { Self.nodeDirectory($0) },
            serviceBind: { _ in "tcp://*:\(Self.servicePort)" },
            relayEndpoint: { ("tcp://*:\(Self.relayPort)", "tcp://\($0.name):\(Self.relayPort)") },
            writerScript: topology.writer.events == nil ? nil : eventsTarget)

        let topologyTarget = "/topologies/" + (topologySource as NSString).lastPathComponent
        var services = [ComposeService(
            name: Self.orchestratorService, role: "orchestrator", entrypoint: ["/usr/local/bin/orchestrator"],
            command: ["run", "--launcher", "external", "--control-bind", "tcp://*:\(Self.controlPort)",
                      topologyTarget, "--out", "/runs"],
            dependsOn: [], binds: [(topologySource, topologyTarget)], mountsRuns: true)]
        var replicatedDone = Set<String>()
        for spec in nodes {
            if let g = spec.reader, replicates(g) {
                // One service for the whole group: its replicas claim their names from the orchestrator.
                guard replicatedDone.insert(g.groupName).inserted else { continue }
                services.append(replicatedService(g, first: spec, mapper: mapper))
                continue
            }
            var command = mapper.arguments(for: spec)
            var binds: [(String, String)] = []
            var mountsRuns = false
            var dependsOn = [Self.orchestratorService]
            switch spec.role {
            case .writer:
                mountsRuns = topology.writer.persist
                if topology.writer.events != nil { binds.append(("./" + writerEventsFileName, eventsTarget)) }
            case .reader(.relay):
                dependsOn.append(mapper.upstreamRelay(for: spec)?.name ?? Topology.writerName)
            case .reader(let role):
                command += ["--clock", "wall"]
                mountsRuns = role == .log
                dependsOn.append(Topology.writerName)
                if let relay = mapper.upstreamRelay(for: spec) { dependsOn.append(relay.name) }
            }
            services.append(ComposeService(
                name: spec.name, role: spec.role.name, entrypoint: nil, command: command,
                dependsOn: dependsOn, binds: binds, mountsRuns: mountsRuns))
        }
        for g in topology.readers where g.role == .query {
            guard let load = g.load else { continue }
            let members = nodes.filter { $0.group == g.groupName && $0.role != .writer }.map(\.name)
            let targets = members.map { "tcp://\($0):\(Self.servicePort)" }
            services.append(ComposeService(
                name: NodeArguments.queryLoadName(g), role: "query-load", entrypoint: nil,
                command: mapper.queryLoadArguments(for: g, load: load, targets: targets),
                dependsOn: [Self.orchestratorService] + members, binds: [], mountsRuns: false))
        }

        var header = [
            "ClusterSim: topology \"\(topology.name)\", \(nodes.count) nodes: a service per node, cli and log groups as one service with replicas.",
            "Generated by `\(invocation ?? "orchestrator compose")`; edit the topology and generate again.",
            "Run: docker compose up (or docker-compose up); the report lands in the \"runs\" volume.",
        ]
        if image != nil {
            header.append("Also for docker stack deploy: the image is given, nothing is built.")
        }
        for w in warnings { header.append("Note: " + w) }
        return ComposeFile(
            topologyName: topology.name, services: services, image: image ?? Self.defaultImage,
            buildContext: image == nil ? buildContext : nil, header: header, warnings: warnings, extraFiles: extra)
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
    func replicatedService(_ g: ReaderGroup, first spec: NodeSpec, mapper: NodeArguments) -> ComposeService {
        let command = mapper.arguments(for: spec, claimingName: true) + ["--clock", "wall"]
        var dependsOn = [Self.orchestratorService, Topology.writerName]
        if let relay = mapper.upstreamRelay(for: spec) { dependsOn.append(relay.name) }
        return ComposeService(name: g.groupName, role: g.role.rawValue, entrypoint: nil, command: command,
                              dependsOn: dependsOn, binds: [], mountsRuns: g.role == .log, replicas: g.count)
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
