import ClusterCore

/// The orchestrator's own CPU over the measured phase, and the host's steal
/// time over it (`/proc/stat`), for the report's environment.
struct OrchestratorUsage: Sendable {
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

    /// The orchestrator's resident memory now, MB.
    static func rssMB() -> Double {
        Double(ProcessStats.read(withSmaps: false)?.rssBytes ?? 0) / 1_048_576
    }
}
