import ClusterCore
import ClusterProcess
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `orchestrator run --launcher compose|swarm`: the topology as a stack on
/// this host's Docker engine, from start to nothing left.
///
/// 1. Generates the stack file (``ComposeGenerator``: a container per node,
///    the orchestrator in one of its own with the external launcher, the
///    report on the `runs` volume) in a working directory.
/// 2. compose: `docker-compose up --no-start` creates the containers (with
///    the vfs storage driver, a full copy of the image each) before the run's
///    orchestrator starts, so the launch it times is the nodes' start alone;
///    then the orchestrator's container is started. swarm: `docker swarm init`
///    when the engine is in no swarm (addresses from 198.19.128.0/18), then
///    `docker stack deploy`, which starts every container at once.
/// 3. Starts the fault agent (``FaultAgent``) in the orchestrator container's
///    network namespace, which reaches its control plane on the loopback and
///    applies the topology's faults to the containers; compose: then starts
///    the nodes' containers, all at once.
/// 4. Follows the orchestrator's output, waits for it to end (bounded by the
///    topology's timeouts and duration), copies its run directory out of the
///    volume into `--out`, with the stack file beside the report.
/// 5. Takes everything down: `down -v` or `stack rm` and the volume, the
///    agent, and the swarm when it initialised one.
///
/// The exit status is the orchestrator's; 2 when the stack could not run.
final class StackRun {
    let topology: Topology
    let options: RunOptions
    let logger: Logger
    let signals: ShutdownSignals
    let docker: DockerCLI
    /// `clustersim<pid>`: the compose project or swarm stack.
    let project: String
    let work: String
    private var children = LocalLauncher()
    private var swarmCreated = false
    /// Whether swarm's bridge to the host existed before this run initialised the swarm (leaving does not remove it).
    private var gatewayBridgeExisted = true
    private var deployed = false
    /// Under CURVE, the stack's key directory, where the fault agent finds its pair.
    private var agentKeys: String?

    init(topology: Topology, options: RunOptions, logger: Logger, signals: ShutdownSignals, docker: DockerCLI) {
        self.topology = topology
        self.options = options
        self.logger = logger
        self.signals = signals
        self.docker = docker
        project = "clustersim\(getpid())"
        work = NSTemporaryDirectory() + "clustersim-stack-\(getpid())"
    }

    var swarm: Bool { topology.launcher == .swarm }
    var stackFile: String { work + "/stack.yml" }

    /// Runs the stack. Output: the orchestrator's, as it comes, then where the report went.
    func run() -> RunOutcome {
        defer { tearDown() }
        do {
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            try writeStackFile()
            try deploy()
            let container = try orchestratorContainer()
            startAgent(in: container)
            follow(container)
            try startNodes()
            let exit = waitForEnd(container)
            usleep(300_000)   // the follower prints the last lines
            let copied = collect(from: container, exit: exit)
            guard let exit else { return .failed }
            if exit == RunExit.failed.rawValue { diagnose() }
            let report = copied.flatMap { try? RunReport.load(path: $0 + "/report.json") }
            return RunOutcome(exit: RunExit(rawValue: exit) ?? .failed, summary: copied.map { "report copied to \($0)\n" },
                              report: report, runDirectory: copied)
        } catch {
            Orchestrator.fail("\(error)")
            diagnose()
            return .failed
        }
    }

    /// An error of the stack's set-up, with what the engine said.
    struct StackError: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: - Steps

    /// The stack file, the topology it mounts (or carries as a config) and the writer's script, in the working directory.
    func writeStackFile() throws {
        let source = "./" + (options.topologyPath as NSString).lastPathComponent
        try TopologyLoader.encode(topology).write(to: URL(fileURLWithPath: work + "/" + source))
        var extra: [String] = []
        if let d = options.duration { extra += ["--duration", d.description] }
        if let s = options.seed { extra += ["--seed", "\(s)"] }
        let generator = ComposeGenerator(topology: topology, topologySource: swarm ? source : work + "/" + source.dropFirst(2),
                                         image: options.image, invocation: "orchestrator run --launcher \(topology.launcher.rawValue)",
                                         orchestratorArguments: extra, forSwarm: swarm, keysDirectory: work + "/keys")
        let file = try generator.generate()
        for (name, data) in file.extraFiles { try data.write(to: URL(fileURLWithPath: work + "/" + name)) }
        // CURVE: the stack's keys, removed with the working directory at the end.
        if let keys = try file.writeKeys(in: work, faultAgent: true) {
            agentKeys = keys
            note("CURVE: \(file.keyHolders.count + 2) key pairs in \(keys)")
        }
        try Data(file.yaml.utf8).write(to: URL(fileURLWithPath: stackFile))
        let containers = file.services.map(\.replicas).reduce(0, +)
        note("\(swarm ? "stack" : "compose project") \(project): \(file.services.count) services, \(containers) containers, image \(options.image)")
    }

    /// Creates and starts the containers (compose), or deploys the stack (swarm, initialised when needed).
    func deploy() throws {
        guard docker.run(["image", "inspect", options.image]).ok else {
            throw StackError(description: "image \(options.image) not found on the engine (scripts/image.sh builds clustersim:latest)")
        }
        let started = ContinuousClock.now
        deployed = true
        if swarm {
            try joinSwarm()
            try must(docker.run(["stack", "deploy", "--resolve-image", "never", "-c", stackFile, project], timeout: .seconds(120)),
                     "docker stack deploy")
            note("stack deployed in \(ms(since: started)) ms")
        } else {
            let base = ["-p", project, "-f", stackFile, "--compatibility"]
            try must(docker.compose(base + ["up", "--no-start"], timeout: .seconds(600)), "docker-compose up --no-start")
            note("containers created in \(ms(since: started)) ms")
            // The orchestrator first, on its own: the launch it times starts with it, and the
            // fault agent joins it before the nodes start (``startNodes()``).
            let orchestrator = containers(["--filter", "label=com.docker.compose.service=\(ComposeGenerator.orchestratorService)"])
            guard orchestrator.count == 1 else { throw StackError(description: "docker-compose created \(orchestrator.count) orchestrator containers") }
            try must(docker.run(["start", orchestrator[0]], timeout: .seconds(60)), "docker start (the orchestrator)")
        }
    }

    /// compose: starts every container not started yet, side by side (compose v1 would
    /// start them in turn, and in waves where they depend on each other). Swarm starts its own.
    func startNodes() throws {
        guard !swarm else { return }
        let started = ContinuousClock.now
        let waiting = containers(["--filter", "status=created"])
        let outcomes = docker.runAll(waiting.map { ["start", $0] }, timeout: .seconds(120))
        if let failed = outcomes.first(where: { !$0.ok }) { try must(failed, "docker start") }
        note("\(waiting.count) containers started in \(ms(since: started)) ms")
    }

    /// The ids of the compose project's containers that match `filters` (`docker ps` filters).
    private func containers(_ filters: [String]) -> [String] {
        let listed = docker.run(["ps", "-aq", "--filter", "label=com.docker.compose.project=\(project)"] + filters)
        return listed.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Initialises a single-node swarm when the engine is in none, with its
    /// networks in 198.19.128.0/18 (the engine's own pool is 198.19.0.0/17).
    func joinSwarm() throws {
        let state = docker.value(["info", "-f", "{{.Swarm.LocalNodeState}}"]) ?? ""
        guard state != "active" else { return }
        guard state == "inactive" else { throw StackError(description: "the engine's swarm is \(state); expected active or inactive") }
        gatewayBridgeExisted = docker.run(["network", "inspect", "docker_gwbridge"]).ok
        try must(docker.run(["swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377",
                             "--default-addr-pool", "198.19.128.0/18", "--default-addr-pool-mask-length", "24"], timeout: .seconds(60)),
                 "docker swarm init")
        swarmCreated = true
        note("initialised a single-node swarm (it is left at the end)")
    }

    /// The orchestrator's container, once it exists (swarm schedules it), on this host.
    func orchestratorContainer() throws -> String {
        let filter = swarm ? "label=com.docker.swarm.service.name=\(project)_orchestrator"
                           : "label=com.docker.compose.project=\(project)"
        let deadline = ContinuousClock.now + .nanoseconds(Int64(topology.registerTimeout.nanoseconds))
        while ContinuousClock.now < deadline {
            var args = ["ps", "-aq", "--filter", filter]
            if !swarm { args += ["--filter", "label=com.docker.compose.service=orchestrator"] }
            if let id = docker.value(args), !id.isEmpty, docker.state(id)?.pid ?? 0 > 0 { return id }
            if signals.take() != nil { throw StackError(description: "interrupted before the orchestrator's container started") }
            usleep(200_000)
        }
        throw StackError(description: "the orchestrator's container did not start on this host within \(topology.registerTimeout)")
    }

    /// The fault agent, in the orchestrator container's network namespace: it reaches the
    /// control plane on 127.0.0.1 there, and the engine through its socket.
    func startAgent(in container: String) {
        guard let pid = docker.state(container)?.pid, pid > 0, let nsenter = SystemCommand.locate("nsenter") else {
            note("no fault agent: the orchestrator's container has no process here or nsenter is missing; faults are skipped")
            return
        }
        let arguments = ["--net=/proc/\(pid)/ns/net", "--", options.agentExecutable, "agent",
                         "--control", "tcp://127.0.0.1:\(ComposeGenerator.controlPort)", "--engine", topology.launcher.rawValue,
                         "--parent-pid", "\(getpid())"] + (agentKeys.map { ["--curve-keys", $0] } ?? [])
        do {
            _ = try children.spawn(executable: nsenter, arguments: arguments, logPath: work + "/agent.log", name: "fault-agent",
                                   environment: [:])
        } catch {
            note("no fault agent (\(error)); faults are skipped")
        }
    }

    /// Prints the orchestrator's output as it comes (`docker logs -f`, which ends with the container).
    func follow(_ container: String) {
        _ = try? children.spawn(executable: docker.docker, arguments: ["logs", "-f", container], logPath: "/dev/stdout",
                                name: "logs", environment: [:])
    }

    /// Waits for the orchestrator's container to end: at most its timeouts, warm-up, duration
    /// and two minutes; SIGINT or SIGTERM is passed on to it (it stops the run and writes a partial report).
    /// - Returns: its exit code; nil when it did not end.
    func waitForEnd(_ container: String) -> Int32? {
        let bound = topology.registerTimeout.nanoseconds + topology.readyTimeout.nanoseconds + topology.warmup.nanoseconds
            + (options.duration ?? topology.duration).nanoseconds + 120_000_000_000
        var deadline = ContinuousClock.now + .nanoseconds(Int64(bound))
        var forwarded = false
        while true {
            if let s = docker.state(container), s.status == "exited" || s.status == "dead" { return s.exitCode }
            let timedOut = ContinuousClock.now >= deadline
            if let signal = signals.take() ?? (timedOut ? SIGTERM : nil) {
                if forwarded && !timedOut { continue }
                if forwarded { return nil }
                note(timedOut ? "the run did not end in time: stopping it" : "signal \(signal): stopping the run (a partial report follows)")
                _ = docker.run(["kill", "--signal", "TERM", container])
                forwarded = true
                deadline = ContinuousClock.now + .seconds(60)
            }
            usleep(300_000)
        }
    }

    /// Copies the run directory out of the orchestrator's container (its volume) into `--out`, with the stack file.
    /// - Returns: the local run directory.
    func collect(from container: String, exit: Int32?) -> String? {
        let copy = work + "/runs"
        guard docker.run(["cp", "\(container):/runs/.", copy], timeout: .seconds(120)).ok else {
            note("could not copy /runs out of the orchestrator's container")
            return nil
        }
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: copy))?.filter { $0.hasPrefix(topology.name + "-") }.sorted() ?? []
        guard let name = runs.last else {
            if exit != nil { note("the orchestrator wrote no run directory") }
            return nil
        }
        let target = (options.outDirectory as NSString).appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(atPath: options.outDirectory, withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: copy + "/" + name, toPath: target)
            try? FileManager.default.copyItem(atPath: stackFile, toPath: target + "/stack.yml")
            return target
        } catch {
            note("could not move the run directory into \(options.outDirectory): \(error)")
            return nil
        }
    }

    /// After a failed run: the containers that are not running, with the end of their output.
    func diagnose() {
        let filter = swarm ? "label=com.docker.stack.namespace=\(project)" : "label=com.docker.compose.project=\(project)"
        let listed = docker.run(["ps", "-a", "--filter", filter, "--filter", "status=exited", "--format", "{{.ID}} {{.Names}} {{.Status}}"])
        for line in listed.output.split(separator: "\n").prefix(10) {
            let f = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard f.count == 3, !f[2].hasPrefix("Exited (0)") else { continue }
            let tail = docker.run(["logs", "--tail", "3", f[0]]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            note("container \(f[1]): \(f[2])\(tail.isEmpty ? "" : "; its last output:\n    " + tail.replacingOccurrences(of: "\n", with: "\n    "))")
        }
    }

    /// Stops the agent and the follower, removes the containers, networks and volume, leaves a swarm it made.
    func tearDown() {
        _ = children.terminateAll(grace: .seconds(2))
        if deployed {
            let started = ContinuousClock.now
            if swarm {
                _ = docker.run(["stack", "rm", project], timeout: .seconds(60))
                // stack rm returns before the containers are gone, and leaves volumes: wait, then remove the volume.
                let label = "label=com.docker.stack.namespace=\(project)"
                let deadline = ContinuousClock.now + .seconds(90)
                while ContinuousClock.now < deadline,
                      !(docker.value(["ps", "-aq", "--filter", label]) ?? "").isEmpty
                        || !(docker.value(["network", "ls", "-q", "--filter", label]) ?? "").isEmpty {
                    usleep(300_000)
                }
                for volume in (docker.run(["volume", "ls", "-q", "--filter", label]).output).split(separator: "\n") {
                    _ = docker.run(["volume", "rm", "-f", String(volume)])
                }
            } else {
                let down = docker.compose(["-p", project, "-f", stackFile, "--compatibility", "down", "-v", "--remove-orphans",
                                           "-t", "5"], timeout: .seconds(180))
                if !down.ok { note("docker-compose down failed: \(down.output)") }
            }
            note("\(swarm ? "stack" : "compose project") \(project) removed in \(ms(since: started)) ms")
        }
        if swarmCreated {
            _ = docker.run(["swarm", "leave", "--force"], timeout: .seconds(60))
            if !gatewayBridgeExisted { _ = docker.run(["network", "rm", "docker_gwbridge"]) }
            swarmCreated = false
        }
        deployed = false
        try? FileManager.default.removeItem(atPath: work)
    }

    // MARK: - Helpers

    private func must(_ r: SystemCommand.Outcome, _ what: String) throws {
        if let failure = r.failure { throw StackError(description: "\(what) failed: \(failure)") }
    }

    private func note(_ s: String) {
        guard !options.quiet else { return }
        print(s)
        fflush(nil)
    }

    private func ms(since start: ContinuousClock.Instant) -> Int {
        let d = ContinuousClock.now - start
        return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }
}
