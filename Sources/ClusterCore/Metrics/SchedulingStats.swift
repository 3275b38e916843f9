import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How the kernel has scheduled a process so far, over all its threads:
/// CPU time, time spent waiting on a run queue (ready to run, no CPU free),
/// and involuntary context switches (preempted while it could still run).
///
/// Read from `/proc/<pid>/task/<tid>/schedstat` (on-CPU ns, run-queue wait
/// ns, timeslices) and each thread's `status` (`nonvoluntary_ctxt_switches`).
/// A reader on a machine with more runnable threads than CPUs waits on the
/// run queue before it can take a message: the part of its latency the
/// design does not cause.
public struct SchedulingStats: Sendable, Hashable {
    public var cpuNanos: UInt64
    public var runQueueNanos: UInt64
    public var involuntarySwitches: UInt64

    public init(cpuNanos: UInt64, runQueueNanos: UInt64, involuntarySwitches: UInt64) {
        self.cpuNanos = cpuNanos
        self.runQueueNanos = runQueueNanos
        self.involuntarySwitches = involuntarySwitches
    }

    /// The process's figures now, summed over its threads; nil when /proc cannot say
    /// (no schedstat: a kernel without CONFIG_SCHEDSTATS, or the process is gone).
    public static func read(pid: Int32 = getpid()) -> SchedulingStats? {
        let dir = "/proc/\(pid)/task"
        guard let tids = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        var out = SchedulingStats(cpuNanos: 0, runQueueNanos: 0, involuntarySwitches: 0)
        var any = false
        for tid in tids {
            guard let sched = ProcessStats.readSmallFile("\(dir)/\(tid)/schedstat") else { continue }
            let fields = sched.split(separator: UInt8(ascii: " ")).prefix(2).compactMap { UInt64(String(decoding: $0, as: UTF8.self)) }
            guard fields.count == 2 else { continue }
            any = true
            out.cpuNanos &+= fields[0]
            out.runQueueNanos &+= fields[1]
            if let status = ProcessStats.readSmallFile("\(dir)/\(tid)/status") {
                out.involuntarySwitches &+= Self.field("nonvoluntary_ctxt_switches:", in: status)
            }
        }
        return any ? out : nil
    }

    /// What happened between `earlier` and these figures (zero where a
    /// thread ended in between made a count go down).
    public func delta(since earlier: SchedulingStats) -> SchedulingDelta {
        SchedulingDelta(cpuNanos: cpuNanos > earlier.cpuNanos ? cpuNanos - earlier.cpuNanos : 0,
                        runQueueNanos: runQueueNanos > earlier.runQueueNanos ? runQueueNanos - earlier.runQueueNanos : 0,
                        involuntarySwitches: involuntarySwitches > earlier.involuntarySwitches
                            ? involuntarySwitches - earlier.involuntarySwitches : 0)
    }

    /// The number after `key` in a /proc status text, 0 when absent.
    static func field(_ key: String, in text: [UInt8]) -> UInt64 {
        let k = Array(key.utf8)
        guard let start = text.firstRange(of: k)?.upperBound else { return 0 }
        var value: UInt64 = 0
        var i = start
        while i < text.count, text[i] == 0x20 || text[i] == 0x09 { i += 1 }
        while i < text.count, text[i] >= 0x30, text[i] <= 0x39 {
            value = value &* 10 &+ UInt64(text[i] - 0x30)
            i += 1
        }
        return value
    }
}

/// Scheduling over an interval (``SchedulingStats/delta(since:)``).
public struct SchedulingDelta: Sendable, Hashable {
    public var cpuNanos: UInt64
    public var runQueueNanos: UInt64
    public var involuntarySwitches: UInt64

    public init(cpuNanos: UInt64, runQueueNanos: UInt64, involuntarySwitches: UInt64) {
        self.cpuNanos = cpuNanos
        self.runQueueNanos = runQueueNanos
        self.involuntarySwitches = involuntarySwitches
    }
}
