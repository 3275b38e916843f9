import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT as a readable file descriptor (`signalfd`).
///
/// The node's poll loop watches the descriptor beside its sockets, so a
/// shutdown request is handled on the loop's own thread, between two
/// messages, with nothing done in an asynchronous signal handler. The signals
/// are blocked in the calling thread and every thread it starts afterwards:
/// create this first thing in `main`, before any thread exists.
public final class ShutdownSignals: @unchecked Sendable {
    /// The descriptor to poll for readability.
    public let fileDescriptor: Int32

    /// Blocks SIGTERM, SIGINT (and SIGPIPE) and opens a signalfd for the first two.
    public init() {
        fileDescriptor = csim_shutdown_signalfd()
        precondition(fileDescriptor >= 0, "signalfd failed: errno \(errno)")
    }

    deinit { close(fileDescriptor) }

    /// Reads a pending signal, if any.
    /// - Returns: the signal number, or nil when none is pending.
    public func take() -> Int32? {
        let sig = csim_signalfd_read(fileDescriptor)
        return sig == 0 ? nil : sig
    }
}

/// Ties a node's life to its launcher's.
public enum ParentWatch {
    /// Asks the kernel to send SIGTERM to this process when its parent dies
    /// (`prctl(PR_SET_PDEATHSIG)`), and checks the parent is still the
    /// expected one (closing the race where it died before the call).
    /// - Parameter parentPID: the launcher's pid.
    /// - Returns: false when the parent is already gone.
    public static func arm(parentPID: Int32) -> Bool {
        _ = csim_set_parent_death_signal(SIGTERM)
        return getppid() == parentPID
    }

    /// Timer slack of 1 µs, so paced sends and sleeps wake on time (`PR_SET_TIMERSLACK`).
    public static func tightenTimerSlack() {
        _ = csim_set_timer_slack(1000)
    }
}

/// Which CPUs a process runs on.
///
/// A reader pinned to one CPU has libzmq's I/O thread and its own thread
/// there together, so each message's hand-off from the one to the other is
/// a wake-up on the same CPU, with the frame still in that CPU's cache,
/// rather than an interrupt to another CPU (costly in a virtual machine).
/// Measured with a hundred readers on two CPUs: see docs/architecture.md,
/// "Decisions".
public enum CPUAffinity {
    /// The CPUs this process may run on, ascending; empty when the kernel does not say.
    public static func allowed() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let n = csim_allowed_cpus(&cpus, Int32(cpus.count))
        return n > 0 ? cpus.prefix(Int(n)).map(Int.init) : []
    }

    /// Pins the calling thread, and every thread it starts afterwards, to `cpu`.
    /// Call it before the ZeroMQ context is made, so libzmq's threads inherit it.
    /// - Throws: ``CPUAffinityError`` when the CPU is not one this process may use.
    public static func pin(to cpu: Int) throws {
        let allowed = allowed()
        guard mayUse(cpu, allowed: allowed) else {
            throw CPUAffinityError(cpu: cpu, allowed: allowed, errno: EINVAL)
        }
        let rc = csim_pin_cpu(Int32(cpu))
        if rc != 0 { throw CPUAffinityError(cpu: cpu, allowed: allowed, errno: rc) }
    }

    /// Whether `cpu` is one of `allowed` (any CPU when the kernel did not say).
    public static func mayUse(_ cpu: Int, allowed: [Int]) -> Bool {
        cpu >= 0 && (allowed.isEmpty || allowed.contains(cpu))
    }

    /// CPUs as ranges, `0-3,6` (the notation of taskset and /sys).
    public static func describe(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count, cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

/// A CPU a process cannot be pinned to.
public struct CPUAffinityError: Error, CustomStringConvertible {
    public let cpu: Int
    public let allowed: [Int]
    public let errno: Int32
    public var description: String {
        let why = errno == EINVAL ? "not one this process may run on" : String(cString: strerror(errno))
        return "cannot pin to CPU \(cpu): \(why) (allowed: \(allowed.isEmpty ? "unknown" : CPUAffinity.describe(allowed)))"
    }
}

/// Sleeps with nanosecond resolution, retrying EINTR.
@inline(__always)
func sleepNanos(_ ns: UInt64) {
    guard ns > 0 else { return }
    var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var rest = timespec()
    while nanosleep(&ts, &rest) == -1 && errno == EINTR { ts = rest }
}

/// Sleeps until a CLOCK_MONOTONIC deadline.
@inline(__always)
func sleepUntil(monotonicNanos t: UInt64) {
    var ts = timespec(tv_sec: Int(t / 1_000_000_000), tv_nsec: Int(t % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}
