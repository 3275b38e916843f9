import ClusterCore
import ClusterProcess
#if canImport(Glibc)
import Glibc
#endif

/// Applies the faults that act on a node's process: kill, terminate, pause,
/// resume, restart, a cpu hog beside the nodes, and a relay's delay (over the
/// control plane, so it works under every launcher).
///
/// Under a launcher that does not own the processes, all but `delay` are
/// skipped: nothing here can signal a process others started.
struct ProcessFaults: Sendable {
    /// Cpu hogs started so far (they are named `cpu-hog-<n>`).
    private var hogs = 0

    /// Applies `f` to one target, `now` nanoseconds into the measured phase.
    mutating func apply(_ f: PlannedFault, to target: String, now: UInt64, cluster: Cluster, control: ControlPlane) -> FaultResult {
        if !cluster.launcher.ownsProcesses && f.action != .delay {
            return FaultResult(target, .skipped, "process faults need the local launcher")
        }
        let pid = cluster.nodes[target]?.lifecycle.pid
        switch f.action {
        case .kill, .terminate:
            guard let pid else { return FaultResult(target, .skipped, "not running") }
            cluster.nodes.modify(target) { $0.expectExit() }
            if cluster.nodes[target]?.isPaused == true { cluster.resume(target) }
            cluster.launcher.send(f.action == .kill ? .kill : .terminate, to: pid)
            return FaultResult(target, .applied, "pid \(pid)")
        case .pause:
            guard let pid else { return FaultResult(target, .skipped, "not running") }
            cluster.launcher.send(.pause, to: pid)
            cluster.nodes.modify(target) { $0.setPaused(true) }
            let resume = f.duration.map {
                PlannedFault(atNanos: now + $0, action: .resume, targets: [target], duration: nil, detail: "end of pause", source: f.source)
            }
            return FaultResult(target, .applied, f.detail, followUp: resume)
        case .resume:
            guard cluster.nodes[target]?.isPaused == true else { return FaultResult(target, .skipped, "not paused") }
            cluster.resume(target)
            return FaultResult(target, .applied, f.detail)
        case .restart:
            return restart(f, target, cluster: cluster)
        case .cpuHog:
            return startHog(f, for: target, cluster: cluster)
        case .delay:
            // Over the control plane: the relay adds the delay and ends it on its own clock.
            guard cluster.nodes[target]?.isAlive == true, control.isKnown(target), let added = f.spec?.delay?.nanoseconds else {
                return FaultResult(target, .skipped, "not running")
            }
            control.addDelay(target, delayNs: added, forNs: f.duration ?? 0)
            return FaultResult(target, .applied, f.detail)
        case .partition, .loss, .bandwidth:
            preconditionFailure("network faults are applied by NetworkFaults")
        }
    }

    /// A running node is terminated and started again once it has ended; one that is not running is started now.
    private func restart(_ f: PlannedFault, _ target: String, cluster: Cluster) -> FaultResult {
        guard let node = cluster.nodes[target] else { return FaultResult(target, .applied, f.detail) }
        guard let pid = node.lifecycle.pid else {
            cluster.nodes.modify(target) { $0.history.restarts += 1 }
            cluster.launch(target)
            return FaultResult(target, .applied, "relaunched")
        }
        cluster.nodes.modify(target) { $0.expectExit(relaunch: true) }
        if node.isPaused { cluster.resume(target) }
        cluster.launcher.send(.terminate, to: pid)
        return FaultResult(target, .applied, "terminating pid \(pid), then relaunching")
    }

    /// Starts a cpu hog for the fault's duration (default 1 s), in the
    /// orchestrator's own namespace; it is a node of the run, without a control connection.
    /// Its threads (the fault's `threads`, default 1) spin on the CPUs the target
    /// may run on: a pinned reader's CPU is the one made busy.
    private mutating func startHog(_ f: PlannedFault, for target: String, cluster: Cluster) -> FaultResult {
        hogs += 1
        let name = "cpu-hog-\(hogs)"
        let cpus = cluster.nodes[target]?.lifecycle.pid.map { CPUAffinity.allowed(pid: $0) } ?? []
        let threads = f.spec?.threads ?? 1
        let command = NodeCommand.cpuHog(CPUHogConfig(forNanos: f.duration ?? 1_000_000_000, threads: threads, cpus: cpus))
        cluster.nodes.append(ManagedNode(name: name, group: NodeRole.cpuHog.name, role: .cpuHog, plan: NodePlan(command: command)))
        do {
            try cluster.directory.makeNodeDirectory(name)
            let request = LaunchRequest(name: name, executable: cluster.nodeBinary,
                                        arguments: command.attached(control: nil, parentPID: getpid()).arguments,
                                        logPath: cluster.directory.logPath(name), namespace: nil)
            guard case .started(let pid) = try cluster.launcher.launch(request) else {
                return FaultResult(target, .failed, "the launcher starts no processes")
            }
            cluster.nodes.modify(name) { $0.startedHog(pid: pid) }
            let on = cpus.isEmpty ? "" : " on CPU \(CPUAffinity.describe(cpus))"
            return FaultResult(target, .applied, [f.detail, "\(threads) thread\(threads == 1 ? "" : "s")\(on)"]
                .filter { !$0.isEmpty }.joined(separator: ", "))
        } catch {
            return FaultResult(target, .failed, "\(error)")
        }
    }
}
