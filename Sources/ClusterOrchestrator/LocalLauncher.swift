import CSystemShims
import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let c): return "exit \(c)"
        case .signaled(let s): return "signal \(s) (\(Self.signalName(s)))"
        }
    }

    public static func signalName(_ s: Int32) -> String {
        switch s {
        case SIGKILL: return "SIGKILL"
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGSEGV: return "SIGSEGV"
        case SIGABRT: return "SIGABRT"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGBUS: return "SIGBUS"
        default: return "signal \(s)"
        }
    }
}

/// Launches nodes as child processes of the orchestrator.
///
/// Each child gets its own log file, its own process group (so a terminal's
/// Ctrl-C reaches only the orchestrator, which then stops the children in
/// order), default signal dispositions, and `--parent-pid`, with which the
/// node asks the kernel for SIGTERM should the orchestrator die
/// (`PR_SET_PDEATHSIG`): no child outlives the run.
public final class LocalLauncher {
    public struct SpawnError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Live children by pid.
    public private(set) var children: [Int32: String] = [:]

    public init() {}

    /// Starts `executable` with `arguments`, stdout and stderr appended to `logPath`.
    /// - Returns: the child's pid.
    /// - Throws: `SpawnError` naming the executable and the reason.
    public func spawn(executable: String, arguments: [String], logPath: String, name: String,
                      environment: [String: String] = [:]) throws -> Int32 {
        let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SpawnError(description: "cannot open \(logPath): \(String(cString: strerror(errno)))") }
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
            throw SpawnError(description: "cannot start \(executable) for \(name): \(String(cString: strerror(rc)))")
        }
        children[pid] = name
        return pid
    }

    /// Sends a signal to a child.
    @discardableResult
    public func signal(_ pid: Int32, _ sig: Int32) -> Bool {
        guard children[pid] != nil else { return false }
        return kill(pid, sig) == 0
    }

    /// Collects every child that has exited, without waiting.
    public func reap() -> [(pid: Int32, name: String, status: ExitStatus)] {
        var out: [(Int32, String, ExitStatus)] = []
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            guard let name = children.removeValue(forKey: pid) else { continue }
            out.append((pid, name, Self.decode(status)))
        }
        return out
    }

    static func decode(_ status: Int32) -> ExitStatus {
        let sig = status & 0x7F
        if sig == 0 { return .exited((status >> 8) & 0xFF) }
        return .signaled(sig)
    }

    /// Stops every child: SIGCONT (a paused child cannot act on SIGTERM), SIGTERM,
    /// then SIGKILL for those still alive after `grace`.
    /// - Returns: what was reaped.
    public func terminateAll(grace: Duration) -> [(pid: Int32, name: String, status: ExitStatus)] {
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
