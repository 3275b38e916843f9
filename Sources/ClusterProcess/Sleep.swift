#if canImport(Glibc)
import Glibc
#endif

/// Sleeps with nanosecond resolution, retrying EINTR.
@inlinable @inline(__always)
public func sleepNanos(_ ns: UInt64) {
    guard ns > 0 else { return }
    var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var rest = timespec()
    while nanosleep(&ts, &rest) == -1 && errno == EINTR { ts = rest }
}

/// Sleeps until a CLOCK_MONOTONIC deadline.
@inlinable @inline(__always)
public func sleepUntil(monotonicNanos t: UInt64) {
    var ts = timespec(tv_sec: Int(t / 1_000_000_000), tv_nsec: Int(t % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}
