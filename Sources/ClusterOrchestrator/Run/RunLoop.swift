import ClusterCore
import ClusterProcess
import Foundation
import ZeroMQ

/// One run, from the first launch to the report: one thread, one loop.
///
/// The loop polls the control ROUTER and the shutdown signalfd with a short
/// timeout (50 ms at most) and between polls reaps children, samples /proc
/// in slices, probes the nodes' clocks and, while the measured phase runs,
/// starts late joiners, applies due faults and draws the progress line. The
/// run's phases are ``RunStateMachine``'s: the loop tells it what happened
/// (a condition holds, a deadline passed, a signal came) and performs the
/// action it returns with the parts: the ``Cluster`` of nodes and processes,
/// the ``ControlPlane``, the samplers and the fault scheduler.
final class RunLoop {
    let topology: Topology
    let topologyPath: String
    let cluster: Cluster
    let control: ControlPlane
    let signals: ShutdownSignals
    var machine: RunStateMachine
    var faults: FaultScheduler
    var processFaults = ProcessFaults()
    let networkFaults: NetworkFaults
    var sampler = ResourceSampler()
    var prober = ClockProber()
    var usage = OrchestratorUsage()
    var claims = NameClaims()
    var refusals = ControlRefusals()
    /// When the control ROUTER's connection events are read next (every 100 ms).
    var nextConnectionCheck: UInt64 = 0
    /// The fault agent, once one connected: faults then apply to the nodes' containers.
    var agent: FaultAgentLink?
    var containerFaults = ContainerFaults()
    var nextProgress: UInt64 = 0
    /// When the loop last turned while measuring (0: not measuring).
    var lastMeasuredTurn: UInt64 = 0
    let endpoints: RunEndpoints

    /// - Parameters:
    ///   - topology: with the launcher actually used.
    ///   - topologyPath: the file, as given, for the record.
    init(topology: Topology, topologyPath: String, cluster: Cluster, control: ControlPlane, signals: ShutdownSignals,
         faults: [PlannedFault], networkFaults: NetworkFaults, endpoints: RunEndpoints) {
        self.endpoints = endpoints
        self.topology = topology
        self.topologyPath = topologyPath
        self.cluster = cluster
        self.control = control
        self.signals = signals
        self.networkFaults = networkFaults
        self.faults = FaultScheduler(faults)
        machine = RunStateMachine(readyTimeout: topology.readyTimeout, warmup: topology.warmup, duration: topology.duration,
                                  registerTimeout: cluster.external ? topology.registerTimeout : nil)
    }

    var events: EventLog { cluster.directory.events }
    var progress: ProgressLine { cluster.progress }

    /// Runs the topology to its end (or to a signal).
    /// - Returns: the exit status, and the report's summary when one was written.
    func run() -> RunOutcome {
        events.log("run-started", detail: ["topology": topologyPath, "control": control.endpoint,
                                           "writer_pub": endpoints.writer.pub, "writer_snapshots": endpoints.writer.snapshots])
        _ = perform(machine.begin(now: SystemClock.monotonicNanos()))
        var poller = Poller()
        let routerIndex = control.add(to: &poller)
        let signalIndex = poller.add(fileDescriptor: signals.fileDescriptor)
        while let wait = machine.wait {
            var action = RunStateMachine.Action.none
            let now = SystemClock.monotonicNanos()
            noteStall(now: now)
            if let condition = wait.condition, holds(condition) {
                action = machine.conditionMet(now: now)
            } else if now >= wait.deadline {
                switch wait.condition {
                case .startersRegistered?: action = machine.registerTimedOut(now: now, missing: cluster.nodes.startersNotRegistered.count)
                case .startersReady?: action = machine.readyTimedOut(now: now, missing: cluster.nodes.startersNotReady.count)
                default: action = machine.deadlinePassed(now: now, wallNow: SystemClock.wallNanos())
                }
            } else {
                _ = try? poller.poll(timeout: .nanoseconds(Int64(min(wait.deadline - now, 50_000_000))))
                if poller.events(at: signalIndex).contains(.readable), let signal = signals.take() {
                    action = interrupted(by: signal)
                } else {
                    if poller.events(at: routerIndex).contains(.readable) { receiveControlMessages() }
                    cluster.reap()
                    periodic()
                    if wait.condition == .startersReady, let dead = cluster.nodes.starterEndedBeforeReady {
                        action = machine.starterEnded(node: dead.name, how: dead.endedHow, now: SystemClock.monotonicNanos())
                    }
                }
            }
            if let outcome = perform(action) { return outcome }
        }
        preconditionFailure("the run loop ended before the run finished")
    }

    /// Whether the condition the run waits for holds.
    func holds(_ condition: RunStateMachine.Condition) -> Bool {
        switch condition {
        case .startersRegistered: return cluster.nodes.startersRegistered
        case .startersReady: return cluster.nodes.startersReady
        case .allFinished: return cluster.nodes.allFinished
        case .writerFinished:
            guard let writer = cluster.nodes[Topology.writerName] else { return true }
            return !writer.isAlive || writer.lifecycle.finalReceived
        }
    }

    /// SIGINT or SIGTERM: logged and said; the run stops the cluster and writes a partial report.
    func interrupted(by signal: Int32) -> RunStateMachine.Action {
        events.log("interrupted", detail: ["signal": "\(signal)"])
        progress.note("interrupted by signal \(signal): stopping the cluster and writing a partial report")
        return machine.interrupted(signal: signal, now: SystemClock.monotonicNanos(), wallNow: SystemClock.wallNanos())
    }

    // MARK: - Between polls

    /// Sampling and clock probes always; late joiners, faults and progress while the measured phase runs.
    func periodic() {
        noteRefusals()
        let now = SystemClock.monotonicNanos()
        sampler.sample(&cluster.nodes, now: now, measureStart: machine.measureStart?.mono)
        if now >= nextConnectionCheck {
            nextConnectionCheck = now + 100_000_000
            control.checkConnections()
        }
        usage.sample(now: now, measureStart: machine.measureStart?.mono)
        probeClocks(now: now)
        guard machine.isMeasuring, let start = machine.measureStart else { return }
        let t = now - start.mono
        startLateJoiners(t: t)
        applyDueFaults(t: t)
        if now >= nextProgress {
            nextProgress = now + progress.interval
            progress.draw(elapsed: Double(t) / 1e9, total: topology.duration.seconds, nodes: cluster.nodes.nodes)
        }
    }

    /// A gap between two turns of the loop while measuring, above
    /// ``stallThreshold``: logged (`loop-stalled` in events.jsonl) and said
    /// above the progress line, because faults, probes and samples due in it
    /// came late (a turn waits 50 ms at most; a gap of 3 s was seen on a host
    /// loaded by a parallel test run, its cause not found).
    func noteStall(now: UInt64) {
        defer { lastMeasuredTurn = machine.isMeasuring ? now : 0 }
        guard lastMeasuredTurn > 0, now > lastMeasuredTurn + Self.stallThreshold, let start = machine.measureStart else { return }
        let gapMs = (now - lastMeasuredTurn) / 1_000_000
        let at = Double(lastMeasuredTurn - min(lastMeasuredTurn, start.mono)) / 1e9
        events.log("loop-stalled", detail: ["ms": "\(gapMs)", "t": String(format: "%.3f", at)])
        progress.note("the orchestrator's loop did not run for \(gapMs) ms from \(String(format: "%.1f", at)) s: what was due then (faults, clock probes, samples) came late")
    }

    /// The gap between two turns of the loop that is reported as a stall.
    static let stallThreshold: UInt64 = 500_000_000

    /// A few TimeRequests per registered node, at random moments (``ClockProber``).
    func probeClocks(now: UInt64) {
        for i in cluster.nodes.indices {
            guard let sequence = prober.probe(&cluster.nodes[position: i].telemetry.clock, now: now) else { continue }
            let name = cluster.nodes[position: i].name
            if control.isKnown(name) { control.timeRequest(name, sequence: sequence, wallNow: SystemClock.wallNanos()) }
        }
    }

    /// Launches the late joiners whose `startAt` has come, `t` nanoseconds into the measured phase.
    func startLateJoiners(t: UInt64) {
        for i in cluster.nodes.indices {
            guard let at = cluster.nodes[position: i].plan.startAt, t >= at.nanoseconds,
                  case .pending = cluster.nodes[position: i].lifecycle else { continue }
            let name = cluster.nodes[position: i].name
            events.log("late-join", node: name)
            cluster.launch(name)
        }
    }

    /// Applies the faults due `t` nanoseconds into the measured phase, recording each target's outcome.
    func applyDueFaults(t: UInt64) {
        while let f = faults.nextDue(at: t) {
            let at = Double(t) / 1e9
            if agent != nil && ContainerFaults.handles(f) {
                for result in containerFaults.apply(f, now: t, loop: self) { note(faults.record(f, result, at: at), at: at) }
            } else if f.action.needsNetworkNamespaces {
                for result in networkFaults.apply(f, now: t, nodes: cluster.nodes) { note(faults.record(f, result, at: at), at: at) }
            } else {
                for target in f.targets {
                    let result = processFaults.apply(f, to: target, now: t, cluster: cluster, control: control)
                    note(faults.record(f, result, at: at), at: at)
                }
            }
        }
    }

    /// A fault's record, in events.jsonl and above the progress line.
    func note(_ r: FaultRecord, at: Double) {
        events.log("fault", node: r.target, detail: ["action": r.action.description, "outcome": r.outcome.rawValue, "detail": r.detail,
                                                      "t": String(format: "%.3f", at)])
        progress.note("\(String(format: "%6.2f", at))s \(r.action) \(r.target): \(r.outcome)\(r.detail.isEmpty ? "" : " (\(r.detail))")")
    }
}
