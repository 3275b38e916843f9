import ClusterCore

/// A stretch of seconds in which the fast readers' latency jumped well above
/// the run's typical level, with the causes the run measured at that time.
public struct LatencySpike: Sendable, Codable, Hashable {
    /// The first and last second of the stretch (seconds into the measured phase).
    public var fromSeconds: Int
    public var toSeconds: Int
    /// The highest per-second p99 of a fast reader in the stretch, µs.
    public var p99Us: Double
    /// The run's typical per-second p99 (the median over its seconds of the worst fast reader's), µs.
    public var typicalP99Us: Double
    /// Fast readers whose p99 passed the spike threshold in the stretch.
    public var readers: Int
    /// What was measured at the time, one phrase each; `["no visible cause"]` when nothing was.
    public var causes: [String]
    /// Those readers' mean run-queue wait per second in the stretch, ms; nil when they did not report it.
    public var runQueueMs: Double?
    /// The host's busiest second in the stretch, percent of one CPU.
    public var hostCpuPercent: Double?

    public init(fromSeconds: Int, toSeconds: Int, p99Us: Double, typicalP99Us: Double, readers: Int, causes: [String],
                runQueueMs: Double? = nil, hostCpuPercent: Double? = nil) {
        self.fromSeconds = fromSeconds
        self.toSeconds = toSeconds
        self.p99Us = p99Us
        self.typicalP99Us = typicalP99Us
        self.readers = readers
        self.causes = causes
        self.runQueueMs = runQueueMs
        self.hostCpuPercent = hostCpuPercent
    }
}

/// How busy the host was over the measured phase, and what that cost the fast
/// readers: a run on a saturated host measures the host's run queue as much
/// as the design. Spikes are seconds against the run's own level; this says
/// when that level itself is the host's.
public struct HostSaturation: Sendable, Codable, Hashable {
    /// Measured seconds with a host sample, and those with the host at least 90 % busy.
    public var seconds: Int
    public var saturatedSeconds: Int
    /// The median number of runnable tasks over the samples.
    public var medianRunQueue: Double
    /// The fast readers' median run-queue wait per second, ms (the median over readers of each one's median); nil when not reported.
    public var readersRunQueueMs: Double?
    /// The fast readers' median per-second p99, ms.
    public var readersP99Ms: Double?

    public init(seconds: Int, saturatedSeconds: Int, medianRunQueue: Double, readersRunQueueMs: Double?, readersP99Ms: Double?) {
        self.seconds = seconds
        self.saturatedSeconds = saturatedSeconds
        self.medianRunQueue = medianRunQueue
        self.readersRunQueueMs = readersRunQueueMs
        self.readersP99Ms = readersP99Ms
    }

    /// Whether the host was saturated for most of the run.
    public var mostly: Bool { seconds > 0 && saturatedSeconds * 2 > seconds }

    /// One sentence for the summary and the page.
    public var sentence: String {
        var s = "host CPU at 90 % or more of all CPUs in \(saturatedSeconds) of \(seconds) s, "
            + "\(SpikeAttribution.format(medianRunQueue)) runnable tasks (median)"
        if let w = readersRunQueueMs {
            s += "; fast readers waited a median \(SpikeAttribution.format(w)) ms a second for a CPU"
        }
        if let p = readersP99Ms { s += " (their median per-second p99 \(SpikeAttribution.format(p)) ms)" }
        if mostly { s += ": the latency figures measure this host's run queue as much as the design" }
        return s
    }
}

/// Finds the latency spikes of a run and names what it measured at their
/// time: a fault applied then, readers waiting on a run queue, a busy or
/// stolen host, the writer's send call stalling. It states only what was
/// measured; a spike with none of these is said to have no visible cause.
///
/// A second is a spike when the worst fast reader's p99 in it is more than
/// ``factor`` times the run's typical level (the median over the seconds)
/// and at least ``floorUs`` above it: small runs have typical levels of a
/// few hundred microseconds, where a factor alone would flag every blip.
enum SpikeAttribution {
    static let factor = 3.0
    static let floorUs = 10_000.0
    /// A run-queue wait worth naming: this many ms a second, ...
    static let runQueueFloorMs = 10.0
    /// ... and this many times those readers' wait outside the stretch.
    static let runQueueFactor = 2.0
    /// Host CPU worth naming: this share of all its CPUs.
    static let busyShare = 0.9
    static let stealFloorPercent = 5.0
    /// A writer send call worth naming, µs.
    static let sendStallUs = 10_000.0

    /// The spikes of a report, earliest first.
    static func spikes(in r: RunReport) -> [LatencySpike] {
        let fast = r.nodes.filter(\.fast)
        // Per reader and second: its point (the interval that ended nearest that whole second).
        let perReader = fast.map { n in Dictionary(n.series.map { (Int($0.t.rounded()), $0) }, uniquingKeysWith: { a, _ in a }) }
        let seconds = Set(perReader.flatMap(\.keys)).filter { $0 >= 1 }.sorted()
        let worst = seconds.map { k in perReader.compactMap { $0[k]?.p99Us }.max() ?? 0 }
        guard !seconds.isEmpty else { return [] }
        let typical = median(worst)
        let threshold = max(typical * factor, typical + floorUs)
        var spikes: [LatencySpike] = []
        var i = 0
        while i < seconds.count {
            guard worst[i] > threshold else { i += 1; continue }
            var j = i
            while j + 1 < seconds.count, worst[j + 1] > threshold, seconds[j + 1] == seconds[j] + 1 { j += 1 }
            spikes.append(spike(r, seconds: Array(seconds[i...j]), perReader: perReader, peak: worst[i...j].max() ?? 0,
                                typical: typical, threshold: threshold))
            i = j + 1
        }
        return spikes
    }

    private static func spike(_ r: RunReport, seconds: [Int], perReader: [[Int: SeriesPoint]], peak: Double, typical: Double,
                              threshold: Double) -> LatencySpike {
        let (from, to) = (seconds.first!, seconds.last!)
        // The readers that spiked, and their run-queue wait in the stretch against their own typical wait.
        let spiking = perReader.filter { points in seconds.contains { (points[$0]?.p99Us ?? 0) > threshold } }
        let waits = spiking.compactMap { points -> Double? in
            let w = seconds.compactMap { points[$0]?.runQueueMs }
            return w.isEmpty ? nil : w.reduce(0, +) / Double(w.count)
        }
        // Their usual wait: in the seconds outside the stretch.
        let usual = spiking.flatMap { points in points.filter { !seconds.contains($0.key) }.values.compactMap(\.runQueueMs) }
        let wait = waits.isEmpty ? nil : waits.reduce(0, +) / Double(waits.count)
        var causes: [String] = []
        for f in r.faults {
            guard let at = f.appliedAtSeconds, at >= Double(from) - 2, at <= Double(to) else { continue }
            causes.append("\(f.action) \(f.target) at \(format(at)) s")
        }
        if let wait, wait >= runQueueFloorMs, wait >= runQueueFactor * median(usual) {
            causes.append("those readers waited \(format(wait)) ms a second on the run queue (typically \(format(median(usual))) ms)")
        }
        let host = (r.host ?? []).filter { $0.t >= Double(from) - 0.5 && $0.t <= Double(to) + 0.5 }
        let busy = host.map(\.cpuBusyPercent).max()
        let cpus = Double(max(1, r.environment.host.cores))
        if let busy, busy >= busyShare * 100 * cpus {
            causes.append("host CPU \(format(busy)) % of \(Int(cpus * 100)) %, run queue up to \(host.map(\.runQueue).max() ?? 0)")
        }
        if let steal = host.map(\.stealPercent).max(), steal >= stealFloorPercent {
            causes.append("host steal \(format(steal)) %")
        }
        let writer = r.nodes.first { $0.role == .writer }?.series
            .filter { Int($0.t.rounded()) >= from && Int($0.t.rounded()) <= to }.map(\.maxUs).max()
        if let writer, writer >= sendStallUs {
            causes.append("the writer's send call took up to \(format(writer / 1000)) ms")
        }
        return LatencySpike(fromSeconds: from, toSeconds: to, p99Us: peak, typicalP99Us: typical, readers: spiking.count,
                            causes: causes.isEmpty ? ["no visible cause"] : causes, runQueueMs: wait, hostCpuPercent: busy)
    }

    /// The host's saturation over the measured phase; nil without host samples.
    static func saturation(in r: RunReport) -> HostSaturation? {
        let host = (r.host ?? []).filter { $0.t >= 0 && $0.t <= r.durationSeconds + 0.5 }
        guard !host.isEmpty else { return nil }
        let cpus = Double(max(1, r.environment.host.cores))
        let saturated = host.filter { $0.cpuBusyPercent >= busyShare * 100 * cpus }.count
        let fast = r.nodes.filter(\.fast)
        let waits = fast.compactMap { n -> Double? in
            let w = n.series.compactMap(\.runQueueMs)
            return w.isEmpty ? nil : median(w)
        }
        let p99s = fast.compactMap { n -> Double? in n.series.isEmpty ? nil : median(n.series.map(\.p99Us)) / 1000 }
        return HostSaturation(seconds: host.count, saturatedSeconds: saturated, medianRunQueue: median(host.map { Double($0.runQueue) }),
                              readersRunQueueMs: waits.isEmpty ? nil : median(waits), readersP99Ms: p99s.isEmpty ? nil : median(p99s))
    }

    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func format(_ v: Double) -> String {
        v >= 100 ? String(Int(v.rounded())) : v >= 10 ? String(format: "%.1f", v) : String(format: "%.2f", v)
    }
}
