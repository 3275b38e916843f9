import ArgumentParser
import ClusterCore
import ClusterNode
import ClusterProcess
import Foundation
import Logging
import Synchronization

/// `cluster-node`: one process of a ClusterSim cluster.
@main
struct ClusterNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-node",
        abstract: "One process of a ClusterSim cluster: the writer, a reader, a query load generator.",
        discussion: """
            Nodes are normally launched by `orchestrator run`, which passes every option.
            Run by hand, a writer and readers work without an orchestrator:

              cluster-node writer --pub tcp://127.0.0.1:5555 --snapshots tcp://127.0.0.1:5556 --rate 1000
              cluster-node reader --name r1 --pub tcp://127.0.0.1:5555 --snapshots tcp://127.0.0.1:5556
            """,
        subcommands: [Writer.self, Reader.self, Relay.self, QueryLoadCommand.self, CPUHog.self]
    )

    /// Runs the command; a command-line error exits 2, as all bad input does
    /// (ArgumentParser's own default is 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            exit(withError: ExitCode(2))
        }
    }
}

struct CommonOptions: ParsableArguments {
    private static let bootstrapOnce = Mutex(false)

    @Option(name: .customLong(CommonFlag.control), help: "Orchestrator control endpoint (also CLUSTERSIM_CONTROL). Without it the node runs alone.")
    var control: String?

    @Option(name: .customLong(CommonFlag.metricsDirectory), help: "Write metrics.json, metrics.prom and latency.hgrm to this directory at stop.")
    var metricsDir: String?

    @Option(name: .customLong(CommonFlag.parentPID), help: "Exit when this process (the launcher) is gone.")
    var parentPid: Int32?

    @Option(name: .customLong(CommonFlag.logLevel), help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .customLong(CommonFlag.security), help: ArgumentHelp(
        "none, or curve: CURVE on every socket (authenticated and encrypted), with --curve-key and --curve-peers.",
        discussion: "The node's servers admit only the keys in the peers file; its clients expect their server's key from it (the writer's under `writer`, the orchestrator's under `@orchestrator`). docs/security.md."))
    var security: SecurityMode = .plain

    @Option(name: .customLong(CommonFlag.curveKey), help: ArgumentHelp(
        "This node's key pair: a ZeroMQ secret certificate (public-key and secret-key), readable by its owner alone (mode 0600).",
        valueName: "file"))
    var curveKey: String?

    @Option(name: .customLong(CommonFlag.curvePeers), help: ArgumentHelp(
        "The cluster's public keys: one NAME KEY a line (the orchestrator's as @orchestrator).", valueName: "file"))
    var curvePeers: String?

    @Option(name: .customLong(CommonFlag.nice), help: ArgumentHelp(
        "The process's nice value, -20 (most CPU) ... 19 (least), set on every thread before libzmq's start.",
        discussion: "Below the launcher's value it needs root or CAP_SYS_NICE; the node exits if the kernel refuses it. The orchestrator passes the topology's `nice` (docs/topology.md).",
        valueName: "n"))
    var nice: Int?

    @Option(name: .customLong(CommonFlag.scheduling), help: ArgumentHelp(
        "normal, or batch: SCHED_BATCH, the same CPU share, but a woken thread waits for the running one instead of taking its CPU.",
        discussion: "Readers woken by the writer's writes then leave it to finish the fan-out first. Set on every thread before libzmq's start; needs no privilege (docs/topology.md).",
        valueName: "policy"))
    var scheduling: SchedulingPolicy = .normal

    func validate() throws {
        if let nice, !Niceness.range.contains(nice) {
            throw ValidationError("--nice \(nice): expected \(Niceness.range.lowerBound)...\(Niceness.range.upperBound)")
        }
        switch (security, curveKey, curvePeers) {
        case (.curve, .some, .some), (.plain, nil, nil):
            break
        case (.curve, _, _):
            throw ValidationError("--security curve needs --curve-key FILE (this node's key pair) and --curve-peers FILE (the cluster's public keys)")
        case (.plain, _, _):
            throw ValidationError("--curve-key and --curve-peers need --security curve")
        }
    }

    /// The CURVE files, with `--security curve`.
    var curveFiles: CurveFiles? {
        guard security == .curve, let curveKey, let curvePeers else { return nil }
        return CurveFiles(keyFile: curveKey, peersFile: curvePeers)
    }

    var controlEndpoint: String? {
        control ?? ProcessInfo.processInfo.environment[CommonFlag.controlEnvironment]
    }

    /// A logger for the node; the logging system is set up on the first call
    /// (it can be set up only once per process).
    func logger(_ name: String) -> Logger {
        let level = logLevel
        Self.bootstrapOnce.withLock { done in
            guard !done else { return }
            done = true
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
        }
        var l = Logger(label: "cluster-node.\(name)")
        l[metadataKey: "node"] = "\(name)"
        return l
    }

    /// Gives a node's configuration the orchestrator's endpoint, the metrics directory and the launcher's pid.
    func attach(_ config: inout some AttachedConfig) {
        config.controlEndpoint = controlEndpoint
        config.metricsDirectory = metricsDir
        config.parentPID = parentPid
        config.curve = curveFiles
        config.nice = nice
        config.scheduling = scheduling
    }

    /// Runs a node and exits with its status: the shutdown signals are blocked
    /// first (before any thread exists), then the parent watch is armed and
    /// the nice value and scheduling policy set.
    func run(_ node: (ShutdownSignals) throws -> Int32) throws -> Never {
        let signals = ShutdownSignals()
        watchParent()
        if let nice { try Niceness.set(nice) }
        if scheduling == .batch { try BatchScheduling.enable() }
        throw ExitCode(try node(signals))
    }

    /// Arms the parent-death signal; exits at once if the launcher is already gone.
    func watchParent() {
        if let p = parentPid, !ParentWatch.arm(parentPID: p) {
            FileHandle.standardError.write(Data("cluster-node: launcher \(p) is gone, exiting\n".utf8))
            Foundation.exit(0)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension SecurityMode: ExpressibleByArgument {}
extension SchedulingPolicy: ExpressibleByArgument {}

/// What every node's configuration takes from the common options.
protocol AttachedConfig {
    var controlEndpoint: String? { get set }
    var metricsDirectory: String? { get set }
    var parentPID: Int32? { get set }
    var curve: CurveFiles? { get set }
    var nice: Int? { get set }
    var scheduling: SchedulingPolicy { get set }
}

extension WriterConfig: AttachedConfig {}
extension ReaderConfig: AttachedConfig {}
extension RelayConfig: AttachedConfig {}
extension QueryLoadConfig: AttachedConfig {}

/// Parses "250ms", "2s"… for options.
struct DurationArgument: ExpressibleByArgument {
    let nanos: UInt64
    /// As written, for `--help` ("default: 2s").
    let text: String
    init?(argument: String) {
        guard let t = try? TimeSpan(parsing: argument) else { return nil }
        nanos = t.nanoseconds
        text = argument
    }
    var defaultValueDescription: String { text }
}
