import ClusterCore

/// One node's clock probes: the samples its answers gave, and when to probe next.
struct ClockProbes: Sendable {
    /// (orchestrator wall clock when sent, the node's wall clock, orchestrator wall clock when answered).
    var samples: [(sent: UInt64, node: UInt64, received: UInt64)] = []
    /// Probes sent since it registered.
    var sent = 0
    /// When the next probe is due (monotonic); never before it registers.
    var next: UInt64 = .max

    /// Starts over: the node registered (again), perhaps as a new process.
    mutating func restart(now: UInt64) {
        samples = []
        sent = 0
        next = now
    }

    /// Adds a sample from a TimeReply, received at `wallNow`; at most twice
    /// as many as are wanted (a node cannot grow them by answering unasked).
    mutating func answered(_ reply: Clustersim_V1_TimeReply, wallNow: UInt64) {
        guard samples.count < 2 * ClockProber.samplesWanted else { return }
        samples.append((reply.orchestratorWallNs, reply.nodeWallNs, wallNow))
    }
}

/// Decides when each node's wall clock is probed (TimeRequest); the answers
/// give its offset from the orchestrator's (``ClockOffset``).
///
/// Probes go at random moments, not one after each reply: a node answers
/// between its own work, and probes in lockstep with that rhythm would all
/// wait the longest (a reader looks at its control socket every 20 ms).
/// A node gets a few, up to ``samplesWanted`` answers or twice as many probes.
struct ClockProber: Sendable {
    static let samplesWanted = 8
    /// The gaps between probes: 30 ms plus up to 25 ms, seeded so runs repeat.
    private var jitter = SeededRandom(seed: 0xC10C)

    /// The sequence number of the probe due for a node at `now`, or nil; a
    /// probe returned is counted and the next one scheduled.
    mutating func probe(_ probes: inout ClockProbes, now: UInt64) -> UInt64? {
        guard probes.samples.count < Self.samplesWanted, probes.sent < 2 * Self.samplesWanted, now >= probes.next else {
            return nil
        }
        probes.sent += 1
        probes.next = now + 30_000_000 + jitter.below(25_000_000)
        return UInt64(probes.samples.count)
    }
}
