import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU time and memory of a process, read from /proc.
///
/// RSS counts shared pages (the Swift runtime, libzmq) in every process that
/// maps them; USS (private pages) and PSS (proportional share) say what one
/// more reader really costs, so all three are reported.
public struct ProcessStats: Sendable, Hashable, Codable {
    public var pid: Int32
    /// User + system CPU seconds since the process started.
    public var cpuSeconds: Double
    public var rssBytes: UInt64
    /// Private memory (Private_Clean + Private_Dirty of smaps_rollup); 0 when unreadable.
    public var ussBytes: UInt64
    /// Proportional set size; 0 when unreadable.
    public var pssBytes: UInt64
    public var threads: Int

    public init(pid: Int32, cpuSeconds: Double, rssBytes: UInt64, ussBytes: UInt64, pssBytes: UInt64, threads: Int) {
        self.pid = pid
        self.cpuSeconds = cpuSeconds
        self.rssBytes = rssBytes
        self.ussBytes = ussBytes
        self.pssBytes = pssBytes
        self.threads = threads
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    /// Reads the stats of `pid` (default: this process).
    /// - Parameter withSmaps: also read USS/PSS from smaps_rollup (costs more: the kernel walks the page tables).
    /// - Returns: nil when the process is gone or /proc is unreadable.
    public static func read(pid: Int32 = getpid(), withSmaps: Bool = true) -> ProcessStats? {
        guard let stat = readSmallFile("/proc/\(pid)/stat") else { return nil }
        // Fields after the command name, which is in parentheses and may contain spaces.
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let rest = stat[(close + 2)...].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        // rest[0] is field 3 (state); utime is field 14, stime 15, num_threads 20, rss 24.
        guard rest.count > 21,
              let utime = UInt64(String(decoding: rest[11], as: UTF8.self)),
              let stime = UInt64(String(decoding: rest[12], as: UTF8.self)),
              let threads = Int(String(decoding: rest[17], as: UTF8.self)),
              let rssPages = UInt64(String(decoding: rest[21], as: UTF8.self))
        else { return nil }
        var uss: UInt64 = 0, pss: UInt64 = 0
        if withSmaps, let smaps = readSmallFile("/proc/\(pid)/smaps_rollup") {
            for line in smaps.split(separator: UInt8(ascii: "\n")) {
                let s = String(decoding: line, as: UTF8.self)
                if s.hasPrefix("Pss:") { pss = kib(s) }
                else if s.hasPrefix("Private_Clean:") || s.hasPrefix("Private_Dirty:") { uss += kib(s) }
            }
        }
        return ProcessStats(pid: pid, cpuSeconds: Double(utime + stime) / ticksPerSecond,
                            rssBytes: rssPages * pageSize, ussBytes: uss, pssBytes: pss, threads: threads)
    }

    private static func kib(_ line: String) -> UInt64 {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, let v = UInt64(parts[1]) else { return 0 }
        return v * 1024
    }

    /// Reads a /proc file (their size is 0 to stat, so read until EOF).
    static func readSmallFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }
}

/// Facts about the machine a run happened on, for the report.
public struct HostInfo: Sendable, Hashable, Codable {
    public var hostname: String
    public var cores: Int
    public var kernel: String
    public var memoryBytes: UInt64

    public static func current() -> HostInfo {
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return HostInfo(
            hostname: field(u.nodename),
            cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
            kernel: "\(field(u.sysname)) \(field(u.release))",
            memoryBytes: UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        )
    }
}

/// The machine's CPU time as `/proc/stat` counts it (clock ticks, all CPUs),
/// for the share a hypervisor gave to other guests ("steal") over a phase.
///
/// On a shared virtual machine steal moves from a few per cent to a third of
/// the time within the hour, and every latency measured meanwhile moves with
/// it: the report gives it beside the figures.
public struct HostCPUTimes: Sendable, Hashable {
    public var steal: UInt64
    public var total: UInt64
    /// Idle and iowait: the time no task ran.
    public var idle: UInt64
    /// `procs_running`: tasks runnable now (on a CPU or waiting for one).
    public var running: Int

    public init(steal: UInt64, total: UInt64, idle: UInt64 = 0, running: Int = 0) {
        self.steal = steal
        self.total = total
        self.idle = idle
        self.running = running
    }

    /// Now, or nil where `/proc/stat` cannot be read.
    public static func read() -> HostCPUTimes? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return parse(text)
    }

    /// The aggregate `cpu` line of `/proc/stat` text: user nice system idle
    /// iowait irq softirq steal [guest guest_nice]. Guest time is already
    /// inside user and nice, so it is not added again.
    public static func parse(_ procStat: String) -> HostCPUTimes? {
        guard let line = procStat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().prefix(8).compactMap { UInt64($0) }
        guard fields.count == 8 else { return nil }
        let running = procStat.split(separator: "\n").first { $0.hasPrefix("procs_running ") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        return HostCPUTimes(steal: fields[7], total: fields.reduce(0, +), idle: fields[3] + fields[4], running: running)
    }

    /// The share of CPU time busy since `earlier` (neither idle nor iowait),
    /// in percent of one CPU: 200 on a two-CPU machine that was never idle.
    public func busyPercent(since earlier: HostCPUTimes, cpus: Int) -> Double {
        guard total > earlier.total, idle >= earlier.idle else { return 0 }
        let busy = Double((total - earlier.total) - min(total - earlier.total, idle - earlier.idle))
        return busy / Double(total - earlier.total) * 100 * Double(cpus)
    }

    /// Steal as a percentage of all CPU time since `earlier` (0 when no time passed).
    public func stealPercent(since earlier: HostCPUTimes) -> Double {
        guard total > earlier.total, steal >= earlier.steal else { return 0 }
        return Double(steal - earlier.steal) / Double(total - earlier.total) * 100
    }
}
