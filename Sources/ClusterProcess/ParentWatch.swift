import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

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
