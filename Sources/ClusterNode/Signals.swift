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
