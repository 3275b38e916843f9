import ArgumentParser
import ClusterCore
import ClusterProcess
import ClusterOrchestrator
import Foundation
import Logging

@main
struct OrchestratorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchestrator",
        abstract: "Launch a ClusterSim topology as real processes, drive it, inject faults, and report.",
        discussion: """
            orchestrator run topologies/100-readers.json      run the main job
            orchestrator validate topologies/*.json           check topology files
            orchestrator report runs/100-readers-…            render a run's report again
            orchestrator sweep topologies/10-readers.json --find-max writer.rate
            orchestrator compare runs/A runs/B                compare two runs, or two sweeps

            Exit status of run: 0 every SLO held, 1 an SLO was violated, 2 bad input or a failed run.
            The topology format is documented in docs/topology.md.
            """,
        subcommands: [Run.self, Validate.self, Report.self, Compose.self, SweepCommand.self, CompareCommand.self, Agent.self]
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

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a topology and write runs/<name>-<time>/ with per-node dumps and the report.")

    @Argument(help: "The topology file (JSON), e.g. topologies/100-readers.json.")
    var topology: String
    @Option(parsing: .unconditional, help: "Override the measured phase's length, e.g. 10s.") var duration: String?
    @Option(help: "Override the topology's seed.") var seed: UInt64?
    @Option(help: "Directory the run directory is created in.") var out = "runs"
    @Option(help: "Launcher: local (child processes), netns (child processes in network namespaces; root), external (nodes started by others register themselves), compose or swarm (the topology as containers on this host's Docker engine; root).")
    var launcher: LauncherKind?
    @Option(help: "compose and swarm launchers: the image of every container.") var image = "clustersim:latest"
    @Option(help: "Control plane endpoint to bind (external default tcp://*:5600). Nodes connect with --control or CLUSTERSIM_CONTROL.")
    var controlBind: String?
    @Option(help: ArgumentHelp(
        "CURVE: the control plane's key pair and the cluster's public keys from this directory, instead of a pair per node made for the run.",
        discussion: "DIR/orchestrator.key_secret (mode 0600) and DIR/peers, as `orchestrator compose` writes them for a CURVE topology; a stack's orchestrator is started with --curve-keys /run/secrets. Every node needs a key of its own or its group's in DIR/peers.",
        valueName: "DIR"))
    var curveKeys: String?
    @Option(help: "The cluster-node executable (default: beside this one, or CLUSTERSIM_NODE_BINARY).")
    var nodeBinary: String?
    @Flag(help: "No progress output; the summary table is still printed.") var quiet = false
    @Flag(help: ArgumentHelp(
        "Print the run's endpoints as one JSON line (\"endpoints: {…}\") before any node starts.",
        discussion: "The writer's PUB and snapshot service, the relays' and query readers' services, the control plane: what an outside subscriber connects to (also in <run directory>/endpoints.json)."))
    var printEndpoints = false
    @Option(help: .hidden) var parentPid: Int32?

    func validate() throws {
        if let duration {
            guard let span = try? TimeSpan(parsing: duration), span > .zero else {
                throw ValidationError("--duration \(duration): expected a positive duration such as 500ms, 30s or 2m")
            }
        }
    }

    func run() throws {
        let signals = ShutdownSignals()
        // Started by a sweep: SIGTERM (read from the signalfd, a graceful stop) should the sweep die.
        if let p = parentPid, !ParentWatch.arm(parentPID: p) { throw ExitCode(2) }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let binary = nodeBinary ?? ProcessInfo.processInfo.environment["CLUSTERSIM_NODE_BINARY"]
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
                .deletingLastPathComponent().appendingPathComponent("cluster-node").path
        var o = RunOptions(topologyPath: topology, nodeBinary: binary)
        o.duration = try duration.map { try TimeSpan(parsing: $0) }
        o.seed = seed
        o.outDirectory = out
        o.quiet = quiet
        o.launcher = launcher
        o.controlBind = controlBind
        o.printEndpoints = printEndpoints
        o.curveKeys = curveKeys
        o.image = image
        o.agentExecutable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        o.environment = ProcessInfo.processInfo.environment
        let outcome = Orchestrator(options: o, logger: Logger(label: "orchestrator"), signals: signals).run()
        if let summary = outcome.summary { print(summary, terminator: "") }
        throw ExitCode(outcome.exit.rawValue)
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check topology files without running them.")

    @Argument(help: "Topology files.") var files: [String]

    func run() throws {
        var bad = 0
        for f in files {
            do {
                let t = try TopologyLoader.load(path: f)
                print("\(f): ok (\(t.nodes.count) nodes, \(t.duration), \(t.faults.count) faults)")
            } catch {
                bad += 1
                FileHandle.standardError.write(Data("\(error)\n".utf8))
            }
        }
        if bad > 0 { throw ExitCode(2) }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild report.json, report.html and summary.txt of a run from its dumps (or a sweep's sweep.html and summary.txt from its sweep.json).")

    @Argument(help: "A run directory, e.g. runs/smoke-20261123-101500, or a sweep directory.") var runDirectory: String

    func run() throws {
        do {
            // A sweep directory: sweep.html and summary.txt again, from sweep.json.
            if let sweep = try SweepRenderer.rewrite(directory: runDirectory) {
                print(SweepRenderer.text(sweep), terminator: "")
                throw ExitCode(sweep.exitStatus)
            }
            let report = try ReportBuilder.build(runDirectory: runDirectory)
            try ReportWriter.write(report, to: runDirectory)
            print(ReportWriter.summary(report), terminator: "")
            throw ExitCode(report.aborted != nil ? 2 : report.sloPassed ? 0 : 1)
        } catch let e as ExitCode {
            throw e
        } catch {
            FileHandle.standardError.write(Data("orchestrator: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

struct Agent: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply faults to this host's containers for an orchestrator (a fault agent).",
        discussion: """
            `orchestrator run --launcher compose|swarm` starts one itself, in the network namespace
            of the orchestrator's container. It connects to the control plane, says who it is,
            and applies each fault it is sent: docker kill, pause, unpause, restart; iptables and
            tc inside the target container's network namespace. Needs root. See docs/protocol.md.
            """)

    @Option(help: "The orchestrator's control plane, e.g. tcp://127.0.0.1:5600.") var control: String
    @Option(help: "What started the containers, recorded as the run's launcher: compose or swarm.") var engine = "compose"
    @Option(help: "End when this process is gone.") var parentPid: Int32?
    @Option(help: "A CURVE stack's key directory: the agent's pair (@fault-agent.key_secret) and the control plane's key (peers).",
            completion: .directory)
    var curveKeys: String?

    func run() throws {
        let signals = ShutdownSignals()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let agent: FaultAgent
        do {
            agent = try FaultAgent(endpoint: control, engine: engine, parentPID: parentPid, curveKeys: curveKeys,
                                   logger: Logger(label: "fault-agent"))
        } catch {
            FileHandle.standardError.write(Data("orchestrator agent: \(error)\n".utf8))
            throw ExitCode(2)
        }
        throw ExitCode(agent.run(signals: signals, environment: ProcessInfo.processInfo.environment))
    }
}

extension LauncherKind: ExpressibleByArgument {}
