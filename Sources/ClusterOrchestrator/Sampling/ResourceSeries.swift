import ClusterCore

/// One node's resource samples and their summary.
///
/// CPU is a percentage of one core since the previous sample; USS and PSS are
/// read less often than the rest, so a sample repeats the last values read.
///
/// Memory stays bounded however long the run: peaks and means are kept as
/// running figures over every sample, while the series kept for the charts
/// and the growth estimate holds at most ``maxKept`` samples. When it is full
/// every other sample is dropped and from then on only every second one is
/// kept (then every fourth, …): a 30-minute run keeps one sample every 2 s.
struct ResourceSeries {
    /// The most samples kept per node.
    static let maxKept = 1_024

    private(set) var samples: [ResourceSample] = []
    private var lastCPU: (t: Double, cpu: Double)?
    private var lastMemory: (uss: Double, pss: Double) = (0, 0)
    /// Whether USS/PSS were read at least once (they are read less often than the rest).
    private(set) var smapsRead = false
    /// Every `stride`-th sample is kept.
    private var stride = 1
    /// Samples added so far (kept or not).
    private(set) var taken = 0
    private var cpuPeak = 0.0, cpuSum = 0.0, cpuCount = 0
    private var rssPeak = 0.0, rssSum = 0.0
    private var ussPeak = 0.0, pssPeak = 0.0

    /// Adds a sample taken `t` seconds into the measured phase; USS/PSS only when `withSmaps` (else the last ones repeat).
    mutating func add(t: Double, stats: ProcessStats, withSmaps: Bool) {
        var cpuPct = 0.0
        if let last = lastCPU, t > last.t { cpuPct = max(0, (stats.cpuSeconds - last.cpu) / (t - last.t) * 100) }
        let hadCPU = lastCPU != nil
        lastCPU = (t, stats.cpuSeconds)
        if withSmaps {
            lastMemory = (Double(stats.ussBytes) / 1_048_576, Double(stats.pssBytes) / 1_048_576)
            smapsRead = true
        }
        let sample = ResourceSample(t: t, cpuPercent: (cpuPct * 10).rounded() / 10, rssMB: Double(stats.rssBytes) / 1_048_576,
                                    ussMB: lastMemory.uss, pssMB: lastMemory.pss)
        if hadCPU {
            cpuPeak = max(cpuPeak, sample.cpuPercent)
            cpuSum += sample.cpuPercent
            cpuCount += 1
        }
        rssPeak = max(rssPeak, sample.rssMB)
        rssSum += sample.rssMB
        ussPeak = max(ussPeak, sample.ussMB)
        pssPeak = max(pssPeak, sample.pssMB)
        taken += 1
        guard (taken - 1) % stride == 0 else { return }
        samples.append(sample)
        if samples.count >= Self.maxKept {
            samples = samples.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            stride *= 2
        }
    }

    /// Peaks and means over every sample; growth (last minute vs first minute,
    /// or last third vs first third of shorter runs) from the samples kept.
    func summary() -> ResourceSummary? {
        guard let t0 = samples.first?.t, let t1 = samples.last?.t else { return nil }
        let span = t1 - t0
        let window = span >= 120 ? 60.0 : max(span / 3, 0.5)
        let first = samples.filter { $0.t <= t0 + window }.map(\.rssMB)
        let last = samples.filter { $0.t >= t1 - window }.map(\.rssMB)
        func mean(_ a: [Double]) -> Double { a.isEmpty ? 0 : a.reduce(0, +) / Double(a.count) }
        return ResourceSummary(
            peakCpuPercent: cpuPeak, meanCpuPercent: cpuCount > 0 ? cpuSum / Double(cpuCount) : 0, peakRssMB: rssPeak,
            meanRssMB: rssSum / Double(taken), peakUssMB: ussPeak, peakPssMB: pssPeak,
            growthMB: mean(last) - mean(first), samples: samples)
    }
}
