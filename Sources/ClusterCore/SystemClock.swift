#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Clocks that every node stamps with.
///
/// Fan-out latency on one host is measured on `CLOCK_MONOTONIC`, which every
/// process on the host shares; across hosts the wall clock is used, corrected
/// by an offset the orchestrator estimates per node.
public enum SystemClock {
    /// Nanoseconds on `CLOCK_MONOTONIC` (`clock_gettime`).
    @inlinable @inline(__always)
    public static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Nanoseconds since 1970 on `CLOCK_REALTIME` (`clock_gettime`).
    @inlinable @inline(__always)
    public static func wallNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
