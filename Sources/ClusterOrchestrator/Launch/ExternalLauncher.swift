import ClusterCore

/// The nodes are started by others (compose, a script, another host) and
/// register themselves on the control plane; nothing is spawned, signalled
/// or reaped here.
final class ExternalLauncher: Launcher {
    /// Where the nodes are told to connect.
    let controlEndpoint: String

    init(controlEndpoint: String) {
        self.controlEndpoint = controlEndpoint
    }

    var ownsProcesses: Bool { false }

    func launch(_ request: LaunchRequest) throws(SpawnError) -> LaunchResult {
        .awaitingRegistration("nothing received; start it with --name \(request.name) --control \(controlEndpoint)"
                              + Self.securityOptions(request.arguments))
    }

    /// The CURVE options of a node's command line (paths, never keys), for the hint.
    static func securityOptions(_ arguments: [String]) -> String {
        let flags: Set = ["--" + CommonFlag.security, "--" + CommonFlag.curveKey, "--" + CommonFlag.curvePeers,
                          "--" + ReaderConfig.Flag.pubNode]
        var out = ""
        for (i, a) in arguments.enumerated() where flags.contains(a) && i + 1 < arguments.count {
            out += " \(a) \(arguments[i + 1])"
        }
        return out
    }

    @discardableResult
    func send(_ signal: NodeSignal, to pid: Int32) -> Bool { false }

    func reap() -> [ChildExit] { [] }

    func terminateAll(grace: Duration) -> [ChildExit] { [] }

    func launchNote(nodes: Int) -> String? { "waiting for \(nodes) nodes to register at \(controlEndpoint)" }
}
