import ClusterCore

/// One node's resource samples and their summary.
///
/// CPU is a percentage of one core since the previous sample; USS and PSS are
/// read less often than the rest, so a sample repeats the last values read.
struct ResourceSeries {
    var samples: [ResourceSample] = []
    var lastCPU: (t: Double, cpu: Double)?
    var lastMemory: (uss: Double, pss: Double) = (0, 0)
    /// Whether USS/PSS were read at least once (they are read less often than the rest).
    var smapsRead = false

    /// Adds a sample taken `t` seconds into the measured phase; USS/PSS only when `withSmaps` (else the last ones repeat).
    mutating func add(t: Double, stats: ProcessStats, withSmaps: Bool) {
        var cpuPct = 0.0
        if let last = lastCPU, t > last.t { cpuPct = max(0, (stats.cpuSeconds - last.cpu) / (t - last.t) * 100) }
        lastCPU = (t, stats.cpuSeconds)
        if withSmaps {
            lastMemory = (Double(stats.ussBytes) / 1_048_576, Double(stats.pssBytes) / 1_048_576)
            smapsRead = true
        }
        samples.append(ResourceSample(t: t, cpuPercent: (cpuPct * 10).rounded() / 10, rssMB: Double(stats.rssBytes) / 1_048_576,
                                      ussMB: lastMemory.uss, pssMB: lastMemory.pss))
    }

    /// Peaks, means and growth (last minute vs first minute, or last third vs first third of shorter runs).
    func summary() -> ResourceSummary? {
        guard let t0 = samples.first?.t, let t1 = samples.last?.t else { return nil }
        let cpu = samples.dropFirst().map(\.cpuPercent)
        let rss = samples.map(\.rssMB)
        let span = t1 - t0
        let window = span >= 120 ? 60.0 : max(span / 3, 0.5)
        let first = samples.filter { $0.t <= t0 + window }.map(\.rssMB)
        let last = samples.filter { $0.t >= t1 - window }.map(\.rssMB)
        func mean(_ a: [Double]) -> Double { a.isEmpty ? 0 : a.reduce(0, +) / Double(a.count) }
        return ResourceSummary(
            peakCpuPercent: cpu.max() ?? 0, meanCpuPercent: mean(cpu), peakRssMB: rss.max() ?? 0, meanRssMB: mean(rss),
            peakUssMB: samples.map(\.ussMB).max() ?? 0, peakPssMB: samples.map(\.pssMB).max() ?? 0,
            growthMB: mean(last) - mean(first), samples: samples)
    }
}
