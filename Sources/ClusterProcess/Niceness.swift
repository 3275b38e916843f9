import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// A process's scheduling weight: its nice value, -20 (most CPU) … 19 (least).
///
/// A hundred readers on the writer's two CPUs are woken by the writer's own
/// writes; at the default weights each woken reader may take the CPU from the
/// thread that is still writing to the others, so the last readers of every
/// frame wait for the first ones' work. Readers at a higher nice value than
/// the writer model what a cluster has and one machine does not: a fan-out
/// side whose CPU its subscribers do not share. Measured: docs/architecture.md,
/// "Decisions".
public enum Niceness {
    /// The values the kernel takes.
    public static let range: ClosedRange<Int> = -20...19

    /// Sets the nice value of every thread of the process; the threads it
    /// starts afterwards inherit it. Call it before the ZeroMQ context is
    /// made, so libzmq's threads start with it.
    /// - Throws: ``NicenessError`` when the value is out of range, or the
    ///   kernel refuses it (a value below the current one needs CAP_SYS_NICE).
    public static func set(_ nice: Int) throws {
        guard range.contains(nice) else { throw NicenessError(nice: nice, errno: EINVAL) }
        let rc = csim_set_process_nice(Int32(nice))
        if rc != 0 { throw NicenessError(nice: nice, errno: rc) }
    }

    /// The nice value of a thread (a tid; 0: the calling thread); nil when it is gone.
    public static func of(thread tid: Int32 = 0) -> Int? {
        var nice: Int32 = 0
        return csim_thread_nice(tid, &nice) == 0 ? Int(nice) : nil
    }
}

/// The `SCHED_BATCH` scheduling policy: the same share of the CPU as the
/// default, but a thread that wakes up waits for the running one instead of
/// taking its CPU (no wake-up preemption). Any process may choose it.
public enum BatchScheduling {
    /// Puts every thread of the process under `SCHED_BATCH`; the threads it
    /// starts afterwards inherit it. Call it before the ZeroMQ context is made.
    /// - Throws: ``BatchSchedulingError`` when the kernel refuses.
    public static func enable() throws {
        let rc = csim_set_process_batch()
        if rc != 0 { throw BatchSchedulingError(errno: rc) }
    }

    /// Whether a thread (a tid; 0: the calling thread) is under `SCHED_BATCH`; nil when it is gone.
    public static func isEnabled(thread tid: Int32 = 0) -> Bool? {
        let rc = csim_thread_is_batch(tid)
        return rc < 0 ? nil : rc == 1
    }
}

/// The batch scheduling policy, refused.
public struct BatchSchedulingError: Error, CustomStringConvertible {
    public let errno: Int32
    public var description: String { "cannot schedule as SCHED_BATCH: \(String(cString: strerror(errno)))" }
}

/// A nice value a process could not take.
public struct NicenessError: Error, CustomStringConvertible {
    public let nice: Int
    public let errno: Int32
    public var description: String {
        switch errno {
        case EINVAL: "cannot set nice \(nice): expected \(Niceness.range.lowerBound)...\(Niceness.range.upperBound)"
        case EACCES, EPERM:
            "cannot set nice \(nice): \(String(cString: strerror(errno))) (a value below the current one needs root or CAP_SYS_NICE)"
        default: "cannot set nice \(nice): \(String(cString: strerror(errno)))"
        }
    }
}
