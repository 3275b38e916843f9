/// Launches nodes as child processes inside the network namespaces of a
/// netns run: ``LocalLauncher`` starting `ip netns exec NS cluster-node …`.
///
/// `ip netns exec` execs in place (no fork), so the pid spawned is the
/// node's own: process groups, `PR_SET_PDEATHSIG`, signal faults and reaping
/// work as under the local launcher. A request without a namespace (a cpu
/// hog) runs in the orchestrator's.
final class NetnsLauncher: Launcher {
    private let local: LocalLauncher
    /// The `ip` executable.
    private let ip: String

    init(local: LocalLauncher = LocalLauncher()) {
        self.local = local
        ip = SystemCommand.locate("ip") ?? "/usr/sbin/ip"
    }

    var ownsProcesses: Bool { true }

    func launch(_ request: LaunchRequest) throws(SpawnError) -> LaunchResult {
        guard let namespace = request.namespace else { return try local.launch(request) }
        var wrapped = request
        wrapped.executable = ip
        wrapped.arguments = ["netns", "exec", namespace, request.executable] + request.arguments
        return try local.launch(wrapped)
    }

    @discardableResult
    func send(_ signal: NodeSignal, to pid: Int32) -> Bool { local.send(signal, to: pid) }

    func reap() -> [ChildExit] { local.reap() }

    func terminateAll(grace: Duration) -> [ChildExit] { local.terminateAll(grace: grace) }
}
