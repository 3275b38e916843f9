import ClusterCore
import Foundation
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// The run state machine's actions, performed with the parts.
extension RunLoop {
    /// Performs `action`.
    /// - Returns: the run's outcome once it has finished; nil until then.
    func perform(_ action: RunStateMachine.Action) -> RunOutcome? {
        switch action {
        case .launchStarters:
            if let note = cluster.launcher.launchNote(nodes: cluster.nodes.count) { progress.note(note) }
            for name in cluster.nodes.nodes.filter({ $0.plan.startAt == nil }).map(\.name) { cluster.launch(name) }
        case .announceRegistered(let ms):
            progress.note("all \(cluster.nodes.starterCount) nodes registered in \(Int(ms)) ms")
            events.log("all-registered", detail: ["ms": "\(Int(ms))"])
        case .announceReady(let ms):
            progress.note("all \(cluster.nodes.starterCount) nodes ready in \(Int(ms)) ms")
            events.log("all-ready", detail: ["ms": "\(Int(ms))"])
        case .startMeasuring:
            lastMeasuredTurn = SystemClock.monotonicNanos()
            usage.measureStarted()
            for name in cluster.nodes.nodes.map(\.name) { startIfReady(name) }
            events.log("measure-started")
        case .stopWriter(let ending):
            endMeasuredPhase(ending)
            stopWriter()
        case .stopOthers:
            let (epoch, version) = writerFinalVersion()
            for node in cluster.nodes.nodes where node.role != .writer { stop(node.name, epoch: epoch, version: version) }
        case .tearDown:
            cluster.terminateAll()
            return perform(machine.childrenStopped(now: SystemClock.monotonicNanos()))
        case .finish(let timeline):
            return finish(timeline)
        case .none:
            break
        }
        return nil
    }

    /// Sends START to a node that is ready and has not had it, while the measured phase runs.
    /// A wall-clock reader's correction is the writer's clock offset minus its own.
    func startIfReady(_ name: String) {
        guard machine.isMeasuring, let start = machine.measureStart, let node = cluster.nodes[name],
              case .ready(_, startSent: false) = node.lifecycle, control.isKnown(name) else { return }
        var correction: Int64?
        if let w = cluster.nodes[Topology.writerName].flatMap({ ClockOffset.estimate($0.telemetry.clock.samples) }),
           let mine = ClockOffset.estimate(node.telemetry.clock.samples) {
            correction = w.offsetNs &- mine.offsetNs
        }
        control.start(name, startWallNs: start.wall, clockCorrectionNs: correction)
        cluster.nodes.modify(name) { $0.startSent() }
    }

    /// The measured phase is over, or never came: why, the orchestrator's own usage over it, and every paused node resumed.
    func endMeasuredPhase(_ ending: RunStateMachine.Ending) {
        switch ending.aborted {
        case .notRegistered?:
            let missing = cluster.nodes.startersNotRegistered
            let lines = missing.prefix(10).map { "  \($0.name): \($0.lastSaid)" }.joined(separator: "\n")
            Orchestrator.fail("\(ending.aborted!):\n\(lines)\(missing.count > 10 ? "\n  … and \(missing.count - 10) more" : "")")
            for node in missing { events.log("never-registered", node: node.name, detail: ["last": node.lastSaid]) }
        case .notReady?:
            let missing = cluster.nodes.startersNotReady
            let lines = missing.prefix(10).map { "  \($0.name): \($0.lastSaid)" }.joined(separator: "\n")
            Orchestrator.fail("\(ending.aborted!):\n\(lines)\(missing.count > 10 ? "\n  … and \(missing.count - 10) more" : "")"
                + Self.fileLimitNote())
        case .endedBeforeReady(let node, _)?:
            let tail = cluster.directory.logTail(node, lines: 10)
            Orchestrator.fail("\(ending.aborted!); the run stops"
                + (tail.isEmpty ? "" : "\nlast lines of \(cluster.directory.logPath(node)):\n" + tail.map { "  " + $0 }.joined(separator: "\n")))
        default:
            break
        }
        if ending.measureStart != nil { progress.finish() }
        usage.measureEnded(seconds: ending.measuredSeconds)
        events.log("measure-ended", detail: ["seconds": String(format: "%.3f", ending.measuredSeconds)])
        cluster.resumeAll()
    }

    /// A note when this process is near its limit of open files, which makes
    /// connections fail silently inside libzmq (nodes then never register).
    static func fileLimitNote() -> String {
        let limits = MachineLimits.read()
        guard let open = Preflight.openFileCount(), open * 10 >= limits.openFiles.soft * 9 else { return "" }
        return "\n(the orchestrator has \(open) of its \(limits.openFiles.soft) file descriptors open: "
            + "connections beyond the limit fail; raise it with ulimit -n)"
    }

    /// STOP to the writer (its final dump carries the final version) and to the query load generators.
    func stopWriter() {
        guard cluster.nodes[Topology.writerName] != nil else { return }
        stop(Topology.writerName, epoch: 0, version: 0)
        for node in cluster.nodes.nodes where node.role == .queryLoad { stop(node.name, epoch: 0, version: 0) }
    }

    /// Sends STOP to a running, registered node; its end is then expected.
    func stop(_ name: String, epoch: UInt64, version: UInt64) {
        guard cluster.nodes[name]?.isAlive == true, control.isKnown(name) else { return }
        cluster.nodes.modify(name) { $0.expectExit() }
        control.stop(name, finalEpoch: epoch, finalVersion: version)
    }

    /// The writer's final epoch and version: from its final dump, else from its last STATS.
    func writerFinalVersion() -> (epoch: UInt64, version: UInt64) {
        guard let w = cluster.nodes[Topology.writerName] else { return (0, 0) }
        if let m = w.telemetry.final?.metrics { return (m.epoch, m[.finalVersion]) }
        return (w.telemetry.lastStats?.epoch ?? 0, w.telemetry.lastStats?.version ?? 0)
    }

    /// Writes the node dumps, `run-state.json` and the report.
    func finish(_ timeline: RunStateMachine.RunTimeline) -> RunOutcome {
        let ending = timeline.ending
        if refusals.total > 0 {
            events.log("control-refused-total", detail: refusals.counts.reduce(into: ["total": "\(refusals.total)"]) { $0[$1.key.rawValue] = "\($1.value)" })
        }
        events.log("run-ended", detail: ["aborted": ending.aborted?.description ?? ""])
        let directory = cluster.directory
        if cluster.external {
            let adopted = directory.adoptSharedNodeFiles(cluster.nodes.nodes.map(\.name))
            if !adopted.moved.isEmpty { events.log("node-files-adopted", detail: ["files": adopted.moved.joined(separator: " ")]) }
            for failure in adopted.failed { progress.note("cannot move a node's file into the run directory: \(failure)") }
        }
        for (node, error) in directory.writeDumps(cluster.nodes) { progress.note("\(node): \(error)") }
        var state = RunState(
            topologyFile: topologyPath, launcher: agent?.engine ?? topology.launcher.rawValue, startedWallNs: ending.measureStart?.wall ?? 0,
            durationSeconds: ending.measuredSeconds, aborted: ending.aborted?.description,
            environment: .init(host: HostInfo.current(), libzmq: "\(Context.version.major).\(Context.version.minor).\(Context.version.patch)",
                               orchestratorPid: getpid(), orchestratorCpuPercent: usage.cpuPercent,
                               orchestratorPeakRssMB: OrchestratorUsage.peakRssMB(), hostStealPercent: usage.hostStealPercent,
                               orchestratorGrowthMB: usage.series.summary()?.growthMB),
            timings: .init(launchToReadyMs: ending.launchToReadyMs, teardownMs: timeline.teardownMs, collectMs: timeline.collectMs),
            nodes: cluster.nodes.nodes.map { $0.observed(external: cluster.external, endsSeen: agent != nil) }, faults: faults.records,
            endpoints: endpoints, host: usage.host)
        noteRefusals()
        state.security = securityState
        state.controlPlane = ControlPlaneSummary(
            refused: refusals.total, refusedByReason: Dictionary(uniqueKeysWithValues: refusals.counts.map { ($0.key.rawValue, $0.value) }),
            peerDisconnects: control.checkConnections(), maxMessageBytes: control.maxMessageBytes)
        do {
            try directory.writeState(state)
            let report = try ReportBuilder.build(runDirectory: directory.path)
            try ReportWriter.write(report, to: directory.path)
            let exit: RunExit = ending.aborted != nil ? .failed : report.sloPassed ? .slosMet : .sloViolated
            return RunOutcome(exit: exit, summary: ReportWriter.summary(report) + "run directory: \(directory.path)\n",
                              report: report, runDirectory: directory.path)
        } catch {
            Orchestrator.fail("cannot write the report: \(error)")
            return .failed
        }
    }
}
