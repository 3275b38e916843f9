import Foundation

/// Why a topology cannot become a compose file.
public struct ComposeError: CodedError, Hashable {
    public typealias Code = ErrorCode<ComposeError>
    public let code: Code
    /// What is wrong and what to do, as shown to the user.
    public let message: String

    public init(_ code: Code, _ message: String) {
        (self.code, self.message) = (code, message)
    }
}

extension ErrorCode<ComposeError> {
    /// A node or a load generator would take a service name already taken.
    public static let nameTaken = Self("name-taken")
    /// The compose file needs a file beside it (the writer's event script), so it cannot go to standard output.
    public static let needsDirectory = Self("needs-directory")
    /// A nice value below 0, which the image's user may not take in a container.
    public static let niceNotAllowed = Self("nice-not-allowed")
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
    /// Files the container reads: (the config's name in ``ComposeFile/configs``,
    /// the path in the container). Read-only. For compose a bind mount of the
    /// config's file (compose v1 ignores `configs`); for swarm a config, which
    /// swarm carries to whichever host runs the container, so no host path is mounted.
    public var configs: [(source: String, target: String)]
    /// Whether the `runs` volume is mounted at /runs.
    public var mountsRuns: Bool
    /// Containers of this service: a replicated reader group's node count, else 1.
    public var replicas: Int
    /// Under CURVE: (the secret's name in ``ComposeFile/secrets``, the file's name under `/run/secrets`).
    public var secrets: [(source: String, target: String)] = []

    public init(name: String, role: String, entrypoint: [String]?, command: [String], dependsOn: [String],
                configs: [(source: String, target: String)], mountsRuns: Bool, replicas: Int = 1) {
        self.name = name
        self.role = role
        self.entrypoint = entrypoint
        self.command = command
        self.dependsOn = dependsOn
        self.configs = configs
        self.mountsRuns = mountsRuns
        self.replicas = replicas
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.role == b.role && a.entrypoint == b.entrypoint && a.command == b.command
            && a.dependsOn == b.dependsOn && a.mountsRuns == b.mountsRuns && a.replicas == b.replicas
            && a.configs.map(\.source) == b.configs.map(\.source) && a.configs.map(\.target) == b.configs.map(\.target)
            && a.secrets.map(\.source) == b.secrets.map(\.source) && a.secrets.map(\.target) == b.secrets.map(\.target)
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
    /// The configs the services use: name, and the file (relative to the compose file's directory, or absolute).
    public var configs: [(name: String, file: String)] = []
    /// Written for `docker stack deploy`: the files are swarm configs rather than bind mounts.
    public var forSwarm = false
    /// Under CURVE, the secrets: name, and the file (in ``keysDirectory``).
    public var secrets: [(name: String, file: String)] = []
    /// Under CURVE, where ``writeKeys(in:)`` puts the keys, relative to the compose file's directory (or absolute).
    public var keysDirectory: String?
    /// Under CURVE, the services that hold a key pair besides the orchestrator: node services and replicated groups.
    public var keyHolders: [String] = []

    public func service(named name: String) -> ComposeService? { services.first { $0.name == name } }

    /// The compose file's text.
    public var yaml: String {
        func s(_ text: String) -> YAMLValue { .string(ComposeGenerator.escapeInterpolation(text)) }
        func list(_ items: [String]) -> YAMLValue { .list(items.map(s)) }

        var common: [YAMLEntry] = [YAMLEntry("image", s(image))]
        if let buildContext { common.append(YAMLEntry("build", .map([YAMLEntry("context", s(buildContext))]))) }
        // Swarm: every service resolves to its tasks' addresses (dnsrr). The
        // default, a virtual IP, needs IPVS in the kernel; without it nothing
        // reaches a service by name, and ZeroMQ's connections gain nothing from
        // a load balancer in between anyway.
        func deploy(replicas: Int, manager: Bool = false) -> YAMLValue {
            var entries = [
                YAMLEntry("replicas", .int(replicas)),
                YAMLEntry("endpoint_mode", s("dnsrr")),
                YAMLEntry("restart_policy", .map([YAMLEntry("condition", s("none"))])),
            ]
            if manager {
                // Where `docker stack deploy` runs: `orchestrator run --launcher swarm` collects the report there.
                entries.append(YAMLEntry("placement", .map([YAMLEntry("constraints", list(["node.role == manager"]))])))
            }
            return .map(entries)
        }
        common += [
            YAMLEntry("init", .bool(true)),
            // The engine's resolver answers the stack's own names and forwards the rest upstream:
            // to the loopback, where nothing listens, so no query leaves the host.
            YAMLEntry("dns", list(["127.0.0.1"])),
            YAMLEntry("environment", .map(ComposeGenerator.resolverEnvironment.map { YAMLEntry($0.key, s($0.value)) })),
            YAMLEntry("restart", s("no")),
            YAMLEntry("stop_grace_period", s("10s")),
            YAMLEntry("deploy", deploy(replicas: 1)),
        ]
        let nodeCommon = [YAMLEntry("<<", .alias("image"))]
            + [YAMLEntry("environment", .map([YAMLEntry("CLUSTERSIM_CONTROL", s(ComposeGenerator.controlConnect))]
                + ComposeGenerator.resolverEnvironment.map { YAMLEntry($0.key, s($0.value)) }))]

        var services: [YAMLEntry] = []
        for svc in self.services {
            var e: [YAMLEntry] = [YAMLEntry("<<", .alias(svc.role == "orchestrator" ? "image" : "node"))]
            if let ep = svc.entrypoint { e.append(YAMLEntry("entrypoint", list(ep))) }
            e.append(YAMLEntry("command", list(svc.command)))
            if forSwarm && !svc.configs.isEmpty {
                e.append(YAMLEntry("configs", .list(svc.configs.map {
                    .map([YAMLEntry("source", s($0.source)), YAMLEntry("target", s($0.target))])
                })))
            }
            var volumes: [YAMLValue] = forSwarm ? [] : svc.configs.map { config in
                let file = configs.first { $0.name == config.source }?.file ?? config.source
                return .map([YAMLEntry("type", s("bind")), YAMLEntry("source", s(file)),
                             YAMLEntry("target", s(config.target)), YAMLEntry("read_only", .bool(true))])
            }
            if svc.mountsRuns {
                volumes.append(.map([YAMLEntry("type", s("volume")), YAMLEntry("source", s("runs")),
                                     YAMLEntry("target", s("/runs"))]))
            }
            if !volumes.isEmpty { e.append(YAMLEntry("volumes", .list(volumes))) }
            if !svc.secrets.isEmpty {
                e.append(YAMLEntry("secrets", .list(svc.secrets.map { secret in
                    var entries = [YAMLEntry("source", s(secret.source)), YAMLEntry("target", s(secret.target))]
                    // Swarm sets a secret's owner and mode; compose mounts the file as it is on the host
                    // (`writeKeys` hands it to the image's user) and only warns about these keys.
                    if forSwarm {
                        entries += [YAMLEntry("uid", s("\(ComposeGenerator.imageUser)")), YAMLEntry("gid", s("\(ComposeGenerator.imageUser)")),
                                    YAMLEntry("mode", .int(0o400))]
                    }
                    return .map(entries)
                })))
            }
            if !svc.dependsOn.isEmpty { e.append(YAMLEntry("depends_on", list(svc.dependsOn))) }
            if svc.role == "orchestrator" {
                // Replaces the shared `deploy` (a merge is shallow), so the rest is repeated.
                e.append(YAMLEntry("deploy", deploy(replicas: 1, manager: true)))
            } else if svc.replicas != 1 {
                e.append(YAMLEntry("deploy", deploy(replicas: svc.replicas)))
            }
            services.append(YAMLEntry(svc.name, .map(e)))
        }
        var top = [
            YAMLEntry("version", s("3.8")),
            YAMLEntry("x-image", .map(common), anchor: "image"),
            YAMLEntry("x-node", .map(nodeCommon), anchor: "node"),
            YAMLEntry("services", .map(services)),
            YAMLEntry("volumes", .map([YAMLEntry("runs", .map([]))])),
        ]
        if forSwarm && !configs.isEmpty {
            top.append(YAMLEntry("configs", .map(configs.map { YAMLEntry($0.name, .map([YAMLEntry("file", s($0.file))])) })))
        }
        if !secrets.isEmpty {
            top.append(YAMLEntry("secrets", .map(secrets.map { YAMLEntry($0.name, .map([YAMLEntry("file", s($0.file))])) })))
        }
        return YAML.render(top, header: header)
    }
}
