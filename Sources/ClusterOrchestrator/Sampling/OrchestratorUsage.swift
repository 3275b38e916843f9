import ClusterCore
#if canImport(Glibc)
import Glibc
#endif

/// The orchestrator's own CPU over the measured phase, its memory over the
/// whole run, and the host's steal time over the measured phase
/// (`/proc/stat`), for the report's environment.
struct OrchestratorUsage {
    /// Its own samples, every 500 ms like a node's: its growth counts in the memory-growth SLO.
    private(set) var series = ResourceSeries()
    private var nextSample: UInt64 = 0
    /// The host, each second (a few hours' worth at most: 86 400 samples a day).
    private(set) var host: [HostSample] = []
    private var lastHost: HostCPUTimes?
    private static let cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    private var cpuAtStart = 0.0
    private var hostAtStart: HostCPUTimes?
    /// Percent of one core over the measured phase; 0 when it never ran.
    private(set) var cpuPercent = 0.0
    /// Nil when the measured phase never ran or /proc/stat could not be read.
    private(set) var hostStealPercent: Double?

    /// The measured phase begins.
    mutating func measureStarted() {
        cpuAtStart = ProcessStats.read(withSmaps: false)?.cpuSeconds ?? 0
        hostAtStart = HostCPUTimes.read()
    }

    /// The measured phase ended after `seconds` (0: it never began).
    mutating func measureEnded(seconds: Double) {
        let cpu = (ProcessStats.read(withSmaps: false)?.cpuSeconds ?? 0) - cpuAtStart
        cpuPercent = seconds > 0 ? cpu / seconds * 100 : 0
        hostStealPercent = hostAtStart.flatMap { start in HostCPUTimes.read().map { $0.stealPercent(since: start) } }
    }

    /// Samples this process's CPU and memory when 500 ms have passed since the last sample.
    mutating func sample(now: UInt64, measureStart: UInt64?) {
        guard now >= nextSample else { return }
        nextSample = now + 500_000_000
        let t = measureStart.map { Double(Int64(now) - Int64($0)) / 1e9 } ?? 0
        if let s = ProcessStats.read(withSmaps: false) { series.add(t: t, stats: s, withSmaps: false) }
        // The host every other sample: once a second.
        guard series.taken % 2 == 0, let times = HostCPUTimes.read() else { return }
        if let last = lastHost {
            host.append(HostSample(t: t, cpuBusyPercent: (times.busyPercent(since: last, cpus: Self.cpus) * 10).rounded() / 10,
                                   stealPercent: (times.stealPercent(since: last) * 10).rounded() / 10, runQueue: times.running))
        }
        lastHost = times
    }

    /// The peak resident memory of this process so far (`VmHWM` of /proc/self/status), MB;
    /// its current RSS where that cannot be read.
    static func peakRssMB() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kb / 1024
        }
        return Double(ProcessStats.read(withSmaps: false)?.rssBytes ?? 0) / 1_048_576
    }
}
