import ClusterCore

/// What happened to a node over the whole run, across its restarts.
struct NodeHistory: Sendable {
    /// Every pid it ran as (under the external launcher, the pids its HELLOs gave).
    var pids: [Int32] = []
    /// How each of its processes ended, and whether that was expected.
    var exits: [NodeExit] = []
    /// Restarts by faults (a relaunch after a kill counts too).
    var restarts = 0
    /// Whether it ever said READY.
    var readyEver = false

    /// Whether a process of it ended when nobody expected it to.
    var crashed: Bool { exits.contains { !$0.expected } }
}

/// One end of a node's process.
struct NodeExit: Sendable, Hashable {
    var status: ExitStatus
    /// It had been told to stop, or signalled by a fault, or it exited 0 after its final dump.
    var expected: Bool
}

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
