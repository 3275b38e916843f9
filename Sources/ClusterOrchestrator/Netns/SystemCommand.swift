import Foundation
import Subprocess
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs system tools (`ip`, `iptables`, `tc`, `docker`) with a bounded wait.
///
/// A command runs through swift-subprocess, in a process group of its own (a
/// terminal's Ctrl-C reaches only the orchestrator), with default signal
/// dispositions, standard input from /dev/null and standard error into
/// standard output. The orchestrator's loop is synchronous: `run` starts the
/// command in a task on ``SystemCommandThread`` and waits on a semaphore for
/// at most `timeout`; past it the task is cancelled, which kills the command.
/// Subprocess reaps its children through their pidfds and the launchers
/// reap theirs by pid, so neither collects the other's exit status.
public enum SystemCommand {
    /// What a command did.
    struct Outcome: Sendable {
        /// How it ended; nil when it could not be started or was killed at its deadline.
        var status: ExitStatus?
        /// Its standard output and error, together.
        var output: String
        /// Why it failed; nil when it exited 0.
        var failure: SystemCommandError?

        var ok: Bool { failure == nil }
    }

    /// Directories searched for the tools (root's PATH may lack the sbin ones; docker may live in /usr/local/bin).
    public static let searchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/bin"]

    /// The full path of `tool`, or nil when it is not installed.
    public static func locate(_ tool: String) -> String? {
        searchPath.map { $0 + "/" + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `argv` (argv[0] a tool name or a path) and waits at most `timeout`.
    /// - Parameter environment: added to the minimal one commands get (PATH and LC_ALL).
    static func run(_ argv: [String], timeout: Duration = .seconds(5), environment: [String: String] = [:]) -> Outcome {
        runAll([argv], timeout: timeout, environment: environment)[0]
    }

    /// Runs the commands side by side and waits at most `timeout` for all of them.
    /// - Returns: one outcome per command, in their order.
    static func runAll(_ argvs: [[String]], timeout: Duration = .seconds(5), environment: [String: String] = [:]) -> [Outcome] {
        var outcomes = [Outcome?](repeating: nil, count: argvs.count)
        var jobs: [(index: Int, path: String, arguments: [String], command: RunningCommand)] = []
        for (index, argv) in argvs.enumerated() {
            guard let tool = argv.first, let path = tool.hasPrefix("/") ? tool : locate(tool) else {
                let message = "\(argv.first ?? "?"): not found in \(searchPath.joined(separator: ":"))"
                outcomes[index] = Outcome(status: nil, output: message, failure: SystemCommandError(.notFound, message))
                continue
            }
            jobs.append((index, path, Array(argv.dropFirst()), RunningCommand()))
        }
        let started = jobs
        let finished = DispatchSemaphore(value: 0)
        let task = Task(executorPreference: SystemCommandThread.shared) {
            await withTaskGroup(of: Void.self) { group in
                for job in started {
                    group.addTask { await job.command.execute(path: job.path, arguments: job.arguments, environment: environment) }
                }
            }
            finished.signal()
        }
        let wait = DispatchTimeInterval.nanoseconds(Int(timeout.components.seconds) * 1_000_000_000
                                                      + Int(timeout.components.attoseconds / 1_000_000_000))
        let timedOut = finished.wait(timeout: .now() + wait) != .success
        let endedInTime = jobs.map { !timedOut || $0.command.ended }
        if timedOut {
            // Cancelling the task tears the commands still running down (SIGKILL); wait for that too, bounded.
            task.cancel()
            _ = finished.wait(timeout: .now() + wait)
        }
        for (job, ended) in zip(jobs, endedInTime) {
            let argv = argvs[job.index]
            if !ended {
                let output = "\(argv.joined(separator: " ")): no answer within \(timeout); killed. \(job.command.output)"
                outcomes[job.index] = Outcome(status: nil, output: output, failure: SystemCommandError(.timedOut, Self.reason(output, status: nil)))
            } else {
                outcomes[job.index] = job.command.outcome(path: job.path)
            }
        }
        return outcomes.map { $0! }
    }

    /// What a failure is reported as: the command's output, or what became of it.
    static func reason(_ output: String, status: ExitStatus?) -> String {
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? status.map { "\($0)" } ?? "did not finish" : text
    }
}

/// Why a system command failed.
public struct SystemCommandError: CodedError, Hashable {
    public typealias Code = ErrorCode<SystemCommandError>
    public let code: Code
    /// What the command said (its output), or what became of it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        (self.code, self.message) = (code, message)
    }
}

extension ErrorCode<SystemCommandError> {
    /// The tool is not installed in ``SystemCommand/searchPath``.
    public static let notFound = Self("not-found")
    /// It could not be started.
    public static let cannotStart = Self("cannot-start")
    /// It did not end within its timeout and was killed.
    public static let timedOut = Self("timed-out")
    /// It ended with a non-zero status or by a signal.
    public static let failed = Self("failed")
}

/// One command's run: its output as it comes, then how it ended. Written by
/// the command's task, read by the waiting caller.
private final class RunningCommand: Sendable {
    private struct State {
        var output: [UInt8] = []
        var status: ExitStatus?
        var startError: String?
    }

    private let state = Mutex(State())

    /// Everything it printed so far.
    var output: String { state.withLock { String(decoding: $0.output, as: UTF8.self) } }

    /// Whether it ended on its own (or could not be started).
    var ended: Bool { state.withLock { $0.status != nil || $0.startError != nil } }

    /// Runs the command to its end, keeping its output as it comes (so a timeout can still show it).
    func execute(path: String, arguments: [String], environment: [String: String]) async {
        var options = PlatformOptions()
        options.processGroupID = 0
        do {
            let result = try await Subprocess.run(
                .path(.init(path)), arguments: Arguments(arguments),
                environment: .custom(["PATH": SystemCommand.searchPath.joined(separator: ":"), "LC_ALL": "C"]
                    .merging(environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) }) { $1 }),
                platformOptions: options, input: .none, output: .sequence, error: .combinedWithOutput
            ) { execution in
                for try await buffer in execution.standardOutput {
                    buffer.withUnsafeBytes { bytes in state.withLock { $0.output.append(contentsOf: bytes) } }
                }
            }
            let status: ExitStatus = switch result.terminationStatus {
            case .exited(let code): .exited(code)
            case .signaled(let signal): .signaled(signal)
            }
            state.withLock { $0.status = status }
        } catch {
            let reason = (error as? SubprocessError)?.underlyingError.map { String(cString: strerror($0.rawValue)) } ?? "\(error)"
            state.withLock { $0.startError = reason }
        }
    }

    /// The outcome once the task has finished.
    func outcome(path: String) -> SystemCommand.Outcome {
        state.withLock { s in
            let output = String(decoding: s.output, as: UTF8.self)
            guard let status = s.status else {
                let message = "cannot start \(path): \(s.startError ?? "unknown error")"
                return .init(status: nil, output: message, failure: SystemCommandError(.cannotStart, message))
            }
            let failure = status == .exited(0) ? nil : SystemCommandError(.failed, SystemCommand.reason(output, status: status))
            return .init(status: status, output: output, failure: failure)
        }
    }
}
