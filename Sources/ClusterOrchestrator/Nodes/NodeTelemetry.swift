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
}

/// A node's final dump: the message, and its metrics decoded.
struct FinalDump: Sendable {
    var message: Clustersim_V1_FinalMetrics
    /// Nil when the metrics JSON did not decode.
    var metrics: NodeMetrics?
}
