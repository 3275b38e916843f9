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
