import ClusterCore

/// Samples the nodes' CPU and memory from /proc, a slice of the nodes at a time.
///
/// Every node every 500 ms, spread over the interval in slices (one pass over
/// a hundred /proc entries at once is a burst every reader would feel).
/// USS/PSS come from smaps_rollup, for which the kernel walks the node's page
/// tables (about 0.9 ms of one CPU per read of a 28 MB reader): read on a
/// node's first sample, then once every ``smapsRounds`` rounds (a minute),
/// staggered so that a slice reads at most a tenth of its nodes'. Read for
/// every node in one round every 2 s, they raised the readers' p99
/// (docs/architecture.md). RSS is read every time.
struct ResourceSampler: Sendable {
    /// Slices per round: a node is sampled every `slices` × `interval`.
    static let slices = 10
    /// Between two slices, nanoseconds.
    static let interval: UInt64 = 50_000_000
    /// Sampling rounds (500 ms each) between two USS/PSS reads of a node.
    static let smapsRounds = 120

    private var nextSlice: UInt64 = 0
    private var slice = 0
    private var round = 0

    /// The slice due at `now`, or nil; a slice returned is counted as taken.
    mutating func dueSlice(now: UInt64) -> Int? {
        guard now >= nextSlice else { return nil }
        nextSlice = now + Self.interval
        let due = slice % Self.slices
        if due == 0 { round += 1 }
        slice += 1
        return due
    }

    /// Whether the node at `index` reads USS/PSS in this round: on its first
    /// sample, then every ``smapsRounds`` rounds, its turn offset by its index.
    func readsSmaps(index: Int, smapsRead: Bool) -> Bool {
        !smapsRead || (round + index / Self.slices) % Self.smapsRounds == 0
    }

    /// Samples the nodes of the slice due at `now`, if one is.
    /// - Parameter measureStart: when the measured phase began (monotonic); samples before it are at t = 0.
    mutating func sample(_ nodes: inout NodeTable, now: UInt64, measureStart: UInt64?) {
        guard let slice = dueSlice(now: now) else { return }
        let t = measureStart.map { Double(Int64(now) - Int64($0)) / 1e9 } ?? 0
        for i in nodes.indices where i % Self.slices == slice {
            guard let pid = nodes[position: i].lifecycle.pid else { continue }
            let withSmaps = readsSmaps(index: i, smapsRead: nodes[position: i].telemetry.resources.smapsRead)
            if let s = ProcessStats.read(pid: pid, withSmaps: withSmaps) {
                nodes[position: i].telemetry.resources.add(t: t, stats: s, withSmaps: withSmaps)
            }
        }
    }

    /// A sample from a node's own STATS, for nodes others started (no /proc across hosts).
    static func fromStats(_ s: Clustersim_V1_Stats, into series: inout ResourceSeries, now: UInt64, measureStart: UInt64?) {
        let t = measureStart.map { Double(Int64(now) - Int64($0)) / 1e9 } ?? 0
        series.add(t: t, stats: ProcessStats(pid: 0, cpuSeconds: s.cpuSeconds, rssBytes: s.rssBytes, ussBytes: 0, pssBytes: 0, threads: 0),
                   withSmaps: false)
    }
}
