import ClusterCore

/// What a node reported, and what was measured of it, over the run.
struct NodeTelemetry: Sendable {
    /// CPU and memory samples (from /proc, or from its STATS when others started it).
    var resources = ResourceSeries()
    /// The probes of its wall clock and their answers.
    var clock = ClockProbes()
    /// Its latest STATS.
    var lastStats: Clustersim_V1_Stats?
    /// Its final dump (of the last incarnation that sent one).
    var final: FinalDump?
    /// A writer's published count in each epoch (one epoch per incarnation): the
    /// largest its STATS or final dump gave. A killed incarnation's is its last
    /// STATS', at most a second old.
    var publishedByEpoch: [UInt64: UInt64] = [:]

    /// Takes a writer's count of what it published in `epoch`.
    mutating func published(_ count: UInt64, inEpoch epoch: UInt64) {
        guard epoch != 0 else { return }
        publishedByEpoch[epoch] = max(publishedByEpoch[epoch] ?? 0, count)
    }
}

/// A node's final dump: the message, and its metrics decoded.
struct FinalDump: Sendable {
    var message: Clustersim_V1_FinalMetrics
    /// Nil when the metrics JSON did not decode.
    var metrics: NodeMetrics?
}
