import CSystemShims
import ClusterCore
import ClusterProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run a sweep asks for.
public struct SweepRunRequest: Sendable {
    /// The point's topology file (already written).
    public var topologyFile: String
    /// The point's topology, validated.
    public var topology: Topology
    /// The directory the run's directory is created in.
    public var runParent: String
    /// 1-based.
    public var point: Int
    public var repeatIndex: Int
}

/// What became of one run, as the runner saw it.
public struct SweepRunResult: Sendable {
    /// The run directory the run created, if any.
    public var runDirectory: String?
    public var exitStatus: Int32?
    public var outcome: SweepRunOutcome
    public var report: RunReport?
    public var detail: String?

    public init(runDirectory: String?, exitStatus: Int32?, outcome: SweepRunOutcome, report: RunReport?, detail: String?) {
        self.runDirectory = runDirectory
        self.exitStatus = exitStatus
        self.outcome = outcome
        self.report = report
        self.detail = detail
    }
}

/// Runs one point of a sweep. The sweep calls it from one thread, one run at a time.
///
/// ``ChildRunRunner`` runs `orchestrator run` as a child process; tests
/// inject a function of the topology instead.
public protocol SweepRunner: AnyObject {
    /// Runs one repeat of one point, calling `tick` about once a second while it runs.
    func run(_ request: SweepRunRequest, tick: () -> Void) -> SweepRunResult
    /// Set once a stop was asked for (Ctrl-C, SIGTERM): no further run should start.
    var stopRequested: String? { get }
}

/// Runs each point as `orchestrator run TOPOLOGY --out DIR --quiet` of the
/// same executable, a child in its own process group.
///
/// A terminal's Ctrl-C reaches only the sweep, which forwards SIGINT to the
/// run and waits for it: the run stops its nodes and writes its partial
/// report as it does when run by hand. The child is started with
/// `--parent-pid`, so the kernel sends it SIGTERM should the sweep die
/// (`PR_SET_PDEATHSIG`): no run outlives the sweep.
public final class ChildRunRunner: SweepRunner {
    let orchestrator: String
    let nodeBinary: String?
    let signals: ShutdownSignals
    private var stop: String?

    /// Why the sweep should stop; a pending SIGINT or SIGTERM is taken here too.
    public var stopRequested: String? {
        if stop == nil, let sig = signals.take() { stop = "interrupted by \(ExitStatus.signalName(sig))" }
        return stop
    }

    /// How long a run may take beyond its topology's own times before it is stopped.
    static let overrun: Double = 120
    /// How long an interrupted run has to stop before it gets SIGTERM, then SIGKILL.
    static let interruptGrace: Double = 30

    /// - Parameters:
    ///   - orchestrator: this executable.
    ///   - nodeBinary: passed on as `--node-binary`.
    ///   - signals: SIGINT and SIGTERM of the sweep, created first thing in `main`.
    public init(orchestrator: String, nodeBinary: String?, signals: ShutdownSignals) {
        self.orchestrator = orchestrator
        self.nodeBinary = nodeBinary
        self.signals = signals
    }

    /// This process's executable (`/proc/self/exe`), or `fallback`.
    public static func currentExecutable(fallback: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return fallback }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func run(_ request: SweepRunRequest, tick: () -> Void) -> SweepRunResult {
        if let why = stopRequested { return SweepRunResult(runDirectory: nil, exitStatus: nil, outcome: .interrupted, report: nil, detail: why) }
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: request.runParent, withIntermediateDirectories: true)
        } catch {
            return SweepRunResult(runDirectory: nil, exitStatus: nil, outcome: .failed, report: nil,
                                  detail: "cannot create \(request.runParent): \(error.localizedDescription)")
        }
        let log = request.runParent + "/run.log"
        var args = ["run", request.topologyFile, "--out", request.runParent, "--quiet", "--parent-pid", String(getpid())]
        if let nodeBinary { args += ["--node-binary", nodeBinary] }
        let pid: Int32
        do {
            pid = try Self.spawn(orchestrator, args, log: log)
        } catch {
            return SweepRunResult(runDirectory: nil, exitStatus: nil, outcome: .failed, report: nil, detail: "\(error)")
        }
        let t = request.topology
        let budget = t.readyTimeout.seconds + t.warmup.seconds + t.duration.seconds + Self.overrun
        let (status, overran) = wait(pid, budget: budget, tick: tick)

        let dirs = ((try? fm.contentsOfDirectory(atPath: request.runParent)) ?? [])
            .filter { var d: ObjCBool = false; return fm.fileExists(atPath: request.runParent + "/" + $0, isDirectory: &d) && d.boolValue }
            .sorted()
        let runDir = dirs.last.map { request.runParent + "/" + $0 }
        let report = runDir.flatMap { try? RunReport.load(path: $0 + "/report.json") }
        let code: Int32? = if case .exited(let c) = status { c } else { nil }
        var outcome: SweepRunOutcome
        switch code {
        case 0?: outcome = report == nil ? .failed : .passed
        case 1?: outcome = report == nil ? .failed : .sloViolated
        default: outcome = .failed
        }
        var detail: String?
        if stop != nil, outcome == .failed || report?.aborted != nil {
            outcome = .interrupted
            detail = stop
        } else if overran {
            outcome = .failed
            detail = "stopped: still running \(Int(Self.overrun)) s after its topology's ready timeout, warm-up and duration"
        } else if outcome == .failed {
            detail = report?.aborted ?? Self.lastLines(of: log) ?? "\(status)"
        }
        return SweepRunResult(runDirectory: runDir, exitStatus: code, outcome: outcome, report: report, detail: detail)
    }

    /// Waits for the child, forwarding a stop request to it and stopping it if it overruns.
    private func wait(_ pid: Int32, budget: Double, tick: () -> Void) -> (ExitStatus, overran: Bool) {
        let start = SystemClock.monotonicNanos()
        func elapsed() -> Double { Double(SystemClock.monotonicNanos() - start) / 1e9 }
        var escalation: (at: Double, step: Int)?
        var lastTick = 0.0
        var overran = false
        while true {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (ExitStatus(waitStatus: status), overran) }
            if r < 0, errno != EINTR { return (.exited(2), overran) }
            var pfd = pollfd(fd: signals.fileDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 100)
            if let sig = signals.take() {
                if stop == nil {
                    stop = "interrupted by \(ExitStatus.signalName(sig))"
                    kill(pid, SIGINT)
                    escalation = (elapsed() + Self.interruptGrace, 0)
                } else if let e = escalation, e.step == 0 {
                    // A second Ctrl-C: do not wait for the run's own teardown.
                    kill(pid, SIGTERM)
                    escalation = (elapsed() + 5, 1)
                }
            }
            if escalation == nil, elapsed() > budget {
                overran = true
                kill(pid, SIGINT)
                escalation = (elapsed() + Self.interruptGrace, 0)
            }
            if let e = escalation, elapsed() > e.at {
                if e.step == 0 {
                    kill(pid, SIGTERM)
                    escalation = (elapsed() + 5, 1)
                } else {
                    kill(pid, SIGKILL)
                    escalation = (elapsed() + 3_600, 2)
                }
            }
            if elapsed() - lastTick >= 1 {
                lastTick = elapsed()
                tick()
            }
        }
    }

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `executable` in its own process group, stdout and stderr to `log`.
    static func spawn(_ executable: String, _ arguments: [String], log: String) throws -> Int32 {
        let fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SpawnError(description: "cannot open \(log): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings([executable] + arguments) { argv in
            withCStrings(env) { envp in csim_spawn(executable, argv, envp, fd, &pid) }
        }
        guard rc == 0 else { throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// The last few lines of a run's log, for a failed run's detail.
    static func lastLines(of path: String, count: Int = 3) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !lines.isEmpty else { return nil }
        return lines.suffix(count).joined(separator: " / ")
    }
}
