import ClusterCore
#if canImport(Glibc)
import Glibc
#endif

/// The nodes of a run and what runs them: the node table, the launcher, and
/// the run directory their logs and events go to. Launching a node and
/// taking note of a process's end happen here, whichever part asks (the
/// loop, a late join, a restart fault).
final class Cluster {
    var nodes: NodeTable
    let launcher: any Launcher
    let directory: RunDirectory
    let progress: ProgressLine
    /// The `cluster-node` executable.
    let nodeBinary: String
    /// The control plane's endpoint, given to every node.
    let controlEndpoint: String

    init(nodes: NodeTable, launcher: any Launcher, directory: RunDirectory, progress: ProgressLine, nodeBinary: String,
         controlEndpoint: String) {
        self.nodes = nodes
        self.launcher = launcher
        self.directory = directory
        self.progress = progress
        self.nodeBinary = nodeBinary
        self.controlEndpoint = controlEndpoint
    }

    /// Nodes are started by others and register themselves (external launcher).
    var external: Bool { !launcher.ownsProcesses }

    /// Starts a node (again), logging `launched` or `launch-failed`.
    func launch(_ name: String) {
        guard let node = nodes[name] else { return }
        let command = node.plan.command.attached(control: controlEndpoint, parentPID: getpid())
        let request = LaunchRequest(name: name, executable: nodeBinary, arguments: command.arguments,
                                    logPath: directory.logPath(name), namespace: node.plan.host?.namespace)
        do {
            switch try launcher.launch(request) {
            case .started(let pid):
                nodes.modify(name) { $0.started(pid: pid) }
                var detail = ["pid": "\(pid)"]
                if let cpu = node.plan.cpu { detail["cpu"] = "\(cpu)" }
                directory.events.log("launched", node: name, detail: detail)
            case .awaitingRegistration(let hint):
                nodes.modify(name) { $0.awaited(hint) }
            }
        } catch {
            nodes.modify(name) { $0.launchFailed(error) }
            directory.events.log("launch-failed", node: name, detail: ["error": "\(error)"])
            progress.note("\(name): \(error)")
        }
    }

    /// Takes note of a process's end: `exited` or `crashed`, and a restart's relaunch.
    func ended(_ exit: ChildExit) {
        guard let (expected, relaunch) = nodes.modify(exit.name, { $0.ended(pid: exit.pid, status: exit.status) }) else { return }
        if expected {
            directory.events.log("exited", node: exit.name, detail: ["status": "\(exit.status)"])
        } else {
            directory.events.log("crashed", node: exit.name, detail: ["status": "\(exit.status)"])
            progress.note("\(exit.name) exited unexpectedly: \(exit.status)")
        }
        if relaunch { launch(exit.name) }
    }

    /// Takes note of the end of a node's process seen from outside (a fault
    /// agent killed its container), as ``ended(_:)`` does for a reaped child.
    func endedOutside(_ name: String, status: ExitStatus) {
        guard let (expected, _) = nodes.modify(name, { $0.ended(pid: nil, status: status) }) else { return }
        directory.events.log(expected ? "exited" : "crashed", node: name, detail: ["status": "\(status)"])
    }

    /// Collects the processes that ended, without waiting.
    func reap() {
        for exit in launcher.reap() { ended(exit) }
    }

    /// Stops every process still running (SIGCONT, SIGTERM, SIGKILL after a second) and collects them.
    func terminateAll() {
        for exit in launcher.terminateAll(grace: .seconds(1)) { ended(exit) }
    }

    /// Resumes a paused node (SIGCONT).
    func resume(_ name: String) {
        if let pid = nodes[name]?.lifecycle.pid { launcher.send(.resume, to: pid) }
        nodes.modify(name) { $0.setPaused(false) }
    }

    /// Resumes every paused node: a paused process cannot act on STOP or SIGTERM.
    func resumeAll() {
        for node in nodes.nodes where node.isPaused { resume(node.name) }
    }
}
