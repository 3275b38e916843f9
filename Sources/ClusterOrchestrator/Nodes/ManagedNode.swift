import ClusterCore
#if canImport(Glibc)
import Glibc
#endif

/// A node of the run as the orchestrator tracks it: what it runs, where it is
/// in its life, what happened to it, and what it reported.
struct ManagedNode: Sendable {
    let name: String
    let group: String
    let role: NodeRole
    /// How it is run; fixed when the run is planned.
    var plan: NodePlan
    var lifecycle: NodeLifecycle = .pending
    var history = NodeHistory()
    var telemetry = NodeTelemetry()
    /// What it last said, or what became of its launch: the not-ready diagnostics show it.
    var lastSaid = "not launched"
    /// The host name its latest HELLO gave: under Docker its container (an id prefix), which a fault agent acts on.
    var host: String?

    init(name: String, group: String, role: NodeRole, plan: NodePlan) {
        self.name = name
        self.group = group
        self.role = role
        self.plan = plan
    }

    /// Whether it runs: its process is up or, for a node others started, it
    /// registered and has not said BYE.
    var isAlive: Bool {
        switch lifecycle {
        case .pending, .exited: false
        case .launched(let i): i.pid != nil
        case .registered, .ready, .stopping: true
        }
    }
}

/// How a node is run, decided when the run is planned.
struct NodePlan: Sendable {
    /// What it runs (without the control endpoint and parent pid, added at launch).
    var command: NodeCommand
    /// When a late joiner starts, after the measured phase began; nil: at once.
    var startAt: TimeSpan?
    /// The CPU it is pinned to (cpuPinning "spread").
    var cpu: Int?
    /// Netns launcher: the namespace it runs in.
    var host: NetnsNetwork.Host?
    /// A fault is aimed at it (or at its namespace): it is not a fast reader.
    var faulted = false
    /// A fast reader, as the report will count it (``ReportBuilder/isFastReader(_:role:faulted:in:)``).
    var fastReader = false
}

// MARK: - Transitions

extension ManagedNode {
    /// Its process was started.
    mutating func started(pid: Int32) {
        history.pids.append(pid)
        lifecycle = .launched(Incarnation(pid: pid))
        lastSaid = "launched (pid \(pid)), nothing received yet"
    }

    /// A cpu hog was started: it is ready at once, has no final dump to send, and is expected to end.
    mutating func startedHog(pid: Int32) {
        history.pids = [pid]
        history.readyEver = true
        lifecycle = .stopping(Incarnation(pid: pid, finalReceived: true), relaunch: false)
    }

    /// Others start it; it is awaited on the control plane.
    mutating func awaited(_ hint: String) {
        lifecycle = .launched(Incarnation(pid: nil))
        lastSaid = hint
    }

    /// Its launch failed.
    mutating func launchFailed(_ error: SpawnError) {
        lifecycle = .exited(finalReceived: lifecycle.finalReceived)
        lastSaid = "\(error)"
    }

    /// It said HELLO. A node others started counts the pid it gave, and
    /// comes back to life should it register again after its BYE; one that
    /// registers `replacing` a peer whose connection closed without a BYE
    /// starts over as a new incarnation.
    mutating func registered(pid: Int32, external: Bool, replacing: Bool = false, now: UInt64) {
        if external {
            history.pids.append(pid)
            switch lifecycle {
            case .exited:
                // A new process (a container started again): its final dump is still to come.
                lifecycle = .registered(Incarnation(pid: nil))
            case .registered, .ready, .stopping:
                if replacing { lifecycle = .registered(Incarnation(pid: nil)) }
            case .pending, .launched:
                break
            }
        }
        if case .launched(let i) = lifecycle { lifecycle = .registered(i) }
        lastSaid = "HELLO (pid \(pid)); waiting for READY (a reader is ready once a writer heartbeat reached it)"
        telemetry.clock.restart(now: now)
    }

    /// It said READY.
    mutating func becameReady() {
        history.readyEver = true
        lastSaid = "READY"
        switch lifecycle {
        case .launched(let i), .registered(let i): lifecycle = .ready(i, startSent: false)
        case .pending, .ready, .stopping, .exited: break
        }
    }

    /// START went to it.
    mutating func startSent() {
        if case .ready(let i, _) = lifecycle { lifecycle = .ready(i, startSent: true) }
    }

    /// Its final dump arrived (possibly after its process was reaped).
    mutating func receivedFinal(_ message: Clustersim_V1_FinalMetrics) {
        telemetry.final = FinalDump(message: message, metrics: try? NodeMetrics.decode(json: message.metricsJson))
        if role == .writer, let m = telemetry.final?.metrics { telemetry.published(m[.published], inEpoch: m.epoch) }
        switch lifecycle {
        case .exited: lifecycle = .exited(finalReceived: true)
        case .launched: break   // the dump of the process before the one just started, which has not sent its own
        default: lifecycle.updateIncarnation { $0.finalReceived = true }
        }
    }

    /// It said BYE: for a node others started, its end.
    mutating func saidBye(external: Bool) {
        guard external else { return }
        lifecycle = .exited(finalReceived: lifecycle.finalReceived)
    }

    /// Its process is to end: STOP went to it, or a fault signals it. With
    /// `relaunch` it is started again once it has ended; a pending relaunch stays.
    mutating func expectExit(relaunch: Bool = false) {
        switch lifecycle {
        case .launched(let i), .registered(let i), .ready(let i, _): lifecycle = .stopping(i, relaunch: relaunch)
        case .stopping(let i, let pending): lifecycle = .stopping(i, relaunch: pending || relaunch)
        case .pending, .exited: break
        }
    }

    /// Marks the running process paused or resumed.
    mutating func setPaused(_ paused: Bool) {
        lifecycle.updateIncarnation { $0.paused = paused }
    }

    /// Whether the running process is paused.
    var isPaused: Bool { lifecycle.incarnation?.paused ?? false }

    /// A process of it ended (`pid` nil: the one running, seen from outside, as a container's end).
    /// - Returns: whether the end was expected, and whether the node is to be started again (a restart).
    mutating func ended(pid: Int32?, status: ExitStatus) -> (expected: Bool, relaunch: Bool) {
        let expected = lifecycle.exitExpected || (status == .exited(0) && lifecycle.finalReceived)
        history.exits.append(NodeExit(status: status, expected: expected))
        var relaunch = false
        if case .stopping(_, true) = lifecycle {
            relaunch = true
            history.restarts += 1
        }
        if lifecycle.pid == pid {
            lifecycle = .exited(finalReceived: lifecycle.finalReceived)
        } else if case .stopping(let i, true) = lifecycle {
            lifecycle = .stopping(i, relaunch: false)   // an earlier process's end still takes the restart
        }
        return (expected, relaunch)
    }
}

// MARK: - Status

extension ManagedNode {
    /// How it ended, in words: its last exit, or why it could not be launched.
    var endedHow: String {
        if let last = history.exits.last { return "\(last.status)" }
        return lastSaid
    }
}

extension ManagedNode {
    /// What became of it, for the report: from its lifecycle and its history.
    /// - Parameters:
    ///   - external: others started it (external launcher), so only what it said is known.
    ///   - endsSeen: others started it, but a fault agent reported the ends it caused (containers).
    func status(external: Bool, endsSeen: Bool = false) -> NodeStatus {
        if case .pending = lifecycle { return .neverStarted }
        if history.crashed { return .crashed }
        let final = lifecycle.finalReceived
        if external && !(endsSeen && !history.exits.isEmpty) {
            return !history.readyEver ? .neverReady : final ? .completed : .noFinalDump
        }
        if history.pids.isEmpty { return .neverStarted }
        if !history.readyEver && role != .cpuHog { return .neverReady }
        if let last = history.exits.last, !final {
            switch last.status {
            case .signaled(SIGKILL): return .killed
            case .signaled(SIGTERM): return .terminated
            default: return .exited
            }
        }
        return .completed
    }

    /// The node as run-state.json records it.
    func observed(external: Bool, endsSeen: Bool = false) -> ObservedNode {
        ObservedNode(name: name, group: group, role: role, status: status(external: external, endsSeen: endsSeen),
                     exit: history.exits.last.map { "\($0.status)" }, restarts: history.restarts, pids: history.pids,
                     faulted: plan.faulted, hasFinal: lifecycle.finalReceived, resources: telemetry.resources.summary(),
                     clock: ClockOffset.estimate(telemetry.clock.samples),
                     publishedByEpoch: telemetry.publishedByEpoch.isEmpty ? nil
                         : telemetry.publishedByEpoch.sorted { $0.key < $1.key }.map { EpochCount(epoch: $0.key, published: $0.value) })
    }
}
