import CSystemShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Launches nodes as child processes of the orchestrator.
///
/// Each child gets its own log file, its own process group (so a terminal's
/// Ctrl-C reaches only the orchestrator, which then stops the children in
/// order), default signal dispositions, and `--parent-pid`, with which the
/// node asks the kernel for SIGTERM should the orchestrator die
/// (`PR_SET_PDEATHSIG`): no child outlives the run.
///
/// Children are reaped by pid, never with `waitpid(-1)`: the system commands
/// of the netns launcher are children of this process too, and swift-subprocess
/// collects their exit statuses itself.
final class LocalLauncher: Launcher {
    /// Live children by pid.
    private(set) var children: [Int32: String] = [:]

    init() {}

    var ownsProcesses: Bool { true }

    /// Starts the node, creating its log file's directory first.
    func launch(_ request: LaunchRequest) throws(SpawnError) -> LaunchResult {
        try? FileManager.default.createDirectory(atPath: (request.logPath as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        return .started(pid: try spawn(executable: request.executable, arguments: request.arguments, logPath: request.logPath,
                                name: request.name))
    }

    /// Starts `executable` with `arguments`, stdout and stderr appended to `logPath`
    /// (`csim_spawn`: `posix_spawn` with the process group and signal set-up above).
    /// - Returns: the child's pid.
    /// - Throws: `SpawnError` naming the executable and the reason.
    func spawn(executable: String, arguments: [String], logPath: String, name: String,
               environment: [String: String] = [:]) throws(SpawnError) -> Int32 {
        let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw SpawnError(.logFile, errno: e, "cannot open \(logPath): \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = [executable] + arguments
        let envv = env.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(envv) { cenv in
                csim_spawn(executable, cargv, cenv, fd, &pid)
            }
        }
        guard rc == 0 else {
            throw SpawnError(.spawn, errno: rc, "cannot start \(executable) for \(name): \(String(cString: strerror(rc)))")
        }
        children[pid] = name
        return pid
    }

    @discardableResult
    func send(_ signal: NodeSignal, to pid: Int32) -> Bool {
        guard children[pid] != nil else { return false }
        return kill(pid, signal.number) == 0
    }

    /// Collects every child that has exited, without waiting: `waitpid(pid, WNOHANG)`
    /// for each, once `waitid(P_ALL, WNOWAIT)` says some child of this process
    /// has ended (one call per turn of the loop while none has).
    func reap() -> [ChildExit] {
        guard !children.isEmpty, Self.someChildEnded() else { return [] }
        var out: [ChildExit] = []
        for (pid, name) in children {
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { continue }
            out.append(ChildExit(pid: pid, name: name, status: ExitStatus(waitStatus: status)))
        }
        for exit in out { children.removeValue(forKey: exit.pid) }
        return out
    }

    /// Whether any child of this process has ended and is waiting to be
    /// collected; collects none (`WNOWAIT`).
    private static func someChildEnded() -> Bool {
        var info = siginfo_t()
        guard waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return false }
        return info._sifields._sigchld.si_pid != 0
    }

    /// Stops every child: SIGCONT (a paused child cannot act on SIGTERM), SIGTERM,
    /// then SIGKILL for those still alive after `grace`.
    /// - Returns: what was reaped.
    func terminateAll(grace: Duration) -> [ChildExit] {
        var reaped = reap()
        for pid in children.keys {
            kill(pid, SIGCONT)
            kill(pid, SIGTERM)
        }
        let deadline = ContinuousClock.now + grace
        while !children.isEmpty, ContinuousClock.now < deadline {
            reaped += reap()
            if children.isEmpty { break }
            usleep(5_000)
        }
        for pid in children.keys { kill(pid, SIGKILL) }
        let hard = ContinuousClock.now + .seconds(5)
        while !children.isEmpty, ContinuousClock.now < hard {
            reaped += reap()
            usleep(2_000)
        }
        return reaped
    }
}

/// Runs `body` with a NULL-terminated C array of strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
