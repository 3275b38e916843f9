import CSystemShims
import ClusterCore
import ClusterProcess
import Foundation
import Logging
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Runs a topology: launches the nodes, waits for readiness, drives the
/// measured phase with its faults, collects the dumps and writes the report.
///
/// This type sets a run up and wires its parts: it loads the topology,
/// creates the run directory, the network namespaces (netns launcher) and
/// the control plane, chooses the launcher, plans the nodes, and hands them
/// to the ``RunLoop``, which drives the run through ``RunStateMachine``.
public final class Orchestrator {
    let options: RunOptions
    let logger: Logger
    let signals: ShutdownSignals

    public init(options: RunOptions, logger: Logger, signals: ShutdownSignals) {
        self.options = options
        self.logger = logger
        self.signals = signals
    }

    /// Runs the topology. Progress and failures are printed as the run goes;
    /// the summary is in the outcome, for the caller to print.
    /// - Returns: exit 0 when every SLO held, 1 when one did not, 2 on bad input or a failed run.
    public func run() -> RunOutcome {
        // The system commands' monitor thread (swift-subprocess) waits with every signal
        // unblocked: a SIGINT or SIGTERM the kernel hands to it comes back to this thread,
        // whose signalfd the loop watches, instead of ending the process.
        _ = csim_forward_shutdown_signals()
        // 1. The topology.
        guard let validated = loadTopology() else { return .failed }
        var topology = validated
        // topology.json keeps the launcher the file asked for (the one it was validated with:
        // network faults need netns); the one used is in run-state.json and the report.
        if let l = options.launcher { topology.launcher = l }
        if options.curveKeys != nil, topology.securityMode != .curve || topology.launcher.deploysContainers {
            Self.fail("--curve-keys: " + (topology.securityMode != .curve
                ? "the topology's security.mode is \(topology.securityMode.rawValue), not curve"
                : "the \(topology.launcher.rawValue) launcher makes the stack's keys itself"))
            return .failed
        }
        if topology.launcher.deploysContainers {
            // The run itself happens in the stack's orchestrator container; this process deploys, serves faults, collects.
            guard let docker = DockerCLI(environment: options.environment) else {
                Self.fail("launcher \"\(topology.launcher.rawValue)\" needs the docker client (apt-get install docker.io, or scripts/setup.sh)")
                return .failed
            }
            guard SystemCommand.run([docker.docker, "info"], timeout: .seconds(20), environment: docker.environment).ok else {
                Self.fail("launcher \"\(topology.launcher.rawValue)\": no Docker engine answers (scripts/docker-engine.sh start starts one)")
                return .failed
            }
            return StackRun(topology: topology, options: options, logger: logger, signals: signals, docker: docker).run()
        }
        if topology.launcher == .netns, let why = NetnsPreflight.problem(euid: geteuid(), transport: topology.writer.transport) {
            Self.fail(why)
            return .failed
        }
        let nodeCount = topology.nodes.count + topology.readers.filter { $0.load != nil }.count
        let problems = Preflight.problems(nodes: nodeCount, ownsProcesses: topology.launcher != .external, limits: .read())
        guard problems.isEmpty else {
            Self.fail("this machine cannot run \(topology.name) as it is:\n" + problems.map { "  " + $0 }.joined(separator: "\n"))
            return .failed
        }
        Preflight.raiseOpenFiles(forNodes: nodeCount)
        guard topology.launcher == .external || FileManager.default.isExecutableFile(atPath: options.nodeBinary) else {
            Self.fail("cluster-node executable not found at \(options.nodeBinary) (build it with `swift build -c release`, or pass --node-binary)")
            return .failed
        }

        // 2. The run directory, and a private directory for ipc endpoints.
        let directory: RunDirectory
        do { directory = try RunDirectory(parent: options.outDirectory, topology: validated) } catch {
            Self.fail("cannot create the run directory under \(options.outDirectory): \(error)")
            return .failed
        }
        for leftover in PrivateDirectory.removeLeftovers() {
            directory.events.log("leftover-removed", detail: ["object": leftover])
        }
        let ipc: PrivateDirectory
        do { ipc = try PrivateDirectory() } catch {
            Self.fail("\(error)")
            return .failed
        }
        defer { ipc.remove() }
        let ipcDirectory = ipc.path
        let path = directory.path
        let progress = ProgressLine(quiet: options.quiet)
        progress.note("run \(topology.name): \(topology.nodes.count) nodes, \(topology.duration) at \(Int(topology.writer.rate))/s → \(path)")

        // 3. The network namespaces (netns launcher), then the control plane on the bridge's address.
        var network: NetnsNetwork?
        if topology.launcher == .netns {
            guard let net = setUpNetwork(topology, events: directory.events) else { return .failed }
            network = net
        }
        defer { network?.tearDown() }
        // CURVE: a key pair per node for this run, in the private directory.
        var keys: RunKeys?
        if topology.securityMode == .curve {
            guard let made = makeKeys(topology, in: ipc.path, events: directory.events) else { return .failed }
            keys = made
        }
        let control: ControlPlane
        do {
            let local = network.map { "tcp://\($0.bridgeAddress):*" } ?? "tcp://127.0.0.1:*"
            control = try ControlPlane(bind: options.controlBind ?? (topology.launcher == .external ? "tcp://*:5600" : local),
                                       curve: keys.map { ($0.orchestrator, $0.peers.controlAdmitted, $0.holders(of: Self.keyedNodes(topology))) },
                                       maxMessageBytes: MessageLimits(topology: topology).control)
        } catch {
            Self.fail("cannot bind the control plane: \(error)")
            return .failed
        }

        // 4. The nodes, and the loop.
        let launcher = Self.launcher(topology.launcher, controlEndpoint: control.endpoint)
        let plan = RunPlan(topology: topology, network: network, ipcDirectory: ipcDirectory, directory: directory,
                           ownsProcesses: launcher.ownsProcesses, keys: keys)
        if plan.pinned > 0 {
            progress.note("\(plan.pinned) reader\(plan.pinned == 1 ? "" : "s") pinned round CPUs \(CPUAffinity.describe(plan.cpus))")
        }
        let endpoints = plan.endpoints.record(control: control.endpoint)
        directory.writeEndpoints(endpoints)
        if options.printEndpoints, let json = try? String(decoding: RunDirectory.encoder(pretty: false).encode(endpoints), as: UTF8.self) {
            print("endpoints: " + json)
            fflush(nil)
        }
        let cluster = Cluster(nodes: plan.nodes, launcher: launcher, directory: directory, progress: progress,
                              nodeBinary: options.nodeBinary, controlEndpoint: control.endpoint)
        return RunLoop(topology: topology, topologyPath: options.topologyPath, cluster: cluster, control: control, signals: signals,
                       faults: plan.faults, networkFaults: NetworkFaults(network: network, hostPeers: plan.hostPeers),
                       endpoints: endpoints).run()
    }

    /// The topology with the options' overrides, validated; nil after printing why not.
    func loadTopology() -> Topology? {
        do {
            let topology = try TopologyLoader.load(path: options.topologyPath)
                .overriding(duration: options.duration, seed: options.seed)
            let issues = topology.validate()
            if !issues.isEmpty { throw TopologyError(file: options.topologyPath, issues: issues) }
            return topology
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return nil
        }
    }

    /// Removes a killed run's leftovers, then creates the bridge and one namespace per host; nil after printing why not.
    func setUpNetwork(_ topology: Topology, events: EventLog) -> NetnsNetwork? {
        for object in NetnsNetwork.removeLeftovers() {
            logger.notice("removed a leftover of an earlier netns run", metadata: ["object": "\(object)"])
            events.log("netns-leftover-removed", detail: ["object": object])
        }
        let net = NetnsNetwork()
        do {
            try net.setUp(labels: NetnsNetwork.hostLabels(topology))
        } catch {
            Self.fail("cannot set up the network namespaces: \(error)")
            return nil
        }
        events.log("netns-ready", detail: ["bridge": net.bridge, "address": net.bridgeAddress, "namespaces": "\(net.hosts.count)"])
        return net
    }

    /// The run's CURVE keys, one pair per node (load generators included), or
    /// those of a container stack given with `--curve-keys`; nil after printing why not.
    func makeKeys(_ topology: Topology, in privateDirectory: String, events: EventLog) -> RunKeys? {
        guard Context.has("curve") else {
            let v = Context.version
            Self.fail("security.mode curve: this libzmq (\(v.major).\(v.minor).\(v.patch)) was built without CURVE")
            return nil
        }
        let nodes = Self.keyedNodes(topology)
        do {
            let keys: RunKeys
            if let given = options.curveKeys {
                keys = try RunKeys.load(directory: given, holders: nodes)
            } else {
                keys = try RunKeys.create(holders: nodes.map(\.node), directory: privateDirectory + "/" + RunKeys.directoryName,
                                          title: "ClusterSim CURVE public keys of run \(topology.name)")
            }
            events.log("curve-keys", detail: ["nodes": "\(nodes.count)", "directory": keys.directory,
                                              "made": options.curveKeys == nil ? "for this run" : "given"])
            return keys
        } catch {
            Self.fail("cannot \(options.curveKeys == nil ? "make" : "read") the run's CURVE keys: \(error)")
            return nil
        }
    }

    /// Every node that speaks with a key, load generators included (each its own group).
    static func keyedNodes(_ topology: Topology) -> [(node: String, group: String)] {
        topology.nodes.map { ($0.name, $0.group) }
            + topology.readers.filter { $0.role == .query && $0.load != nil }.map(NodeCommands.queryLoadName).map { ($0, $0) }
    }

    /// The launcher of a kind.
    static func launcher(_ kind: LauncherKind, controlEndpoint: String) -> any Launcher {
        switch kind {
        case .local: LocalLauncher()
        case .netns: NetnsLauncher()
        case .external: ExternalLauncher(controlEndpoint: controlEndpoint)
        case .compose, .swarm: preconditionFailure("a stack's orchestrator runs its nodes with the external launcher")
        }
    }

    /// Prints a failure to standard error.
    static func fail(_ s: String) {
        FileHandle.standardError.write(Data("orchestrator: \(s)\n".utf8))
    }
}
