import CSystemShims
import ClusterCore
import ClusterProcess
import Foundation
import Histogram
import Logging
import SwiftProtobuf
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Options of one run, filled by `orchestrator run`.
public struct RunOptions: Sendable {
    public var topologyPath: String
    public var duration: TimeSpan?
    public var seed: UInt64?
    /// Parent of the run directory.
    public var outDirectory = "runs"
    public var quiet = false
    /// The `cluster-node` executable.
    public var nodeBinary: String
    public var launcher: LauncherKind?
    /// Where the control plane binds (default: loopback, any port; netns: the bridge address; external: tcp://*:5600).
    public var controlBind: String?

    public init(topologyPath: String, nodeBinary: String) {
        self.topologyPath = topologyPath
        self.nodeBinary = nodeBinary
    }
}

/// Exit statuses of `orchestrator run`.
public enum RunExit: Int32, Sendable {
    case slosMet = 0
    case sloViolated = 1
    case failed = 2
}

/// Runs a topology: launches the nodes, waits for readiness, drives the
/// measured phase with its faults, collects the dumps and writes the report.
///
/// One thread, one poll loop: the control ROUTER and the shutdown signalfd
/// are polled with a short timeout, and between polls the loop reaps
/// children, samples /proc, applies due faults and draws the progress line.
public final class Orchestrator {
    let options: RunOptions
    var logger: Logger
    let signals: ShutdownSignals

    // Run state.
    var topology: Topology!
    var runDir = ""
    var nodes: [String: ManagedNode] = [:]
    var order: [String] = []
    var byIdentity: [[UInt8]: String] = [:]
    let launcher = LocalLauncher()
    var events: EventLog!
    var faults: [PlannedFault] = []
    var faultRecords: [FaultRecord] = []
    var runStartMono: UInt64 = 0
    var runStartWall: UInt64 = 0
    var running = false
    var interrupted: String?
    var hogCount = 0
    var progress: ProgressLine!
    var writerEndpoints: (pub: String, snapshots: String) = ("", "")
    var controlEndpoint = ""
    var stateDir = ""
    /// External launcher: nodes are started by others (compose, a script,
    /// another host) and register themselves; nothing is spawned or signalled.
    var external = false
    /// Netns launcher: the bridge and the namespaces the nodes run in.
    var network: NetnsNetwork?
    /// Netns launcher: the hosts each host exchanges data with, by label (a fault's peers).
    var hostPeers: [String: [String]] = [:]

    public init(options: RunOptions, logger: Logger, signals: ShutdownSignals) {
        self.options = options
        self.logger = logger
        self.signals = signals
    }

    /// Runs the topology.
    /// - Returns: 0 when every SLO held, 1 when one did not, 2 on bad input or a failed run.
    public func run() -> RunExit {
        // 1. The topology.
        do {
            topology = try TopologyLoader.load(path: options.topologyPath)
                .overriding(duration: options.duration, seed: options.seed)
            let issues = topology.validate()
            if !issues.isEmpty { throw TopologyError(file: options.topologyPath, issues: issues) }
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return .failed
        }
        // topology.json keeps the launcher the file asked for (the one it was validated with:
        // network faults need netns); the one used is in run-state.json and the report.
        let validated = topology!
        if let l = options.launcher { topology.launcher = l }
        if topology.launcher == .netns, let why = NetnsPreflight.problem(euid: geteuid(), transport: topology.writer.transport) {
            fail(why)
            return .failed
        }
        external = topology.launcher == .external
        guard external || FileManager.default.isExecutableFile(atPath: options.nodeBinary) else {
            fail("cluster-node executable not found at \(options.nodeBinary) (build it with `swift build -c release`, or pass --node-binary)")
            return .failed
        }

        // 2. The run directory.
        let stamp = Self.timestamp()
        runDir = (options.outDirectory as NSString).appendingPathComponent("\(topology.name)-\(stamp)")
        do {
            try FileManager.default.createDirectory(atPath: runDir + "/nodes", withIntermediateDirectories: true)
            try TopologyLoader.encode(validated).write(to: URL(fileURLWithPath: runDir + "/topology.json"))
            events = try EventLog(path: runDir + "/events.jsonl")
        } catch {
            fail("cannot create the run directory \(runDir): \(error)")
            return .failed
        }
        stateDir = "/tmp/clustersim-\(getpid())"
        try? FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        progress = ProgressLine(quiet: options.quiet)
        say("run \(topology.name): \(topology.nodes.count) nodes, \(topology.duration) at \(Int(topology.writer.rate))/s → \(runDir)")

        // 3. The network namespaces (netns launcher), then the control plane on the bridge's address.
        if topology.launcher == .netns {
            for object in NetnsNetwork.removeLeftovers() {
                logger.notice("removed a leftover of an earlier netns run", metadata: ["object": "\(object)"])
                events.log("netns-leftover-removed", detail: ["object": object])
            }
            let net = NetnsNetwork()
            do {
                try net.setUp(labels: Self.hostLabels(topology))
            } catch {
                fail("cannot set up the network namespaces: \(error)")
                return .failed
            }
            network = net
            events.log("netns-ready", detail: ["bridge": net.bridge, "address": net.bridgeAddress, "namespaces": "\(net.hosts.count)"])
        }
        defer { network?.tearDown() }
        do {
            let context = try Context()
            let router = try context.socket(.router)
            try router.setLinger(.zero)
            try router.setReceiveHighWaterMark(0)
            let local = network.map { "tcp://\($0.bridgeAddress):*" } ?? "tcp://127.0.0.1:*"
            try router.bind(options.controlBind ?? (external ? "tcp://*:5600" : local))
            controlEndpoint = try router.lastEndpoint
            return drive(router: router)
        } catch {
            fail("cannot bind the control plane: \(error)")
            return .failed
        }
    }

    // MARK: - Phases

    func drive(router: borrowing Socket) -> RunExit {
        plan()
        let cpuStart = ProcessStats.read(withSmaps: false)?.cpuSeconds ?? 0
        let launchMono = SystemClock.monotonicNanos()
        events.log("run-started", detail: ["topology": options.topologyPath, "control": controlEndpoint])

        // Launch everything that starts at once (external: expect every node now).
        if external {
            say("waiting for \(order.count) nodes to register at \(controlEndpoint)")
            for name in order { nodes[name]!.startAt = nil }
        }
        for name in order where nodes[name]!.startAt == nil {
            launch(name)
        }
        let initial = order.filter { nodes[$0]!.startAt == nil }
        let readyDeadline = launchMono + topology.readyTimeout.nanoseconds
        let readyResult = pump(router: router, deadline: readyDeadline) {
            initial.allSatisfy { self.nodes[$0]!.phase == .ready }
        }
        let launchToReadyMs = Double(SystemClock.monotonicNanos() - launchMono) / 1e6
        var aborted: String?
        switch readyResult {
        case .done:
            say("all \(initial.count) nodes ready in \(Int(launchToReadyMs)) ms")
            events.log("all-ready", detail: ["ms": "\(Int(launchToReadyMs))"])
        case .timeout:
            let missing = initial.filter { nodes[$0]!.phase != .ready }
            let lines = missing.prefix(10).map { "  \($0): \(nodes[$0]!.lastSaid)" }.joined(separator: "\n")
            aborted = "\(missing.count) node(s) not ready after \(topology.readyTimeout)"
            fail("\(aborted!):\n\(lines)\(missing.count > 10 ? "\n  … and \(missing.count - 10) more" : "")")
        case .interrupted(let why):
            aborted = "interrupted (\(why)) before the run started"
        }

        // Warm-up, then START.
        if aborted == nil, topology.warmup.nanoseconds > 0 {
            if case .interrupted(let why) = pump(router: router, deadline: SystemClock.monotonicNanos() + topology.warmup.nanoseconds, until: { false }) {
                aborted = "interrupted (\(why)) during warm-up"
            }
        }
        var measuredSeconds = 0.0
        var cpuAtRunStart = cpuStart
        var hostAtRunStart: HostCPUTimes?
        if aborted == nil {
            runStartMono = SystemClock.monotonicNanos()
            runStartWall = SystemClock.wallNanos()
            cpuAtRunStart = ProcessStats.read(withSmaps: false)?.cpuSeconds ?? 0
            hostAtRunStart = HostCPUTimes.read()
            running = true
            for name in order { sendStartIfReady(name, router: router) }
            events.log("measure-started")
            let end = runStartMono + topology.duration.nanoseconds
            if case .interrupted(let why) = pump(router: router, deadline: end, until: { false }) {
                aborted = "interrupted (\(why)) after \(String(format: "%.1f", Double(SystemClock.monotonicNanos() - runStartMono) / 1e9)) s"
            }
            measuredSeconds = Double(SystemClock.monotonicNanos() - runStartMono) / 1e9
            running = false
            progress.finish()
        }
        let cpuRun = (ProcessStats.read(withSmaps: false)?.cpuSeconds ?? 0) - cpuAtRunStart
        let orchestratorCPU = measuredSeconds > 0 ? cpuRun / measuredSeconds * 100 : 0
        let hostSteal = hostAtRunStart.flatMap { start in HostCPUTimes.read().map { $0.stealPercent(since: start) } }
        events.log("measure-ended", detail: ["seconds": String(format: "%.3f", measuredSeconds)])

        // Stop: the writer first (its final version bounds every reader's tail), then the rest.
        let collectStart = SystemClock.monotonicNanos()
        for (_, n) in nodes where n.paused { resume(n) }
        let (finalEpoch, finalVersion) = stopWriter(router: router)
        for name in order where nodes[name]!.role != .writer { sendStop(name, router: router, epoch: finalEpoch, version: finalVersion) }
        let drain = UInt64(2_000_000_000)
        _ = pump(router: router, deadline: SystemClock.monotonicNanos() + drain + 5_000_000_000) {
            self.nodes.values.allSatisfy { !$0.alive || $0.finalReceived }
        }
        let collectMs = Double(SystemClock.monotonicNanos() - collectStart) / 1e6
        let teardownStart = SystemClock.monotonicNanos()
        for (pid, name, status) in launcher.terminateAll(grace: .seconds(1)) { noteExit(pid: pid, name: name, status: status) }
        _ = pump(router: router, deadline: SystemClock.monotonicNanos() + 100_000_000, until: { false })
        let teardownMs = Double(SystemClock.monotonicNanos() - teardownStart) / 1e6
        events.log("run-ended", detail: ["aborted": aborted ?? ""])

        // Dumps, state, report.
        writeDumps()
        let state = RunState(
            topologyFile: options.topologyPath, launcher: topology.launcher.rawValue, startedWallNs: runStartWall,
            durationSeconds: measuredSeconds, aborted: aborted,
            environment: .init(host: HostInfo.current(), libzmq: "\(Context.version.major).\(Context.version.minor).\(Context.version.patch)",
                               orchestratorPid: getpid(), orchestratorCpuPercent: orchestratorCPU,
                               orchestratorPeakRssMB: Double(ProcessStats.read(withSmaps: false)?.rssBytes ?? 0) / 1_048_576,
                               hostStealPercent: hostSteal),
            timings: .init(launchToReadyMs: launchToReadyMs, teardownMs: teardownMs, collectMs: collectMs),
            nodes: order.map { observed($0) }, faults: faultRecords)
        do {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(state).write(to: URL(fileURLWithPath: runDir + "/" + RunState.fileName))
            let report = try ReportBuilder.build(runDirectory: runDir)
            try ReportWriter.write(report, to: runDir)
            if !options.quiet || true {
                print(ReportWriter.summary(report), terminator: "")
                print("run directory: \(runDir)")
            }
            if aborted != nil { return .failed }
            return report.sloPassed ? .slosMet : .sloViolated
        } catch {
            fail("cannot write the report: \(error)")
            return .failed
        }
    }

    /// Builds the node table and the fault plan.
    func plan() {
        let tcp = topology.writer.transport == .tcp
        // Loopback, or with the netns launcher the address of the node's namespace.
        let net = network
        func address(_ spec: NodeSpec) -> String { net?.host(Self.hostLabel(spec))?.address ?? "127.0.0.1" }
        let writerAddress = net?.host(Topology.writerName)?.address ?? "127.0.0.1"
        writerEndpoints = tcp
            ? ("tcp://\(writerAddress):\(PortAllocator.next())", "tcp://\(writerAddress):\(PortAllocator.next())")
            : ("ipc://\(stateDir)/writer.pub", "ipc://\(stateDir)/writer.snap")
        // Endpoints that must stay the same across a node's restarts are chosen now.
        for spec in topology.nodes {
            switch spec.reader?.role {
            case .relay?:
                relayEndpoints[spec.name] = tcp ? "tcp://\(address(spec)):\(PortAllocator.next())" : "ipc://\(stateDir)/\(spec.name).pub"
            case .query?:
                serviceEndpoints[spec.name] = "tcp://\(address(spec)):\(PortAllocator.next())"
            default:
                break
            }
        }
        var script: String?
        if let events = topology.writer.events {
            let path = nodeDir(Topology.writerName) + "/events.json"
            try? FileManager.default.createDirectory(atPath: nodeDir(Topology.writerName), withIntermediateDirectories: true)
            try? EventScriptFile.data(for: events).write(to: URL(fileURLWithPath: path))
            script = path
        }
        let dirs = runDir + "/nodes/"
        let (relays, services) = (relayEndpoints, serviceEndpoints)
        // The same mapping `orchestrator compose` uses, with local endpoints.
        let mapping = NodeCommands(
            topology: topology,
            writerPub: (writerEndpoints.pub, writerEndpoints.pub),
            writerSnapshots: (writerEndpoints.snapshots, writerEndpoints.snapshots),
            nodeDirectory: { dirs + $0 },
            serviceBind: { services[$0.name] ?? "tcp://127.0.0.1:*" },
            relayEndpoint: { spec in let ep = relays[spec.name] ?? ""; return (ep, ep) },
            writerScript: script)
        // cpuPinning "spread": readers in node order round the CPUs this process may use.
        let cpus = topology.cpuPinning == .spread && !external ? CPUAffinity.allowed() : []
        var pinned = 0
        for spec in topology.nodes {
            let n = ManagedNode(name: spec.name, group: spec.group, role: spec.role)
            n.startAt = spec.reader?.startAt
            var command = mapping.command(for: spec)
            if !cpus.isEmpty, case .reader(var c) = command {
                c.cpu = cpus[pinned % cpus.count]
                n.cpu = c.cpu
                command = .reader(c)
                pinned += 1
            }
            n.serviceEndpoint = serviceEndpoints[spec.name]
            if let net {
                let label = Self.hostLabel(spec)
                n.netHost = net.host(label)
                // Namespaces stand for separate hosts: readers measure on the wall clock, corrected with START.
                if case .reader(var c) = command { c.clock = .wall; command = .reader(c) }
                // Its peers: for the writer every host; for a reader or relay its upstream and the writer.
                var peers = Set(hostPeers[label] ?? [])
                peers.formUnion(spec.reader == nil ? net.hosts.map(\.label) : [Topology.writerName])
                if let relay = mapping.upstreamRelay(for: spec) { peers.insert(Self.hostLabel(relay)) }
                peers.remove(label)
                hostPeers[label] = peers.sorted()
            }
            n.command = command
            nodes[spec.name] = n
            order.append(spec.name)
        }
        if pinned > 0 { say("\(pinned) reader\(pinned == 1 ? "" : "s") pinned round CPUs \(CPUAffinity.describe(cpus))") }
        // One load generator per query group with `load`, aimed at the group's service endpoints.
        for group in topology.readers where group.role == .query {
            guard let load = group.load else { continue }
            let targets = topology.nodes.filter { $0.group == group.groupName }.compactMap { serviceEndpoints[$0.name] }
            let name = NodeCommands.queryLoadName(group)
            let n = ManagedNode(name: name, group: name, role: .queryLoad)
            n.startAt = group.startAt
            n.command = mapping.queryLoadCommand(for: group, load: load, targets: targets)
            n.netHost = network?.host(group.groupName)
            nodes[name] = n
            order.append(name)
        }
        faults = FaultPlanner.plan(topology)
        for f in faults {
            for t in f.targets { nodes[t]?.faulted = true }
            // A network fault acts on a whole namespace: every node in it is affected.
            guard network != nil, f.action.needsNetworkNamespaces else { continue }
            let hit = Set(f.targets.compactMap { nodes[$0]?.netHost?.label })
            for n in nodes.values where n.netHost.map({ hit.contains($0.label) }) == true { n.faulted = true }
        }
    }

    /// The namespace a node runs in under the netns launcher: the writer's, or its group's.
    static func hostLabel(_ spec: NodeSpec) -> String { spec.group }

    /// One namespace for the writer and one for each reader or relay group
    /// (a query group's load generator shares its group's).
    static func hostLabels(_ topology: Topology) -> [String] {
        var seen = Set<String>()
        return topology.nodes.map(hostLabel).filter { seen.insert($0).inserted }
    }

    var serviceEndpoints: [String: String] = [:]
    var relayEndpoints: [String: String] = [:]

    func nodeDir(_ name: String) -> String { runDir + "/nodes/" + name }

    // MARK: - Launching

    func launch(_ name: String) {
        guard let n = nodes[name] else { return }
        if external {
            n.phase = .launched
            n.external = true
            n.lastSaid = "not registered: start it with --name \(name) --control \(controlEndpoint)"
            return
        }
        try? FileManager.default.createDirectory(atPath: nodeDir(name), withIntermediateDirectories: true)
        guard let command = n.command?.attached(control: controlEndpoint, parentPID: getpid()) else { return }
        var (executable, args) = (options.nodeBinary, command.arguments)
        if let net = network, let host = n.netHost {
            (executable, args) = net.exec(in: host, program: options.nodeBinary, arguments: args)
        }
        do {
            let pid = try launcher.spawn(executable: executable, arguments: args, logPath: nodeDir(name) + "/node.log", name: name)
            n.pid = pid
            n.pids.append(pid)
            n.phase = .launched
            n.lastSaid = "launched (pid \(pid)), nothing received yet"
            n.finalReceived = false
            n.exitExpected = false
            n.startSent = false
            var detail = ["pid": "\(pid)"]
            if let cpu = n.cpu { detail["cpu"] = "\(cpu)" }
            events.log("launched", node: name, detail: detail)
        } catch {
            n.phase = .exited
            n.lastSaid = "\(error)"
            events.log("launch-failed", node: name, detail: ["error": "\(error)"])
            say("\(name): \(error)")
        }
    }

    func sendStartIfReady(_ name: String, router: borrowing Socket) {
        guard running, let n = nodes[name], n.phase == .ready, !n.startSent, let id = n.identity else { return }
        var s = Clustersim_V1_Start()
        s.startWallNs = runStartWall
        if let w = nodes[Topology.writerName].flatMap({ ClockOffset.estimate($0.clockSamples) }),
           let mine = ClockOffset.estimate(n.clockSamples) {
            s.clockCorrectionNs = w.offsetNs &- mine.offsetNs
            s.hasClockCorrection_p = true
        }
        send(.start(s), to: id, router: router)
        n.startSent = true
    }

    func send(_ body: Clustersim_V1_ControlMessage.OneOf_Body, to identity: [UInt8], router: borrowing Socket) {
        var m = Clustersim_V1_ControlMessage()
        m.body = body
        guard let bytes: [UInt8] = try? m.serializedBytes() else { return }
        _ = try? router.sendMultipart([identity, bytes], dontWait: true)
    }

    static let clockSamples = 8
    /// Sampling rounds (500 ms each) between two USS/PSS reads of a node.
    static let smapsRounds = 120

    /// Asks a node for its wall clock (TimeRequest); the replies give its offset.
    /// Probes go at random moments, not one after each reply: a node answers
    /// between its own work, and probes in lockstep with that rhythm would all
    /// wait the longest (a reader looks at its control socket every 20 ms).
    func probeClock(_ n: ManagedNode, router: borrowing Socket) {
        guard let id = n.identity else { return }
        n.probesSent += 1
        n.nextProbe = SystemClock.monotonicNanos() + 30_000_000 + probeJitter.below(25_000_000)
        var r = Clustersim_V1_TimeRequest()
        r.sequence = UInt64(n.clockSamples.count)
        r.orchestratorWallNs = SystemClock.wallNanos()
        send(.timeRequest(r), to: id, router: router)
    }

    func sendStop(_ name: String, router: borrowing Socket, epoch: UInt64, version: UInt64) {
        guard let n = nodes[name], n.alive, let id = n.identity else { return }
        var s = Clustersim_V1_Stop()
        s.reason = "run ended"
        s.finalEpoch = epoch
        s.finalVersion = version
        n.exitExpected = true
        send(.stop(s), to: id, router: router)
    }

    /// Stops the writer and waits for its final dump: the final version and epoch.
    func stopWriter(router: borrowing Socket) -> (UInt64, UInt64) {
        guard let w = nodes[Topology.writerName] else { return (0, 0) }
        sendStop(Topology.writerName, router: router, epoch: 0, version: 0)
        for (_, n) in nodes where n.role == .queryLoad { sendStop(n.name, router: router, epoch: 0, version: 0) }
        _ = pump(router: router, deadline: SystemClock.monotonicNanos() + 5_000_000_000) { !w.alive || w.finalReceived }
        if let m = w.finalMetrics {
            return (m.epoch, m[.finalVersion])
        }
        return (w.lastStats?.epoch ?? 0, w.lastStats?.version ?? 0)
    }

    // MARK: - The loop

    enum PumpResult { case done, timeout, interrupted(String) }

    /// Runs the loop until `done` holds, the deadline passes, or a signal arrives.
    func pump(router: borrowing Socket, deadline: UInt64, until done: () -> Bool) -> PumpResult {
        var poller = Poller()
        let routerIndex = poller.add(router)
        let signalIndex = poller.add(fileDescriptor: signals.fileDescriptor)
        while true {
            if done() { return .done }
            let now = SystemClock.monotonicNanos()
            if now >= deadline { return .timeout }
            let wait = min(deadline - now, 50_000_000)
            _ = try? poller.poll(timeout: .nanoseconds(Int64(wait)))
            if poller.events(at: signalIndex).contains(.readable), let sig = signals.take() {
                interrupted = "signal \(sig)"
                events.log("interrupted", detail: ["signal": "\(sig)"])
                say("interrupted by signal \(sig): stopping the cluster and writing a partial report")
                return .interrupted("signal \(sig)")
            }
            if poller.events(at: routerIndex).contains(.readable) {
                for _ in 0..<2_000 {
                    guard let frames = try? router.receiveMultipart(dontWait: true) else { break }
                    guard frames.count >= 2 else { continue }
                    handle(identity: frames[0].bytes, bytes: frames[frames.count - 1].bytes, router: router)
                }
            }
            for (pid, name, status) in launcher.reap() { noteExit(pid: pid, name: name, status: status) }
            periodic(router: router)
        }
    }

    var nextSample: UInt64 = 0
    var probeJitter = SeededRandom(seed: 0xC10C)
    var sampleSlice = 0
    var sampleRound = 0
    var nextProgress: UInt64 = 0

    func periodic(router: borrowing Socket) {
        let now = SystemClock.monotonicNanos()
        // Resource sampling: every node every 500 ms, spread over the interval
        // in slices (one pass over a hundred /proc entries at once is a burst
        // every reader would feel). USS/PSS come from smaps_rollup, for which
        // the kernel walks the node's page tables (about 0.9 ms of one CPU
        // per read of a 28 MB reader): read on a node's first sample, then
        // once every `smapsRounds` rounds (a minute), staggered so that a
        // slice reads at most a tenth of its nodes'. Read for every node in
        // one round every 2 s, they raised the readers' p99
        // (docs/architecture.md). RSS is read every time.
        if now >= nextSample {
            nextSample = now + 50_000_000
            let slices = 10
            let slice = sampleSlice % slices
            if slice == 0 { sampleRound += 1 }
            sampleSlice += 1
            let t = runStartMono > 0 ? Double(Int64(now) - Int64(runStartMono)) / 1e9 : 0
            for (i, name) in order.enumerated() where i % slices == slice {
                guard let n = nodes[name], let pid = n.pid, n.alive else { continue }
                let withSmaps = !n.resources.smapsRead || (sampleRound + i / slices) % Self.smapsRounds == 0
                if let s = ProcessStats.read(pid: pid, withSmaps: withSmaps) {
                    n.resources.add(t: t, stats: s, withSmaps: withSmaps)
                }
            }
        }
        // Clock probes, a few per node, at random moments.
        for name in order {
            guard let n = nodes[name], n.identity != nil, n.clockSamples.count < Self.clockSamples,
                  n.probesSent < 2 * Self.clockSamples, now >= n.nextProbe else { continue }
            probeClock(n, router: router)
        }
        guard running else { return }
        let t = now - runStartMono
        // Late joiners.
        for name in order {
            guard let n = nodes[name], let at = n.startAt, n.phase == .pending, t >= at.nanoseconds else { continue }
            events.log("late-join", node: name)
            launch(name)
        }
        // Faults.
        while let f = faults.first, f.atNanos <= t {
            faults.removeFirst()
            apply(f, now: t, router: router)
        }
        if now >= nextProgress {
            nextProgress = now + (progress.isTTY ? 1_000_000_000 : 5_000_000_000)
            progress.draw(elapsed: Double(t) / 1e9, total: topology.duration.seconds, nodes: nodes.values)
        }
    }

    func handle(identity: [UInt8], bytes: [UInt8], router: borrowing Socket) {
        guard let m = try? Clustersim_V1_ControlMessage(serializedBytes: bytes), let body = m.body else {
            events.log("bad-control-message", detail: ["bytes": "\(bytes.count)"])
            return
        }
        if case .hello(let h) = body, !h.claimGroup.isEmpty {
            answerClaim(h, identity: identity, router: router)
            return
        }
        if case .hello(let h) = body {
            guard let n = nodes[h.node] else {
                events.log("unknown-node", detail: ["node": h.node])
                return
            }
            if let old = n.identity { byIdentity.removeValue(forKey: old) }
            n.identity = identity
            if n.external {
                n.gone = false
                n.pids.append(h.pid)
                n.host = h.host
            }
            byIdentity[identity] = h.node
            if n.phase == .launched { n.phase = .hello }
            n.lastSaid = "HELLO (pid \(h.pid)); waiting for READY (a reader is ready once a writer heartbeat reached it)"
            if !h.serviceEndpoint.isEmpty { n.serviceEndpoint = h.serviceEndpoint }
            n.clockSamples = []
            n.probesSent = 0
            n.nextProbe = SystemClock.monotonicNanos()
            events.log("hello", node: h.node, detail: ["pid": "\(h.pid)"])
            return
        }
        guard let name = byIdentity[identity], let n = nodes[name] else { return }
        switch body {
        case .ready:
            n.phase = .ready
            n.lastSaid = "READY"
            events.log("ready", node: name)
            sendStartIfReady(name, router: router)
        case .stats(let s):
            n.lastStats = s
            if n.external {
                // No /proc across hosts: the node's own CPU and RSS, from its STATS.
                let t = runStartMono > 0 ? Double(Int64(SystemClock.monotonicNanos()) - Int64(runStartMono)) / 1e9 : 0
                n.resources.add(t: t, stats: ProcessStats(pid: 0, cpuSeconds: s.cpuSeconds, rssBytes: s.rssBytes,
                                                          ussBytes: 0, pssBytes: 0, threads: 0), withSmaps: false)
            }
            n.lastSaid = "STATS #\(s.seq)"
            progress.observe(node: n, stats: s)
        case .timeReply(let t):
            n.clockSamples.append((t.orchestratorWallNs, t.nodeWallNs, SystemClock.wallNanos()))
        case .final(let f):
            n.finalReceived = true
            n.final = f
            n.finalMetrics = try? NodeMetrics.decode(json: f.metricsJson)
            events.log("final", node: name)
        case .bye(let b):
            n.gone = true
            if n.external { n.phase = .exited }
            events.log("bye", node: name, detail: ["reason": b.reason])
        default:
            break
        }
    }

    /// Names handed to replicas that claimed one, by the claiming DEALER's identity.
    var claims: [[UInt8]: String] = [:]

    /// Answers a replica's claim on a group: the first node of the group that
    /// nobody registered or claimed (the same one again for a repeated HELLO).
    func answerClaim(_ h: Clustersim_V1_Hello, identity: [UInt8], router: borrowing Socket) {
        var w = Clustersim_V1_Welcome()
        let group = h.claimGroup
        let members = order.filter { nodes[$0]!.group == group && nodes[$0]!.role != .queryLoad }
        let taken = Set(claims.values)
        if let name = claims[identity] {
            w.node = name
        } else if !external {
            w.refusal = "names are claimed only under the external launcher; this run launches its own nodes"
        } else if members.isEmpty {
            w.refusal = "the topology has no group \"\(group)\" (groups: \(Set(order.map { nodes[$0]!.group }).sorted().joined(separator: ", ")))"
        } else if let name = members.first(where: { !taken.contains($0) && nodes[$0]!.identity == nil }) {
            w.node = name
            claims[identity] = name
            events.log("claimed", node: name, detail: ["group": group, "pid": "\(h.pid)", "host": h.host])
        } else {
            w.refusal = "every node of group \"\(group)\" (\(members.count)) is taken; start at most \(members.count) replicas"
        }
        if !w.node.isEmpty, let spec = topology.nodes.first(where: { $0.name == w.node }) {
            w.seed = NodeCommands.readerSeed(topology, for: spec)
        }
        if !w.refusal.isEmpty { events.log("claim-refused", detail: ["group": group, "why": w.refusal]) }
        send(.welcome(w), to: identity, router: router)
    }

    func noteExit(pid: Int32, name: String, status: ExitStatus) {
        guard let n = nodes[name] else { return }
        let expected = n.exitExpected || (status == .exited(0) && n.finalReceived)
        if n.pid == pid { n.pid = nil; n.phase = .exited }
        n.exits.append((status, expected))
        if !expected {
            n.crashed = true
            events.log("crashed", node: name, detail: ["status": "\(status)"])
            say("\(name) exited unexpectedly: \(status)")
        } else {
            events.log("exited", node: name, detail: ["status": "\(status)"])
        }
        if n.restartPending {
            n.restartPending = false
            n.restarts += 1
            launch(name)
        }
    }

    // MARK: - Faults

    func apply(_ f: PlannedFault, now: UInt64, router: borrowing Socket) {
        let at = Double(now) / 1e9
        if f.action.needsNetworkNamespaces {
            applyNetworkFault(f, now: now, at: at)
            return
        }
        for target in f.targets {
            var outcome = FaultOutcome.applied
            var detail = f.detail
            let n = nodes[target]
            if external && f.action != .delay {
                record(f, target: target, at: at, outcome: .skipped, detail: "process faults need the local launcher")
                continue
            }
            switch f.action {
            case .kill, .terminate:
                if let n, let pid = n.pid, n.alive {
                    n.exitExpected = true
                    if n.paused { resume(n) }
                    kill(pid, f.action == .kill ? SIGKILL : SIGTERM)
                    detail = "pid \(pid)"
                } else { outcome = .skipped; detail = "not running" }
            case .pause:
                if let n, let pid = n.pid, n.alive {
                    kill(pid, SIGSTOP)
                    n.paused = true
                    if let d = f.duration {
                        faults.append(PlannedFault(atNanos: now + d, action: .resume, targets: [target], duration: nil, detail: "end of pause", source: f.source))
                        faults.sort { $0.atNanos < $1.atNanos }
                    }
                } else { outcome = .skipped; detail = "not running" }
            case .resume:
                if let n, n.paused { resume(n) } else { outcome = .skipped; detail = "not paused" }
            case .restart:
                if let n {
                    if let pid = n.pid, n.alive {
                        n.exitExpected = true
                        n.restartPending = true
                        if n.paused { resume(n) }
                        kill(pid, SIGTERM)
                        detail = "terminating pid \(pid), then relaunching"
                    } else {
                        n.restarts += 1
                        launch(target)
                        detail = "relaunched"
                    }
                }
            case .cpuHog:
                hogCount += 1
                let name = "cpu-hog-\(hogCount)"
                let hog = ManagedNode(name: name, group: NodeRole.cpuHog.name, role: .cpuHog)
                hog.command = .cpuHog(CPUHogConfig(forNanos: f.duration ?? 1_000_000_000))
                hog.exitExpected = true
                nodes[name] = hog
                order.append(name)
                do {
                    try FileManager.default.createDirectory(atPath: nodeDir(name), withIntermediateDirectories: true)
                    hog.pid = try launcher.spawn(executable: options.nodeBinary, arguments: hog.command!.attached(control: nil, parentPID: getpid()).arguments,
                                                 logPath: nodeDir(name) + "/node.log", name: name)
                    hog.pids = [hog.pid!]
                    hog.phase = .ready
                    hog.finalReceived = true
                } catch { outcome = .failed; detail = "\(error)" }
            case .delay:
                // Over the control plane: the relay adds the delay and ends it on its own clock.
                if let n, n.alive, let id = n.identity, let added = f.spec?.delay?.nanoseconds {
                    var d = Clustersim_V1_AddDelay()
                    d.delayNs = added
                    d.forNs = f.duration ?? 0
                    send(.addDelay(d), to: id, router: router)
                } else { outcome = .skipped; detail = "not running" }
            case .partition, .loss, .bandwidth:
                break  // handled by applyNetworkFault above
            }
            record(f, target: target, at: at, outcome: outcome, detail: detail)
        }
    }

    /// Partition, loss or bandwidth: iptables rules in the target's namespace
    /// against its peers (never the bridge, where the control plane is), or a
    /// tbf qdisc on its veth; the heal is scheduled after `for`. Outside the
    /// netns launcher they are skipped.
    func applyNetworkFault(_ f: PlannedFault, now: UInt64, at: Double) {
        guard let net = network else {
            for t in f.targets { record(f, target: t, at: at, outcome: .skipped, detail: "\(f.action.rawValue) needs the netns launcher (--launcher netns)") }
            return
        }
        if let heal = f.heal {
            let failures = heal.map { SystemCommand.run($0) }.filter { !$0.ok }.map(\.reason)
            for t in f.targets { record(f, target: t, at: at, outcome: failures.isEmpty ? .applied : .failed,
                                        detail: failures.isEmpty ? f.detail : failures.joined(separator: "; ")) }
            return
        }
        // Nodes share their group's namespace: one set of rules per namespace hit.
        var byHost: [(host: NetnsNetwork.Host, names: [String])] = []
        for t in f.targets {
            guard let h = nodes[t]?.netHost else {
                record(f, target: t, at: at, outcome: .skipped, detail: "not a node in a namespace")
                continue
            }
            if let i = byHost.firstIndex(where: { $0.host.label == h.label }) { byHost[i].names.append(t) } else { byHost.append((h, [t])) }
        }
        for (host, names) in byHost {
            // A whole group is named as such; single nodes by name.
            let inGroup = nodes.values.filter { $0.group == host.label }.count
            let target = names.count > 1 && names.count == inGroup ? host.label : names.joined(separator: ",")
            let peers = (hostPeers[host.label] ?? []).compactMap(net.host)
            guard f.action == .bandwidth || !peers.isEmpty else {
                record(f, target: target, at: at, outcome: .skipped, detail: "namespace \(host.namespace) has no peer to cut off")
                continue
            }
            guard let cmds = NetnsNetwork.commands(for: f.action, host: host, peers: peers, loss: f.spec?.loss,
                                                   bandwidth: f.spec?.bandwidth, isWriter: host.label == Topology.writerName) else {
                record(f, target: target, at: at, outcome: .failed, detail: "no \(f.action.rawValue) parameters")
                continue
            }
            var undo: [[String]] = []
            var failure: String?
            for (apply, heal) in zip(cmds.apply, cmds.heal) {
                let r = SystemCommand.run(apply)
                guard r.ok else { failure = "`\(apply.joined(separator: " "))`: \(r.reason)"; break }
                undo.insert(heal, at: 0)
            }
            if let failure {
                for c in undo { _ = SystemCommand.run(c) }
                record(f, target: target, at: at, outcome: .failed, detail: failure)
                continue
            }
            let between = f.action == .bandwidth ? "" : " against \(peers.map(\.label).joined(separator: ", "))"
            record(f, target: target, at: at, outcome: .applied,
                   detail: ([f.detail].filter { !$0.isEmpty } + ["namespace \(host.namespace) (\(host.address))\(between)"]).joined(separator: "; "))
            if let d = f.duration {
                var h = PlannedFault(atNanos: now + d, action: f.action, targets: [target], duration: nil,
                                     detail: "end of \(f.action.rawValue)", source: f.source)
                h.heal = undo
                faults.append(h)
                faults.sort { $0.atNanos < $1.atNanos }
            }
        }
    }

    func record(_ f: PlannedFault, target: String, at: Double, outcome: FaultOutcome, detail: String) {
        let action: FaultStep = f.heal == nil ? .fault(f.action) : .heal
        faultRecords.append(FaultRecord(plannedAtSeconds: Double(f.atNanos) / 1e9, appliedAtSeconds: outcome == .applied ? at : nil,
                                        action: action, target: target, detail: detail, outcome: outcome, source: f.source))
        events.log("fault", node: target, detail: ["action": action.description, "outcome": outcome.rawValue, "detail": detail,
                                                    "t": String(format: "%.3f", at)])
        progress.note("\(String(format: "%6.2f", at))s \(action) \(target): \(outcome)\(detail.isEmpty ? "" : " (\(detail))")")
    }

    func resume(_ n: ManagedNode) {
        if let pid = n.pid { kill(pid, SIGCONT) }
        n.paused = false
    }

    // MARK: - Output

    func writeDumps() {
        for name in order {
            guard let n = nodes[name], let f = n.final else { continue }
            let dir = nodeDir(name)
            do {
                try MetricsDump.write(json: f.metricsJson, prom: f.metricsProm, hgrm: f.latencyHgrm, to: dir)
                try f.histogram.write(to: URL(fileURLWithPath: dir + "/" + ReportBuilder.histogramFile))
            } catch {
                say("\(name): \(error)")
            }
        }
    }

    func observed(_ name: String) -> ObservedNode {
        let n = nodes[name]!
        let status: NodeStatus
        if n.phase == .pending { status = .neverStarted }
        else if n.crashed { status = .crashed }
        else if n.external { status = !n.readyEver ? .neverReady : n.finalReceived ? .completed : .noFinalDump }
        else if n.pids.isEmpty { status = .neverStarted }
        else if n.readyEver == false && n.role != .cpuHog { status = .neverReady }
        else if let last = n.exits.last, !n.finalReceived {
            switch last.status {
            case .signaled(SIGKILL): status = .killed
            case .signaled(SIGTERM): status = .terminated
            default: status = .exited
            }
        } else { status = .completed }
        return ObservedNode(name: name, group: n.group, role: n.role, status: status, exit: n.exits.last.map { "\($0.status)" },
                            restarts: n.restarts, pids: n.pids, faulted: n.faulted, hasFinal: n.finalReceived,
                            resources: n.resources.summary(), clock: ClockOffset.estimate(n.clockSamples))
    }

    func say(_ s: String) {
        progress?.note(s)
        if progress == nil, !options.quiet { print(s) }
    }

    func fail(_ s: String) {
        FileHandle.standardError.write(Data("orchestrator: \(s)\n".utf8))
    }

    static func timestamp() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d%02d%02d-%02d%02d%02d", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec)
    }
}

/// A node of the run as the orchestrator tracks it.
final class ManagedNode {
    enum Phase { case pending, launched, hello, ready, exited }
    let name: String
    let group: String
    let role: NodeRole
    /// What it runs; nil for a node started by others (external launcher) until it registers.
    var command: NodeCommand?
    var startAt: TimeSpan?
    var pid: Int32?
    var pids: [Int32] = []
    var identity: [UInt8]?
    var phase: Phase = .pending { didSet { if phase == .ready { readyEver = true } } }
    var readyEver = false
    var lastSaid = "not launched"
    var startSent = false
    var exitExpected = false
    var restartPending = false
    var paused = false
    var faulted = false
    var crashed = false
    var restarts = 0
    var exits: [(status: ExitStatus, expected: Bool)] = []
    var finalReceived = false
    var final: Clustersim_V1_FinalMetrics?
    var finalMetrics: NodeMetrics?
    var lastStats: Clustersim_V1_Stats?
    var serviceEndpoint: String?
    /// The CPU the node is pinned to (cpuPinning "spread").
    var cpu: Int?
    var host: String?
    /// Netns launcher: the namespace it runs in.
    var netHost: NetnsNetwork.Host?
    var resources = ResourceSeries()
    var clockSamples: [(sent: UInt64, node: UInt64, received: UInt64)] = []
    var probesSent = 0
    var nextProbe: UInt64 = .max

    init(name: String, group: String, role: NodeRole) {
        self.name = name
        self.group = group
        self.role = role
    }

    /// Started by someone else (external launcher).
    var external = false
    /// Said BYE.
    var gone = false

    var alive: Bool { external ? (identity != nil && !gone) : pid != nil }
}
