#if canImport(Glibc)
import Glibc
#endif

/// Starts, signals and reaps the processes of a run's nodes.
///
/// The run loop sees one shape whatever runs the nodes: child processes
/// (``LocalLauncher``), child processes inside network namespaces
/// (``NetnsLauncher``), or processes others start that register themselves
/// (``ExternalLauncher``).
protocol Launcher: AnyObject {
    /// Whether the nodes' processes are this orchestrator's children: false
    /// when others start them, so that nothing can signal them (process
    /// faults are skipped), pin them, or read them from /proc (they report
    /// their own CPU and memory in STATS).
    var ownsProcesses: Bool { get }

    /// Starts a node.
    /// - Returns: its pid, or what to tell the user while the node is awaited.
    /// - Throws: `SpawnError` when it cannot be started.
    func launch(_ request: LaunchRequest) throws(SpawnError) -> LaunchResult

    /// Sends `signal` to a node's process.
    /// - Returns: whether it was sent (false: not a live child of this launcher).
    @discardableResult
    func send(_ signal: NodeSignal, to pid: Int32) -> Bool

    /// Collects the children that have ended, without waiting.
    func reap() -> [ChildExit]

    /// Stops every child still running and collects it (see ``LocalLauncher/terminateAll(grace:)``).
    func terminateAll(grace: Duration) -> [ChildExit]

    /// A line for the user before the nodes are started, or nil.
    func launchNote(nodes: Int) -> String?
}

extension Launcher {
    func launchNote(nodes: Int) -> String? { nil }
}

/// What to start for a node.
struct LaunchRequest: Sendable {
    /// The node's name, for errors and the exits reaped later.
    var name: String
    var executable: String
    var arguments: [String]
    /// Where its standard output and error go (appended).
    var logPath: String
    /// The network namespace to run it in (netns launcher); nil: the orchestrator's own.
    var namespace: String?
}

/// What became of a launch.
enum LaunchResult: Sendable, Hashable {
    /// A child process was started.
    case started(pid: Int32)
    /// Someone else starts the node; it counts once it registers. The text tells the user how.
    case awaitingRegistration(String)
}

/// What a fault or the teardown does to a node's process.
enum NodeSignal: Sendable, Hashable {
    /// SIGSTOP.
    case pause
    /// SIGCONT.
    case resume
    /// SIGTERM: the node stops cleanly, with its final dump.
    case terminate
    /// SIGKILL.
    case kill

    var number: Int32 {
        switch self {
        case .pause: SIGSTOP
        case .resume: SIGCONT
        case .terminate: SIGTERM
        case .kill: SIGKILL
        }
    }
}

/// A child that ended.
struct ChildExit: Sendable, Hashable {
    var pid: Int32
    /// The node it ran.
    var name: String
    var status: ExitStatus
}
